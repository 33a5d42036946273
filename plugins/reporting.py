"""pytest glue for checklist scenarios: one test per checklist row, Allure evidence, and the
markdown verification report (000 §7.4 filled in) written once per run, complete under xdist.

Logic lives in ``checks/`` (rows, checks, the report table); this module only wires it into pytest
and Allure. Each row's metadata travels in ``item.user_properties``, which xdist ships with every
test report to the controller, so the controller sees every row whichever worker ran it.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import allure
import pytest

from checks import verification_report
from checks.catalogue import PROCEDURES, RUNBOOKS, PlannedRow, feature_of, rows_for
from checks.context import CheckContext
from checks.result import CheckResult, Verdict
from checks.runner import run_row
from harness.inventory.model import Environment
from harness.targets.base import Target
from plugins.harness_plugin import harness_state

ROW_PROP = "checklist_row"
RESULT_PROP = "checklist_result"
CATEGORIES = [
    # A FAIL verdict is an assertion failure (Allure "failed"): something in the account is wrong.
    {"name": "Infrastructure findings", "matchedStatuses": ["failed"]},
    # Anything else raised (Allure "broken"): the harness could not read the row.
    {"name": "Harness errors", "matchedStatuses": ["broken"]},
]


class CheckHarnessError(RuntimeError):
    """A row could not be evaluated (permissions, emulator gap, harness bug): not a finding."""


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
            raise pytest.UsageError(f"--expect-version {text!r}: expected FUNCTION=VERSION (e.g. bbws-tenant-instance-management-sit=7)")
        out[fn.strip()] = ver.strip()
    return out


def api_base_url(config: pytest.Config, target: Target) -> str | None:
    """Where the api-* checks send HTTP: the option, else the target's own front (None on an emulator
    without one: a rehearsal never calls the real hostname)."""
    return config.getoption("--api-base-url") or target.api_base_url


# -- parametrization ------------------------------------------------------------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@pytest.mark.checklist("post-rollback")``: parametrize ``row`` with the procedure's rows for --env."""
    marker = metafunc.definition.get_closest_marker("checklist")
    if marker is None or "row" not in metafunc.fixturenames:
        return
    procedure = marker.args[0] if marker.args else marker.kwargs.get("procedure")
    if procedure not in PROCEDURES:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: checklist marker needs one of {', '.join(PROCEDURES)}, got {procedure!r}")
    env = harness_state(metafunc.config).env
    rows = rows_for(env, procedure) if env is not None else []
    metafunc.parametrize("row", rows, ids=[r.id for r in rows])


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
        params = getattr(getattr(item, "callspec", None), "params", {})
        planned = params.get("row")
        if isinstance(planned, PlannedRow):
            item.user_properties.append((ROW_PROP, json.dumps(_row_meta(planned))))


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def checklist_context(pytestconfig: pytest.Config, target: Target) -> CheckContext:
    """The read-only checklist's context (per xdist worker): one "now", batched metrics and ECS reads.

    After an action or a fault, verify with ``checklist_context.fresh()``: current state, "now" read
    again from the target's clock.
    """
    return CheckContext.for_target(target, expect_versions=expect_versions(pytestconfig), api_base_url=api_base_url(pytestconfig, target))


@pytest.fixture
def checklist(request: pytest.FixtureRequest, checklist_context: CheckContext, env: Environment) -> "Checklist":
    """Runs a row as this test: Allure labels, steps and attachments, then the verdict as the outcome."""
    return Checklist(request.node, checklist_context, env)


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

        allure.dynamic.label("verdict", result.verdict.value)
        with allure.step(f"{spec.slug} on {planned.row.resource}: {result.verdict.value.upper()}"):
            for call in result.calls:
                with allure.step(call):
                    pass
            if not result.calls and result.verdict is not Verdict.SKIP:
                with allure.step("no AWS call of its own: values from the run's batched reads (see observed)"):
                    pass
            url = result.evidence.get("url")
            if url:
                with allure.step(f"http.GET {url} -> {result.evidence.get('status', result.evidence.get('error'))}"):
                    pass
        allure.attach(json.dumps(result.to_dict(), indent=2, default=str), name="observed", attachment_type=allure.attachment_type.JSON)
        self.node.user_properties.append((RESULT_PROP, json.dumps(_result_fields(result), default=str)))

        if result.verdict is Verdict.FAIL:
            pytest.fail(result.message(), pytrace=False)
        if result.verdict is Verdict.ERROR:
            if result.evidence.get("traceback"):
                allure.attach(result.evidence["traceback"], name="traceback", attachment_type=allure.attachment_type.TEXT)
            raise CheckHarnessError(result.message())
        if result.verdict is Verdict.SKIP:
            pytest.skip(result.message())
        return result


