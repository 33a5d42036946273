"""pytest glue for checklist scenarios: one test per checklist row, Allure evidence, and the
markdown verification report (000 §7.4 filled in) written once per run, complete under xdist.

Logic lives in ``checks/`` (rows, checks, the report table); this module only wires it into pytest
and Allure. Each row's metadata travels in ``item.user_properties``, which xdist ships with every
test report to the controller, so the controller sees every row whichever worker ran it.

What was *planned* travels the same way: every checklist item also carries the run's plan (which
checklist test functions were collected, for which procedure, and which rows -k/-m deselected), and
the controller also reads xdist's collection lists, so it knows the planned rows before the first
result arrives. A run that did not run every planned row (interrupted, -x/--maxfail, a crashed
worker, -k/-m) is INCOMPLETE and never reads PASS.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlparse

import allure
import pytest

from harness.checks import verification_report
from harness.checks.catalogue import PROCEDURES, RUNBOOKS, PlannedRow, feature_of, rows_for
from harness.checks.context import CheckContext
from harness.checks.result import CheckResult, Verdict
from harness.checks.runner import run_row
from harness.inventory.model import Environment
from harness.pytest_plugin.harness_plugin import harness_state
from harness.targets.base import Target

ROW_PROP = "checklist_row"
RESULT_PROP = "checklist_result"
PLAN_PROP = "checklist_plan"
EXTRA_ROWS_PROP = "checklist_rows"  # rows verified inside one test after an action (plugins/actions.py)
NOT_RUN = "notrun"  # a planned row without an outcome
WARN_CATEGORY = "Not measurable / warnings"
CATEGORIES = [
    # WARN passes (Allure "passed") with "WARN: <why>" as its message: not green, not a finding either.
    {"name": WARN_CATEGORY, "matchedStatuses": ["passed"], "messageRegex": "WARN:.*"},
    # A FAIL verdict is an assertion failure (Allure "failed"): something in the account is wrong.
    {"name": "Infrastructure findings", "matchedStatuses": ["failed"]},
    # Anything else raised (Allure "broken"): the harness could not read the row.
    {"name": "Harness errors", "matchedStatuses": ["broken"]},
    # The "Verification report" result of a run that did not run every planned row.
    {"name": "Incomplete runs", "matchedStatuses": ["unknown"], "messageRegex": "INCOMPLETE.*"},
]
PLAN = pytest.StashKey[dict[str, Any]]()
ROW_RESULT = pytest.StashKey[CheckResult]()


class CheckHarnessError(RuntimeError):
    """A row could not be evaluated (permissions, emulator gap, harness bug): not a finding."""


class RowFailed(AssertionError):
    """Raised inside a row's Allure step so the step is "failed" (the row's verdict is FAIL)."""


class RowBroken(Exception):
    """Raised inside a row's Allure step so the step is "broken" (the row's verdict is ERROR)."""


# -- options --------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("runbook-harness")
    group.addoption(
        "--expect-version",
        action="append",
        default=[],
        metavar="FN=VER",
        help="the version (number or release label) FN's alias must point to after a rollback; repeat per function",
    )
    group.addoption(
        "--api-base-url",
        default=os.environ.get("HARNESS_API_BASE_URL"),
        help="base URL for the api-* checks instead of the target's (Env: HARNESS_API_BASE_URL)",
    )


def expect_versions(config: pytest.Config) -> dict[str, str]:
    """``--expect-version fn=VER`` options as a dict; a malformed one is a usage error."""
    out = {}
    for text in config.getoption("--expect-version") or []:
        fn, sep, ver = text.partition("=")
        if not sep or not fn.strip() or not ver.strip():
            raise pytest.UsageError(
                f"--expect-version {text!r}: expected FUNCTION=VERSION (e.g. bbws-tenant-instance-management-sit=7)"
            )
        out[fn.strip()] = ver.strip()
    return out


def check_expect_versions(config: pytest.Config, env: Environment) -> dict[str, str]:
    """``expect_versions`` whose functions the inventory names for ``env`` (or discovers by prefix).

    A typo must never turn the version check off silently (the row would fall back to the rollback
    record and pass): an unknown function is a usage error naming the valid ones.
    """
    wanted = expect_versions(config)
    names = [f.name for f in env.functions]
    prefixes = [d.prefix for d in env.discovery]
    for fn, ver in wanted.items():
        if fn in names or any(fn.startswith(p) for p in prefixes):
            continue
        close = difflib.get_close_matches(fn, names + prefixes, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        known = ", ".join(names + [f"{p}*" for p in prefixes]) or "none"
        raise pytest.UsageError(
            f"--expect-version {fn}={ver}: no function {fn!r} in {env.inventory}/{env.name}{hint} (known: {known})"
        )
    return wanted


def check_api_base_url(config: pytest.Config) -> None:
    """--api-base-url (or HARNESS_API_BASE_URL) must be an http(s) URL."""
    url = config.getoption("--api-base-url")
    if url is None:
        return
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        given = any(a == "--api-base-url" or a.startswith("--api-base-url=") for a in config.invocation_params.args)
        source = "--api-base-url" if given else "HARNESS_API_BASE_URL"
        hint = f"; did you mean http://{url}?" if "://" not in url and url else ""
        raise pytest.UsageError(f"{source} {url!r}: not an http(s) URL{hint}")


def pytest_harness_validate_options(config: pytest.Config, env: Environment, target_name: str) -> None:
    """--expect-version and --api-base-url, before the target starts (no seeding spent on a typo)."""
    check_expect_versions(config, env)
    check_api_base_url(config)


def api_base_url(config: pytest.Config, target: Target) -> str | None:
    """Where the api-* checks send HTTP: the option, else the target's own front (None on an emulator
    without one: a rehearsal never calls the real hostname)."""
    return config.getoption("--api-base-url") or target.api_base_url


# -- parametrization ------------------------------------------------------------------------------


class RowKey(str):
    """The ``row`` parameter: ``"<slug> on <resource>"``, carrying the planned row.

    A string, so Allure shows a readable parameter and derives a stable history id from it (a
    PlannedRow's repr holds function addresses that change every run); the ``row`` fixture hands the
    test the PlannedRow itself.
    """

    planned: PlannedRow

    def __new__(cls, planned: PlannedRow) -> "RowKey":
        key = super().__new__(cls, f"{planned.spec.slug} on {planned.row.resource}")
        key.planned = planned
        return key


def _plan(config: pytest.Config) -> dict[str, Any]:
    return config.stash.setdefault(PLAN, {"definitions": {}, "deselected": []})


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@pytest.mark.checklist("post-rollback")``: parametrize ``row`` with the procedure's rows for --env."""
    marker = metafunc.definition.get_closest_marker("checklist")
    if marker is None or "row" not in metafunc.fixturenames:
        return
    procedure = marker.args[0] if marker.args else marker.kwargs.get("procedure")
    if procedure not in PROCEDURES:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: checklist marker needs one of {', '.join(PROCEDURES)}, got {procedure!r}"
        )
    env = harness_state(metafunc.config).env
    rows = rows_for(env, procedure) if env is not None else []
    _plan(metafunc.config)["definitions"][metafunc.definition.nodeid] = procedure
    if env is not None and not rows:  # e.g. a propie checklist with --inventory bbws: say so, not "empty parameter set"
        why = (
            f"no {procedure} rows for {env.inventory}/{env.name}: the inventory names none of what this checklist "
            "checks"
        )
        metafunc.parametrize(
            "row", [pytest.param(None, marks=pytest.mark.skip(reason=why))], ids=["no-rows"], indirect=True
        )
        return
    metafunc.parametrize("row", [RowKey(r) for r in rows], ids=[r.id for r in rows], indirect=True)


