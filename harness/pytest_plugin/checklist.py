"""Checklist rows as tests: ``@pytest.mark.checklist("post-rollback")`` parametrizes ``row`` with the procedure's
rows for --env; the ``checklist`` fixture runs one row with Allure labels, steps and attachments, and its verdict
becomes the test's outcome.

Each row's metadata travels in ``item.user_properties``, which xdist ships with every test report to the
controller, so the collector (harness/pytest_plugin/collector.py) sees every row whichever worker ran it.
What was *planned* travels the same way: every checklist item also carries the run's plan (which checklist
test functions were collected, for which procedure, and which rows -k/-m deselected).
"""

from __future__ import annotations

import json
from typing import Any

import allure
import pytest

from harness.checks.catalogue import PROCEDURES, PlannedRow, feature_of, rows_for
from harness.checks.context import CheckContext
from harness.checks.result import CheckResult, Verdict
from harness.checks.runner import run_row
from harness.inventory.model import Environment
from harness.pytest_plugin.allure_tidy import TRACEBACK
from harness.pytest_plugin.options import api_base_url, expect_versions
from harness.pytest_plugin.state import harness_state
from harness.targets.base import Target

ROW_PROP = "checklist_row"
RESULT_PROP = "checklist_result"
PLAN_PROP = "checklist_plan"
EXTRA_ROWS_PROP = "checklist_rows"  # rows verified inside one test after an action (plugins/actions.py)
NOT_RUN = "notrun"  # a planned row without an outcome
PLAN = pytest.StashKey[dict[str, Any]]()
ROW_RESULT = pytest.StashKey[CheckResult]()


class CheckHarnessError(RuntimeError):
    """A row could not be evaluated (permissions, emulator gap, harness bug): not a finding."""


class RowFailed(AssertionError):
    """Raised inside a row's Allure step so the step is "failed" (the row's verdict is FAIL)."""


class RowBroken(Exception):
    """Raised inside a row's Allure step so the step is "broken" (the row's verdict is ERROR)."""


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


def row_meta(planned: PlannedRow) -> dict[str, Any]:
    """What the report shows of a planned row before it ran (expected: the catalogue's "passes when")."""
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
            item.user_properties.append((ROW_PROP, json.dumps(row_meta(planned))))


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
        session.config.workeroutput[PLAN_PROP] = text


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
            json.dumps(result.to_dict(), indent=2, default=str, ensure_ascii=False),
            name="observed",
            attachment_type=allure.attachment_type.JSON,
        )
        self.node.user_properties.append((RESULT_PROP, json.dumps(_result_fields(result), default=str)))

        if result.verdict is Verdict.FAIL:
            pytest.fail(result.message(), pytrace=False)
        if result.verdict is Verdict.ERROR:
            if result.evidence.get("traceback"):  # the Allure trace, once (harness/pytest_plugin/allure_tidy.py)
                self.node.stash[TRACEBACK] = str(result.evidence["traceback"])
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