def _result_fields(result: CheckResult) -> dict[str, Any]:
    return {"expected": result.expected, "observed": result.observed, "verdict": result.verdict.value, "ref": result.ref, "calls": len(result.calls)}


# -- the report (controller only) ------------------------------------------------------------------


class ReportCollector:
    """Gathers every checklist row from test reports (local or from xdist workers) and writes the run's report."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rows: dict[str, dict[str, Any]] = {}
        self.started = datetime.now(timezone.utc)
        self.report_path: Path | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if ROW_PROP not in props:
            return
        row = self.rows.setdefault(report.nodeid, {**json.loads(props[ROW_PROP]), "verdict": "error", "observed": "not run", "nodeid": report.nodeid})
        if RESULT_PROP in props:
            row.update(json.loads(props[RESULT_PROP]))
        elif report.when in ("setup", "call") and report.failed:
            last = (report.longreprtext or "").strip().splitlines()
            row.update(verdict="error", observed=f"harness error in {report.when}: {last[-1] if last else 'unknown'}")
        elif report.when in ("setup", "call") and report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            row.update(verdict="skip", observed=reason)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):
            return  # workers' rows reach the controller through their reports
        state = harness_state(self.config)
        if state.env is None or state.reports_dir is None:
            return
        allure_dir = getattr(self.config.option, "allure_report_dir", None)
        env_props = environment_properties(self.config)
        if allure_dir:
            write_allure_environment(Path(allure_dir), env_props)
        if not self.rows:
            return
        rows = list(self.rows.values())
        header = {"title": f"{state.env.inventory}/{state.env.name}", **env_props, "started": self.started.isoformat(timespec="seconds"),
                  "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        titles = {k: f"{RUNBOOKS[r]} {s}" for k, (r, s) in PROCEDURES.items()}
        markdown = verification_report.render(rows, header, titles)
        stamp = self.started.strftime("%Y%m%dT%H%M%SZ")
        self.report_path = state.reports_dir / f"verification-{state.env.inventory}-{state.env.name}-{stamp}.md"
        self.report_path.write_text(markdown, encoding="utf-8")
        if allure_dir:
            attach_report_to_allure(Path(allure_dir), markdown, rows, state.env, self.started)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.report_path is not None:
            terminalreporter.write_line(f"verification report: {self.report_path} ({len(self.rows)} rows, {verification_report.overall(self.rows.values())})")


def pytest_configure(config: pytest.Config) -> None:
    expect_versions(config)  # a malformed --expect-version stops the run before anything else
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


def attach_report_to_allure(allure_dir: Path, markdown: str, rows: list[dict[str, Any]], env: Environment, started: datetime) -> None:
    """One Allure result, "Verification report", carrying the markdown report as an attachment."""
    from allure_commons.logger import AllureFileLogger
    from allure_commons.model2 import Attachment, Label, Status, StatusDetails, TestResult
    from allure_commons.utils import uuid4

    logger = AllureFileLogger(str(allure_dir))
    source = f"{uuid4()}-attachment.md"
    logger.report_attached_data(body=markdown, file_name=source)
    verdict = verification_report.overall(rows)
    failing = [r for r in rows if r.get("verdict") in ("fail", "error")]
    name = f"Verification report {env.inventory}/{env.name}: {verdict} ({len(rows)} rows)"
    result = TestResult(
        uuid=uuid4(),
        historyId=f"verification-report-{env.inventory}-{env.name}",
        testCaseId=f"verification-report-{env.inventory}-{env.name}",
        name=name,
        fullName=name,
        status=Status.FAILED if failing else Status.PASSED,
        statusDetails=StatusDetails(message="\n".join(f"{r['slug']} {r['resource']}: {r['observed']}" for r in failing[:20])) if failing else None,
        start=int(started.timestamp() * 1000),
        stop=int(datetime.now(timezone.utc).timestamp() * 1000),
        labels=[Label(name="epic", value="Verification report"), Label(name="feature", value=f"{env.inventory}/{env.name}"), Label(name="severity", value="normal")],
        attachments=[Attachment(name="verification report (markdown)", source=source, type="text/markdown")],
    )
    logger.report_result(result)