@pytest.fixture
def row(request: pytest.FixtureRequest) -> PlannedRow:
    """The checklist row this test verifies (``@pytest.mark.checklist(procedure)`` parametrizes it)."""
    key = getattr(request, "param", None)
    if not isinstance(key, RowKey):
        pytest.fail("the `row` fixture comes from @pytest.mark.checklist(procedure) (and --env)", pytrace=False)
    env = harness_state(request.config).env
    if env is not None:  # part of the Allure history id, with the row: inventory, env, slug, resource
        allure.dynamic.parameter("env", f"{env.inventory}/{env.name}")
    return key.planned


def _planned_of(item: pytest.Item) -> PlannedRow | None:
    key = getattr(getattr(item, "callspec", None), "params", {}).get("row")
    return key.planned if isinstance(key, RowKey) else None


def _row_meta(planned: PlannedRow) -> dict[str, Any]:
    spec = planned.spec
    return {
        "slug": spec.slug,
        "resource": planned.row.resource,
        "procedure": spec.procedure,
        "check": spec.title,
        "ref": spec.ref,
        "expected": spec.passes_when,
        "severity": spec.severity,
    }


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        planned = _planned_of(item)
        if planned is not None:
            item.user_properties.append((ROW_PROP, json.dumps(_row_meta(planned))))


