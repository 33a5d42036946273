"""The PropIE production rollback scenarios (004): only for an inventory with 004's resources ([amplify],
[cloudformation], [auto_rollback.sources]); any other inventory skips them at collection, at no cost.

``production`` is protected (``approvals.prod-rollback``). These scenarios inject their own faults into
a rehearsal and act on it, so on a *disposable* target (the embedded rehearsal, gone when the run ends)
they sign with rehearsal approvers when the user gave none — the actions still go through the approval
guard, with those names in their audit records and reports. On any other target nothing is signed for
the user: without ``--approved-by`` (and ``--allow-mutation``) they stay skipped with the guard's reason,
and their faults need the embedded emulator's handles anyway (``emulator-faults``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import pytest

from harness.actions import ActionResult, Authority
from harness.actions.base import Event
from harness.checks.result import CheckResult
from harness.errors import HarnessError
from harness.inventory import Environment, load_inventory
from harness.report.incident import IncidentFacts, render_incident
from harness.report.timeline import duration

HERE = __file__.rsplit("/", 1)[0]
RULE = "prod-rollback"


def _environment(config: pytest.Config) -> Environment | None:
    env_name = config.getoption("--env")
    if env_name is None:
        return None
    try:
        return load_inventory(config.getoption("--inventory")).environment(env_name)
    except HarnessError:
        return None  # the harness plugin reports the mistake


def has_004(env: Environment | None) -> bool:
    """True for an environment with 004's resources (the propie inventory)."""
    return env is not None and env.amplify is not None and bool(env.cfn_stacks) and bool(env.triggers)


def _mine(items: Iterable[pytest.Item]) -> list[pytest.Item]:
    return [i for i in items if str(i.path).startswith(HERE)]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip everything here without 004's resources; mark the mutating ones for rehearsal approvals (module doc)."""
    env = _environment(config)
    mine = _mine(items)
    if not mine or env is None:
        return
    if not has_004(env):
        for item in mine:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"004 (PropIE) scenarios: {env.inventory}/{env.name} has no [amplify], [cloudformation] "
                    "and triggers"
                )
            )
        return
    for item in mine:
        if item.get_closest_marker("mutating") is not None:
            item.add_marker(pytest.mark.rehearsal_approvals)


@pytest.fixture
def propie_authority(rehearsal_authority: Callable[..., Authority]) -> Authority:
    """The user's authority; on a disposable target without approvers, labelled stand-ins for the 004 rule."""
    return rehearsal_authority(RULE)


@pytest.fixture
def rehearsal(target: Any, require: Callable[..., None]) -> Any:
    """The emulator's handles (``.amplify``, ``.cloudformation``): the 004 faults are injected through them."""
    require("emulator-faults", "amplify", "cloudformation-states")
    return target.extensions


def rows(results: Sequence[CheckResult]) -> list[dict[str, Any]]:
    """Checklist results as the incident report's rows."""
    return [
        {
            "slug": r.slug,
            "resource": r.resource,
            "expected": r.expected,
            "observed": r.observed,
            "verdict": r.verdict.value,
            "ref": r.ref,
            "evidence": r.evidence,
        }
        for r in results
    ]


@pytest.fixture
def incident_report(
    env: Environment, write_report: Callable[[str, str], Any], propie_authority: Authority
) -> Callable[..., Any]:
    """``incident_report(name, result, fault=[...events], verified=[rows], detection=[rows], root_cause=...,
    detected=at)``:
    the 000 §8 report (harness/report/incident.py) of a 004 rollback, with RTO, written to the run's reports. The
    detection rows (FAIL by design) are kept out of the run's verification report (``record=False``) and quoted here."""

    def make(
        name: str,
        result: ActionResult,
        *,
        fault: Sequence[Event],
        verified: Sequence[CheckResult],
        root_cause: str,
        detected: datetime,
        affected: Sequence[tuple[str, bool]],
        changes: Sequence[dict[str, Any]],
        detection: Sequence[CheckResult] = (),
        extra: Sequence[str] = (),
    ) -> str:
        timeline = sorted([*fault, *result.timeline], key=lambda e: e.at)
        recovered = max(e.at for e in timeline)
        facts = IncidentFacts(
            incident_id=f"INC-{detected:%Y%m%d}-{name}",
            started=min(e.at for e in timeline),
            ended=recovered,
            environment=env.name,
            severity="P1 (004 Automated Rollback Triggers: 5XX rate above 5 % triggers an automatic rollback)",
            affected=list(affected),
            timeline=timeline,
            root_cause=root_cause,
            method=f"runbook-harness: {result.plan.action} (004)",
            changes=list(changes),
            verification=rows(verified),
            approvers=list(propie_authority.approvers),
            outcome=f"{result.outcome}: {result.message}",
            notes=[
                f"RTO (detection to verified recovery): {duration(detected, recovered)} on the target's clock",
                *(f"detection: {r.message()}" for r in detection),
                *result.plan.notes,
                *extra,
            ],
            title=f"Rollback Incident Report (004, {name})",
        )
        text = render_incident(facts)
        write_report(f"incident-{env.inventory}-{env.name}-{name}.md", text)
        return text

    return make
