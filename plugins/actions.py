"""pytest glue for mutating scenarios: the caller's authority, running an action, and verifying it
with the runbook's checklist on a fresh context (the design card's "a plugin executes the actions
and asserts the Section 7 verification checklist").

Actions live in ``harness/actions`` and know nothing of pytest or Allure; this module runs them,
announces them through the ``pytest_harness_action_applied`` hook and turns checklist rows into
assertions, Allure steps and rows of the run's verification report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable

import allure
import pytest

from checks.catalogue import PlannedRow, rows_for
from checks.context import CheckContext
from checks.result import CheckResult, Verdict
from checks.runner import run_row
from harness.actions import ActionResult, Authority
from harness.targets.base import Target

EXTRA_ROWS_PROP = "checklist_rows"  # rows verified inside one test (the reporting plugin collects them)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("runbook-harness")
    group.addoption("--incident", default=None, metavar="ID", help="incident ticket (recorded; the emergency promotion rule needs one, 001 §4.1.2)")
    group.addoption(
        "--emergency",
        action="store_true",
        default=False,
        help="promote outside the maintenance window under the emergency rule (its approvers and --incident, 001 §4.1.2)",
    )
    group.addoption("--actor", default=None, help="who runs the action (recorded in audit records; default: the OS user)")


@pytest.fixture(scope="session")
def authority(pytestconfig: pytest.Config) -> Authority:
    """The run's permission and approvals: --allow-mutation, --approved-by, --reason, --incident, --emergency."""
    return Authority(
        allow_mutation=bool(pytestconfig.getoption("--allow-mutation")),
        approvers=tuple(pytestconfig.getoption("--approved-by") or ()),
        reason=pytestconfig.getoption("--reason"),
        actor=pytestconfig.getoption("--actor") or "",
        incident=pytestconfig.getoption("--incident"),
        emergency=bool(pytestconfig.getoption("--emergency")),
    )


@pytest.fixture
def run_action(request: pytest.FixtureRequest) -> Callable[[Callable[[], ActionResult]], ActionResult]:
    """``run_action(lambda: rollback(...))``: run it, attach plan and result to Allure, announce it."""

    def run(call: Callable[[], ActionResult]) -> ActionResult:
        result = call()
        request.config.hook.pytest_harness_action_applied(config=request.config, result=result)
        return result

    return run


def pytest_harness_action_applied(config: pytest.Config, result: ActionResult) -> None:
    """Evidence of every action in the current Allure test: the plan, then what was done."""
    allure.attach(result.plan.render(), name=f"plan: {result.plan.action}", attachment_type=allure.attachment_type.TEXT)
    allure.attach(json.dumps(result.to_dict(), indent=2, default=str), name=f"{result.plan.action}: {result.outcome}",
                  attachment_type=allure.attachment_type.JSON)


def _report_row(planned: PlannedRow, result: CheckResult, phase: str) -> dict[str, Any]:
    spec = planned.spec
    return {
        "slug": spec.slug, "resource": planned.row.resource, "procedure": spec.procedure, "check": spec.title,
        "ref": spec.ref, "severity": spec.severity, "expected": result.expected, "observed": result.observed,
        "verdict": result.verdict.value, "phase": phase, "calls": len(result.calls),
    }


class ChecklistVerifier:
    """Runs checklist rows on a fresh context after an action, inside the current test."""

    def __init__(self, node: pytest.Item, base: CheckContext) -> None:
        self.node, self.base = node, base

    def __call__(
        self,
        procedure: str | None = "post-rollback",
        *,
        slugs: Iterable[str] | None = None,
        resources: Iterable[str] | None = None,
        expect_versions: dict[str, str] | None = None,
        phase: str = "verification",
        must_pass: bool = True,
    ) -> list[CheckResult]:
        """Run the rows (of ``procedure``, narrowed to ``slugs``/``resources``); FAIL or ERROR fails the test."""
        ctx = self.base.fresh(expect_versions={**self.base.expect_versions, **(expect_versions or {})})
        wanted = set(resources) if resources is not None else None
        planned = [p for p in rows_for(ctx.env, procedure, tuple(slugs) if slugs else None) if wanted is None or p.row.resource in wanted]
        results: list[CheckResult] = []
        rows: list[dict[str, Any]] = []
        with allure.step(f"{phase}: {len(planned)} checklist row(s) on a fresh context at {ctx.now.isoformat(timespec='seconds')}"):
            for p in planned:
                result = run_row(ctx, p)
                results.append(result)
                rows.append(_report_row(p, result, phase))
                with allure.step(f"{p.spec.slug} on {p.row.resource}: {result.verdict.value.upper()}"):
                    allure.attach(json.dumps(result.to_dict(), indent=2, default=str), name="observed", attachment_type=allure.attachment_type.JSON)
        self.node.user_properties.append((EXTRA_ROWS_PROP, json.dumps(rows, default=str)))
        bad = [r for r in results if r.verdict in (Verdict.FAIL, Verdict.ERROR)]
        if must_pass and bad:
            pytest.fail("\n".join(r.message() for r in bad), pytrace=False)
        return results


@pytest.fixture
def verify_checklist(request: pytest.FixtureRequest, checklist_context: CheckContext) -> ChecklistVerifier:
    """``verify_checklist("post-rollback", slugs=[...], expect_versions={fn: "2"})`` after an action."""
    return ChecklistVerifier(request.node, checklist_context)


@pytest.fixture
def write_report(request: pytest.FixtureRequest) -> Callable[[str, str], Path]:
    """``write_report("incident-...md", markdown)``: save a report in this run's reports directory and attach it to Allure."""
    from plugins.harness_plugin import harness_state

    def write(name: str, text: str) -> Path:
        folder = harness_state(request.config).reports_dir or Path("reports")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text(text, encoding="utf-8")
        kind = allure.attachment_type.JSON if name.endswith(".json") else allure.attachment_type.TEXT
        if name.endswith(".md"):
            allure.attach(text, name=name, attachment_type="text/markdown", extension="md")
        else:
            allure.attach(text, name=name, attachment_type=kind)
        return path

    return write


@pytest.fixture
def require(target: Target) -> Callable[..., None]:
    """``require("lambda-invoke", "pitr-restore")``: skip with the target's reason when it lacks one."""

    def check(*capabilities: str) -> None:
        for capability in capabilities:
            if not target.supports(capability):
                pytest.skip(target.unsupported_reason(capability) or capability)

    return check