def pytest_deselected(items: list[pytest.Item]) -> None:
    for item in items:
        if _planned_of(item) is not None:
            _plan(item.config)["deselected"].append(item.nodeid)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Every selected checklist item carries the plan, so the xdist controller learns it with any result."""
    plan = _plan(session.config)
    if not plan["definitions"]:
        return
    text = json.dumps(plan)
    for item in session.items:
        if _planned_of(item) is not None:
            item.user_properties.append((PLAN_PROP, text))
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput[PLAN_PROP] = text  # type: ignore[attr-defined]


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def checklist_context(pytestconfig: pytest.Config, target: Target) -> CheckContext:
    """The read-only checklist's context (per xdist worker): one "now", batched metrics and ECS reads.

    After an action or a fault, verify with ``checklist_context.fresh()``: current state, "now" read
    again from the target's clock.
    """
    return CheckContext.for_target(
        target, expect_versions=expect_versions(pytestconfig), api_base_url=api_base_url(pytestconfig, target)
    )


@pytest.fixture
def checklist(request: pytest.FixtureRequest, checklist_context: CheckContext, env: Environment) -> "Checklist":
    """Runs a row as this test: Allure labels, steps and attachments, then the verdict as the outcome."""
    return Checklist(request.node, checklist_context, env)


def _verdict_exception(result: CheckResult) -> BaseException | None:
    """What to raise inside the row's step so Allure gives the step the row's status."""
    if result.verdict is Verdict.FAIL:
        return RowFailed(result.message())
    if result.verdict is Verdict.ERROR:
        return RowBroken(result.message())
    if result.verdict is Verdict.SKIP:
        return pytest.skip.Exception(result.message())
    return None


class Checklist:
    """Evaluates one planned row inside the current test."""

    def __init__(self, node: pytest.Item, ctx: CheckContext, env: Environment) -> None:
        self.node, self.ctx, self.env = node, ctx, env

    def verify(self, planned: PlannedRow) -> CheckResult:
        """Run the row; FAIL fails the test, ERROR breaks it, SKIP skips it, PASS/WARN pass."""
        spec = planned.spec
        allure.dynamic.epic(spec.runbook)
        allure.dynamic.feature(feature_of(spec, self.env))
        allure.dynamic.story(spec.slug)
        allure.dynamic.severity(getattr(allure.severity_level, spec.severity.upper()))
        allure.dynamic.title(f"{spec.title}: {planned.row.resource}")
        allure.dynamic.description(f"{spec.ref}. Passes when: {spec.passes_when}.")
        allure.dynamic.tag(self.env.name)
        allure.dynamic.label("resource", planned.row.resource)

        result = run_row(self.ctx, planned)
        self.node.stash[ROW_RESULT] = result

        allure.dynamic.label("verdict", result.verdict.value)
        if result.verdict is Verdict.WARN:
            allure.dynamic.title(f"{spec.title}: {planned.row.resource} (WARN)")
            allure.dynamic.tag("WARN")
        try:
            # The step's status is the row's: a FAIL row is a failed step, an ERROR row a broken one.
            with allure.step(f"{spec.slug} on {planned.row.resource}: {result.verdict.value.upper()}"):
                for call in result.calls:
                    with allure.step(call):
                        pass
                if not result.calls and result.verdict is not Verdict.SKIP:
                    with allure.step("no AWS call of its own: values from the run's batched reads (see observed)"):
                        pass
                url = result.evidence.get("url")
                if url:
                    with allure.step(
                        f"http.GET {url} -> {result.evidence.get('status', result.evidence.get('error'))}"
                    ):
                        pass
                raised = _verdict_exception(result)
                if raised is not None:
                    raise raised
        except (RowFailed, RowBroken, pytest.skip.Exception):
            pass
        allure.attach(
            json.dumps(result.to_dict(), indent=2, default=str),
            name="observed",
            attachment_type=allure.attachment_type.JSON,
        )
        self.node.user_properties.append((RESULT_PROP, json.dumps(_result_fields(result), default=str)))

        if result.verdict is Verdict.FAIL:
            pytest.fail(result.message(), pytrace=False)
        if result.verdict is Verdict.ERROR:
            if result.evidence.get("traceback"):
                allure.attach(
                    result.evidence["traceback"], name="traceback", attachment_type=allure.attachment_type.TEXT
                )
            raise CheckHarnessError(result.message())
        if result.verdict is Verdict.SKIP:
            pytest.skip(result.message())
        return result


def _result_fields(result: CheckResult) -> dict[str, Any]:
    return {
        "expected": result.expected,
        "observed": result.observed,
        "verdict": result.verdict.value,
        "ref": result.ref,
        "calls": len(result.calls),
        "window": getattr(result, "window", ""),
        "throttled_retries": int(result.evidence.get("throttled_retries", 0) or 0),
    }


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """A WARN row passed: give its Allure result the message "WARN: <observed>" (category "Not measurable /
    warnings")."""
    result = item.stash.get(ROW_RESULT, None)
    if result is None or result.verdict is not Verdict.WARN:
        return
    current = _allure_test_result(item.config)
    if current is None:
        return
    from allure_commons.model2 import Status, StatusDetails

    if current.status in (None, Status.PASSED):
        current.statusDetails = StatusDetails(message=f"WARN: {result.observed}")


def _allure_test_result(config: pytest.Config) -> Any:
    """The Allure result of the running test (allure-pytest's listener), or None without --alluredir."""
    listener = config.pluginmanager.get_plugin("allure_listener")
    logger = getattr(listener, "allure_logger", None)
    return logger.get_test(None) if logger is not None else None


# -- the report (controller only) ------------------------------------------------------------------


def _definition(nodeid: str) -> str:
    return nodeid.split("[", 1)[0]


class ReportCollector:
    """Gathers every checklist row from test reports (local or from xdist workers) and writes the run's report."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rows: dict[str, dict[str, Any]] = {}  # nodeid -> row (planned checklist rows)
        self.extra: dict[str, list[dict[str, Any]]] = {}  # nodeid -> rows verified inside that test
        self.definitions: dict[str, str] = {}  # checklist test function nodeid -> procedure (from the plan)
        self.collected: dict[str, str] = {}  # the same, guessed from xdist collection ids (used when no plan came)
        self.deselected: set[str] = set()
        self.started = datetime.now(timezone.utc)
        self.report_path: Path | None = None
        self.summary: dict[str, Any] = {}
        self.interrupted: str | None = None  # why the session was interrupted (Ctrl-C, xdist's -x)

    # -- what was planned: the local collection, xdist collection lists, every result's plan --------
    def _merge_plan(self, text_or_plan: str | dict[str, Any] | None) -> None:
        if not text_or_plan:
            return
        plan = json.loads(text_or_plan) if isinstance(text_or_plan, str) else text_or_plan
        self.definitions.update(plan.get("definitions", {}))
        self.deselected.update(plan.get("deselected", []))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """A worker's collection (before any result): the checklist test functions, from their row ids.

        Only a fallback for a session stopped before any result or worker output brought the plan."""
        env = harness_state(self.config).env
        if env is None:
            return
        procedure_of = {p.id: p.spec.procedure for p in rows_for(env)}
        for nodeid in ids:
            if "[" in nodeid and nodeid.endswith("]"):
                procedure = procedure_of.get(nodeid.split("[", 1)[1][:-1])
                if procedure is not None:
                    self.collected.setdefault(_definition(nodeid), procedure)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.interrupted = str(excinfo.value).strip() or "Ctrl-C"

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        self._merge_plan(getattr(node, "workeroutput", {}).get(PLAN_PROP))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        self._merge_plan(props.get(PLAN_PROP))
        if EXTRA_ROWS_PROP in props:
            self.extra[report.nodeid] = [
                r for text in (v for k, v in report.user_properties if k == EXTRA_ROWS_PROP) for r in json.loads(text)
            ]
        if ROW_PROP not in props:
            if report.nodeid in self.rows and report.when not in ("setup", "call", "teardown") and report.failed:
                # xdist: the worker died while running this row; no verdict came back
                self.rows[report.nodeid]["observed"] = f"not run: {report.longreprtext.strip() or 'worker crashed'}"
            return
        row = self.rows.setdefault(
            report.nodeid,
            {**json.loads(props[ROW_PROP]), "verdict": NOT_RUN, "observed": "not run", "nodeid": report.nodeid},
        )
        if RESULT_PROP in props:
            row.update(json.loads(props[RESULT_PROP]))
        elif report.when in ("setup", "call") and report.failed:
            last = (report.longreprtext or "").strip().splitlines()
            row.update(verdict="error", observed=f"harness error in {report.when}: {last[-1] if last else 'unknown'}")
        elif report.when in ("setup", "call") and report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            row.update(verdict="skip", observed=reason)

    # -- the outcome --------------------------------------------------------------------------------
    def _planned(self, env: Environment) -> dict[tuple[str, str, str], dict[str, Any]]:
        """Every planned row, keyed (test function, slug, resource)."""
        self._merge_plan(self.config.stash.get(PLAN, None))  # a serial run collected here
        planned: dict[tuple[str, str, str], dict[str, Any]] = {}
        for definition, procedure in (self.definitions or self.collected).items():
            for p in rows_for(env, procedure):
                nodeid = f"{definition}[{p.id}]"
                planned[(definition, p.spec.slug, p.row.resource)] = {
                    **_row_meta(p),
                    "verdict": NOT_RUN,
                    "observed": "not run",
                    "nodeid": nodeid,
                }
        for row in self.rows.values():  # whatever ran is planned too (e.g. a function with another parametrization)
            planned.setdefault((_definition(row["nodeid"]), row["slug"], row["resource"]), row)
        return planned

    def _why_stopped(self, session: pytest.Session | None, exitstatus: int) -> str:
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            return (
                f"interrupted: {self.interrupted}"
                if self.interrupted and self.interrupted != "Ctrl-C"
                else "interrupted"
            )
        shouldfail = getattr(session, "shouldfail", False)
        if shouldfail:
            return f"{shouldfail} (-x/--maxfail)" if isinstance(shouldfail, str) else "stopped early (-x/--maxfail)"
        return "not reached: the session stopped early or a worker crashed"

    def outcome(
        self, env: Environment, exitstatus: int, session: pytest.Session | None = None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        """(checklist rows that ran, planned rows that did not, summary: planned/ran/not run/result/run line).

        Rows verified inside a test after an action (``self.extra``) count towards the result, not
        towards what was planned."""
        planned = self._planned(env)
        by_key = {(_definition(r["nodeid"]), r["slug"], r["resource"]): r for r in self.rows.values()}
        ran, not_run = [], []
        for key, meta in planned.items():
            row = by_key.get(key)
            if row is not None and row["verdict"] != NOT_RUN:
                ran.append(row)
                continue
            missing = dict(row or meta)
            if missing["nodeid"] in self.deselected:
                missing["observed"] = "deselected (-k / -m)"
            elif missing.get("observed", "not run") == "not run":
                missing["observed"] = f"not run ({self._why_stopped(session, exitstatus)})"
            not_run.append(missing)
        extra = [r for rows in self.extra.values() for r in rows]
        verdict = verification_report.overall(ran + extra)
        complete = not not_run
        deselected = sum(1 for r in not_run if r["nodeid"] in self.deselected)
        counts = f"{len(ran)} of {len(planned)} planned rows ran"
        if not complete:
            ended = self._why_stopped(session, exitstatus)
            reasons = [(deselected, "deselected by -k/-m"), (len(not_run) - deselected, ended)]
            reasons = [(n, why) for n, why in reasons if n]
            if len(reasons) == 1:
                counts += f", {len(not_run)} not run ({reasons[0][1]})"
            else:
                counts += f", {len(not_run)} not run ({', '.join(f'{n} {why}' for n, why in reasons)})"
        result = verdict if complete or verdict == "FAIL" else "INCOMPLETE"
        summary = {
            "planned": len(planned),
            "ran": len(ran),
            "not_run": len(not_run),
            "complete": complete,
            "result": result,
            "counts": counts,
            "run": f"{'COMPLETE' if complete else 'INCOMPLETE'}: {counts}",
            "after_actions": len(extra),
        }
        return ran, not_run, summary

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self.config, "workerinput"):
            return  # workers' rows reach the controller through their reports
        state = harness_state(self.config)
        if state.env is None or state.reports_dir is None:
            return
        rows, not_run, summary = self.outcome(state.env, int(session.exitstatus), session)
        has_rows = bool(summary["planned"] or rows or self.extra)
        env_props = environment_properties(self.config)
        if has_rows:
            env_props.update(result=summary["result"], checklist=summary["run"])
            self.summary = summary
            state.checklist = summary
        allure_dir = getattr(self.config.option, "allure_report_dir", None)
        if allure_dir:
            write_allure_environment(Path(allure_dir), env_props)
        if not has_rows:
            return
        header = {
            "title": f"{state.env.inventory}/{state.env.name}",
            **environment_properties(self.config),
            "started": (state.started or self.started).isoformat(timespec="seconds"),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "run": summary["run"],
            "throttled and retried": throttled_text(rows + [r for rs in self.extra.values() for r in rs]),
        }
        titles = {k: f"{RUNBOOKS[r]} {s}" for k, (r, s) in PROCEDURES.items()}
        markdown = render_report(rows, not_run, header, titles, summary, self.extra)
        started = state.started or self.started
        stamp = started.strftime("%Y%m%dT%H%M%SZ")
        self.report_path = state.reports_dir / f"verification-{state.env.inventory}-{state.env.name}-{stamp}.md"
        state.reports_dir.mkdir(parents=True, exist_ok=True)
        self.report_path.write_text(markdown, encoding="utf-8")
        if allure_dir:
            extra = [r for rows_of_test in self.extra.values() for r in rows_of_test]
            attach_report_to_allure(Path(allure_dir), markdown, rows + extra, state.env, started, summary)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.summary:
            return
        warned = [r for r in self.rows.values() if r.get("verdict") == "warn"]
        warned += [r for rows in self.extra.values() for r in rows if r.get("verdict") == "warn"]
        if warned:
            terminalreporter.write_sep(
                "=", f"checklist: {len(warned)} WARN (passed, not measurable or worth a look)", yellow=True
            )
            for r in sorted(warned, key=lambda r: (r["slug"], r["resource"])):
                terminalreporter.write_line(f"WARN {r['slug']} {r['resource']}: {r.get('observed', '')}")
        s = self.summary
        where = self.report_path.name if self.report_path is not None else "not written"
        state = harness_state(self.config)
        if self.report_path is not None and state.reports_dir is not None:
            where = str(self.report_path)
        outcome = s["run"] if s["result"] == "INCOMPLETE" else f"{s['result']}; {s['run']}"
        line = f"verification report: {where} ({outcome})"
        terminalreporter.write_line(
            line, red=s["result"] in ("FAIL", "INCOMPLETE"), yellow=s["result"] == "WARN", green=s["result"] == "PASS"
        )


def throttled_text(rows: Iterable[dict[str, Any]]) -> str:
    """The header line on API quotas: how many throttled calls botocore retried, and in how many rows."""
    counts = [int(r.get("throttled_retries") or 0) for r in rows]
    total, affected = sum(counts), sum(1 for c in counts if c)
    return f"{total} calls" + (
        f" in {affected} rows (adaptive retries; none failed a row unless it is ERROR)" if total else ""
    )


def render_report(
    rows: list[dict[str, Any]],
    not_run: list[dict[str, Any]],
    header: dict[str, Any],
    titles: dict[str, str],
    summary: dict[str, Any],
    after_actions: dict[str, list[dict[str, Any]]] | None = None,
) -> str:
    """The verification report: the checklist tables (``checks.verification_report.render``), then the rows
    not run and the rows verified after actions. The result line covers all of them: an incomplete run
    says INCOMPLETE (never PASS), a failed row after an action makes it FAIL."""
    after_actions = {k: v for k, v in (after_actions or {}).items() if v}
    markdown = verification_report.render(rows, header, titles)
    if summary["complete"] and not after_actions:
        return markdown
    label = verification_report.LABEL
    extra = [r for v in after_actions.values() for r in v]

    def counts(of: list[dict[str, Any]]) -> str:
        return (
            ", ".join(
                f"{sum(1 for r in of if r.get('verdict') == v)} {label[v]}"
                for v in verification_report.ORDER
                if any(r.get("verdict") == v for r in of)
            )
            or "none"
        )

    detail = f"{summary['counts']}: {counts(rows)}"
    if extra:
        detail += f"; {len(extra)} rows verified after actions: {counts(extra)}"
    lines = markdown.split("\n")
    result_line = f"- **result**: {summary['result']} ({detail})"
    for i, line in enumerate(lines):
        if line.startswith("- **result**:"):
            lines[i] = result_line
            break
    else:
        at = next((i for i, line in enumerate(lines) if line.startswith("## ")), len(lines))
        lines[at:at] = [result_line, ""]
    if not_run:
        lines += [
            f"## Not run ({len(not_run)} of {summary['planned']} planned rows)",
            "",
            "| Check | Resource | Why |",
            "|---|---|---|",
        ]
        for r in sorted(not_run, key=lambda r: (str(r.get("procedure")), str(r.get("slug")), str(r.get("resource")))):
            lines.append(
                f"| {_cell(r.get('check') or r.get('slug'))} (`{_cell(r.get('slug'))}`) | {_cell(r.get('resource'))} "
                f"| {_cell(r.get('observed'))} |"
            )
        lines.append("")
    if after_actions:
        lines += [f"## Verified after actions ({len(extra)} rows in {len(after_actions)} tests)", ""]
        for nodeid, verified in after_actions.items():
            phases = sorted({str(r.get("phase") or "verification") for r in verified})
            lines += [
                f"### `{nodeid}` ({', '.join(phases)})",
                "",
                "| Check | Resource | Expected | Observed | Result | Ref |",
                "|---|---|---|---|---|---|",
            ]
            for r in verification_report.sort_rows(verified):
                verdict = label.get(str(r.get("verdict")), str(r.get("verdict")).upper())
                lines.append(
                    f"| {_cell(r.get('check') or r.get('slug'))} (`{_cell(r.get('slug'))}`) | "
                    f"{_cell(r.get('resource'))} | "
                    f"{_cell(r.get('expected'))} | {_cell(r.get('observed'))} | **{verdict}** | {_cell(r.get('ref'))} |"
                )
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _cell(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ").strip()


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("runbook-harness-report"):
        config.pluginmanager.register(ReportCollector(config), "runbook-harness-report")


def environment_properties(config: pytest.Config) -> dict[str, str]:
    """inventory, env, account, region, target, emulator version, harness version."""
    state = harness_state(config)
    env = state.env
    assert env is not None
    described = state.target or state.described
    emulator = described.emulator() if described is not None else "unknown"
    try:
        version = importlib.metadata.version("runbook-harness")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return {
        "inventory": env.inventory,
        "env": env.name,
        "account": env.account,
        "region": env.region,
        "target": state.target_name,
        "emulator": emulator,
        "harness": version,
    }


def write_allure_environment(allure_dir: Path, props: dict[str, str]) -> None:
    """environment.properties and categories.json (Allure 2 readers; Allure 3 reads allurerc.mjs)."""
    allure_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"{k}={str(v).replace(chr(10), ' ')}" for k, v in props.items()]
    (allure_dir / "environment.properties").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (allure_dir / "categories.json").write_text(json.dumps(CATEGORIES, indent=2) + "\n", encoding="utf-8")


def attach_report_to_allure(
    allure_dir: Path,
    markdown: str,
    rows: Iterable[dict[str, Any]],
    env: Environment,
    started: datetime,
    summary: dict[str, Any] | None = None,
) -> None:
    """One Allure result, "Verification report", carrying the markdown report as an attachment.

    Failed when a row failed or errored; "unknown" (category "Incomplete runs") when the run did not run
    every planned row; passed otherwise.
    """
    from allure_commons.logger import AllureFileLogger
    from allure_commons.model2 import Attachment, Label, Status, StatusDetails, TestResult
    from allure_commons.utils import uuid4

    rows = list(rows)
    summary = summary or {"result": verification_report.overall(rows), "run": f"{len(rows)} rows", "complete": True}
    logger = AllureFileLogger(str(allure_dir))
    source = f"{uuid4()}-attachment.md"
    logger.report_attached_data(body=markdown, file_name=source)
    failing = [r for r in rows if r.get("verdict") in ("fail", "error")]
    name = f"Verification report {env.inventory}/{env.name}: {summary['result']} ({len(rows)} rows)"
    messages = [] if summary["complete"] else [summary["run"]]
    messages += [f"{r['slug']} {r['resource']}: {r['observed']}" for r in failing[:20]]
    status = Status.FAILED if failing else (Status.UNKNOWN if not summary["complete"] else Status.PASSED)
    result = TestResult(
        uuid=uuid4(),
        historyId=f"verification-report-{env.inventory}-{env.name}",
        testCaseId=f"verification-report-{env.inventory}-{env.name}",
        name=name,
        fullName=name,
        status=status,
        statusDetails=StatusDetails(message="\n".join(messages)) if messages else None,
        start=int(started.timestamp() * 1000),
        stop=int(datetime.now(timezone.utc).timestamp() * 1000),
        labels=[
            Label(name="epic", value="Verification report"),
            Label(name="feature", value=f"{env.inventory}/{env.name}"),
            Label(name="severity", value="normal"),
            Label(name="verdict", value=summary["result"].lower()),
        ],
        attachments=[Attachment(name="verification report (markdown)", source=source, type="text/markdown")],
    )
    logger.report_result(result)
