"""The 000 §8 "Rollback Incident Report", filled in from what the harness did and verified.

Generic on purpose: :class:`IncidentFacts` is plain data (a game day builds it from a drill), and
:func:`incident_facts` builds it from any action result (rollback, rollback-all, promote with an
automatic rollback). Fields the harness cannot know (users affected, revenue, lessons learned) keep
the template's placeholders, marked as such, rather than a made-up value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from harness.actions.base import COMPLETE, ActionResult, Event, Plan
from harness.actions.decisions import Decision, recommended
from harness.actions.guards import Authority
from harness.inventory.model import Environment
from harness.report.glance import failing_first
from harness.report.timeline import cell, duration, render_timeline, utc

# 001 §6.1: severity -> response (Critical P1 automatic rollback, High P2 manual within 15 min, ...)
SEVERITY_BY_WEIGHT = {
    "immediate": "P1",
    "rollback": "P2",
    "prepare": "P3",
    "alert": "P3",
    "monitor": "P4",
    "none": "P4",
}
PLACEHOLDER = "_not measured by the harness: fill in_"


@dataclass
class IncidentFacts:
    """Everything the 000 §8 template asks for that is known, as data."""

    incident_id: str
    started: datetime
    ended: datetime
    environment: str
    severity: str
    affected: list[tuple[str, bool]]
    timeline: list[Event]
    root_cause: str
    method: str
    changes: list[Mapping[str, Any]]  # function, from, to, final, health, outcome
    verification: list[Mapping[str, Any]] = field(
        default_factory=list
    )  # checklist rows (slug, resource, verdict, observed, ...)
    decisions: list[str] = field(default_factory=list)  # quoted decision-table rows
    approvers: list[str] = field(default_factory=list)
    workflow_run: str = ""
    outcome: str = ""
    notes: list[str] = field(default_factory=list)
    title: str = "Rollback Incident Report"
    clock: str = ""  # the clock started/ended are on, when not the wall clock (a drill's rehearsal clock)
    wall_s: float | None = None  # the same span on the wall clock, when it differs


def plan_facts(plan: Plan[Any]) -> Mapping[str, Any]:
    """What a report says about a plan, read from its typed spec (rollback, promotion), else its older details."""
    from dataclasses import asdict

    from harness.actions.promote import PromoteSpec
    from harness.actions.rollback import RollbackSpec

    spec = plan.spec
    if isinstance(spec, PromoteSpec):
        return {**asdict(spec), "backup_alias": spec.backup_alias}
    if isinstance(spec, RollbackSpec):
        facts: dict[str, Any] = {"rule": spec.rule, "scope": spec.scope}
        if plan.action == "rollback-all":
            facts["services"] = list(spec.services)
        if len(spec.moves) == 1 and plan.action == "rollback":
            m = spec.moves[0]
            facts.update(
                function=m.function,
                service=m.service,
                **{"from": m.current, "to": m.target, "from_label": m.current_label, "to_label": m.target_label},
            )
        return facts
    return plan.details


def _verdicts(rows: Iterable[Mapping[str, Any]], slugs: Sequence[str]) -> str | None:
    chosen = [r for r in rows if r.get("slug") in slugs]
    if not chosen:
        return None
    seen = {str(r.get("verdict")).lower() for r in chosen}
    if seen & {"fail", "error"}:
        return "FAIL"
    if seen <= {"skip"}:
        return "SKIP"
    return "PASS"


def _error_rate(rows: Iterable[Mapping[str, Any]]) -> str | None:
    chosen = [r for r in rows if r.get("slug") == "error-rate"]
    if not chosen:
        return None
    rates = [r.get("evidence", {}).get("error_rate_pct") for r in chosen if isinstance(r.get("evidence"), Mapping)]
    rates = [x for x in rates if isinstance(x, (int, float))]
    verdict = _verdicts(chosen, ["error-rate"])
    return (
        f"{max(rates):.2f}% (max over {len(chosen)} function(s), {verdict})"
        if rates
        else f"{verdict} ({chosen[0].get('observed', '')})"
    )


def render_incident(f: IncidentFacts) -> str:
    """The 000 §8 template, filled in."""
    out = [
        f"# {f.title}",
        "",
        "## Incident Summary",
        f"- **Incident ID**: {f.incident_id}",
        f"- **Date/Time**: {utc(f.started, '%Y-%m-%d %H:%M')} UTC",
        f"- **Environment**: {f.environment.upper()}",
        f"- **Severity**: {f.severity}",
        f"- **Duration**: {_duration(f)}",
    ]
    if f.outcome:
        out.append(f"- **Outcome**: {f.outcome}")
    out += ["", "## Affected Services"] + [f"- [{'x' if hit else ' '}] {name}" for name, hit in f.affected]
    out += [
        "",
        "## Timeline",
        render_timeline(f.timeline),
        "",
        "## Root Cause",
        f.root_cause or "[Describe what caused the issue requiring rollback]",
    ]
    out += [
        "",
        "## Impact",
        f"- **Users Affected**: {PLACEHOLDER}",
        f"- **Transactions Affected**: {PLACEHOLDER}",
        f"- **Revenue Impact**: {PLACEHOLDER}",
        f"- **Data Impact**: {PLACEHOLDER}",
    ]
    out += _rollback_details(f)
    out += _verification_section(f)
    if f.decisions:
        out += ["", "## Decision Criteria", *[f"> {d}" for d in f.decisions]]
    if f.notes:
        out += ["", "## Notes", *[f"- {n}" for n in f.notes]]
    out += [
        "",
        "## Lessons Learned",
        "1. [What could have prevented this?]",
        "2. [What can be improved?]",
        "",
        "## Action Items",
        "| Action | Owner | Due Date | Status |",
        "|--------|-------|----------|--------|",
        "| [Action item] | [Name] | YYYY-MM-DD | Open |",
        "",
        "## Approvals",
        f"- **Rollback Approved By**: {', '.join(f.approvers) or 'not required for this environment'}",
        "- **Incident Closed By**: [Name]",
        "- **Post-Mortem Completed**: No",
        "",
    ]
    return "\n".join(out)


def _duration(f: IncidentFacts) -> str:
    """000 §8 "Duration" on the run's own clock, naming it (and the wall clock) when it is a rehearsal clock."""
    text = duration(f.started, f.ended)
    if f.clock:
        text += f" on the {f.clock}"
    if f.wall_s is not None:
        text += f" ({f.wall_s:.1f} s on the wall clock)"
    return text


def _rollback_details(f: IncidentFacts) -> list[str]:
    """000 §8 "Rollback Details": method, from and to versions, and one row per function."""
    froms = sorted({str(c.get("from")) for c in f.changes if c.get("from")})
    tos = sorted({str(c.get("final") or c.get("to")) for c in f.changes if c.get("final") or c.get("to")})
    out = [
        "",
        "## Rollback Details",
        f"- **Method Used**: {f.method}",
        f"- **Rolled Back From**: Version {', '.join(froms) or '-'}",
        f"- **Rolled Back To**: Version {', '.join(tos) or '-'}",
        f"- **Workflow Run**: {f.workflow_run or '-'}",
        "",
        "| Function | From | To | Final | Health | Outcome |",
        "|----------|------|----|-------|--------|---------|",
    ]
    out += [
        f"| {cell(c.get('function'))} | {cell(c.get('from'))} | {cell(c.get('to'))} | {cell(c.get('final'))} | "
        f"{cell(c.get('health'))} | "
        f"{cell(c.get('outcome'))} |"
        for c in f.changes
    ]
    return out


def _verification_section(f: IncidentFacts) -> list[str]:
    """000 §8 "Verification Results": the summary table, then every row verified after the action."""
    summary = [
        (
            "Lambda health",
            _verdicts(f.verification, ["health-endpoint", "source-health"])
            or _verdicts(f.verification, [ACTION_HEALTH, ACTION_MONITOR]),
        ),
        ("API endpoints", _verdicts(f.verification, ["api-health", "api-responses"])),
        ("Error rate", _error_rate(f.verification)),
        ("Data integrity", _verdicts(f.verification, ["dynamodb-reads", "dynamodb-pitr"])),
    ]
    out = ["", "## Verification Results", "| Check | Result |", "|-------|--------|"]
    out += [f"| {name} | {value or 'not verified in this run'} |" for name, value in summary]
    if f.verification:
        out += [
            "",
            "The action's own verification (000 §4.2.5 health through fn:alias, 001 §6.3.1 monitor), then the "
            "checklist rows "
            "(000 §7.4) verified on a fresh context after it:",
            "",
            "| Check | Resource | Expected | Observed | Result | Ref |",
            "|---|---|---|---|---|---|",
        ]
        out += [
            f"| `{cell(r.get('slug'))}` | {cell(r.get('resource'))} | {cell(r.get('expected'))} | "
            f"{cell(r.get('observed'))} | "
            f"**{cell(str(r.get('verdict')).upper())}** | {cell(r.get('ref'))} |"
            for r in failing_first(f.verification)
        ]
    return out


ACTION_HEALTH, ACTION_MONITOR = "action-health", "action-monitor"


def action_rows(result: ActionResult) -> list[dict[str, Any]]:
    """The action's own verification as report rows: each health invoke through fn:alias, each monitor."""
    rows: list[dict[str, Any]] = []
    for leaf in _leaves(result):
        fn = plan_facts(leaf.plan).get("dest_function") or plan_facts(leaf.plan).get("function")
        health, monitor = leaf.evidence.get("health"), leaf.evidence.get("monitor")
        if isinstance(health, Mapping) and health:
            rows.append(
                {
                    "slug": ACTION_HEALTH,
                    "resource": fn,
                    "expected": f"invoke {health.get('invoked')}: healthy answer",
                    "observed": health.get("problem")
                    or f"statusCode {health.get('status_code')} (version {health.get('executed_version')})",
                    "verdict": "fail" if health.get("problem") else "pass",
                    "ref": "000 §4.2.5",
                }
            )
        if isinstance(monitor, Mapping) and monitor:
            fired = monitor.get("triggers") or []
            rows.append(
                {
                    "slug": ACTION_MONITOR,
                    "resource": fn,
                    "expected": f"no 001 §6.3.1 trigger in {monitor.get('window_s'):g} s",
                    "observed": fired[0]["quote"]
                    if fired
                    else f"{len(monitor.get('samples') or [])} polls, no trigger",
                    "verdict": "fail" if fired else "pass",
                    "ref": "001 §6.3.1",
                }
            )
    return rows


def _leaves(result: ActionResult) -> list[ActionResult]:
    """The per-function results under a batch/service/stack result (or the result itself)."""
    if not result.children:
        return [result]
    return [leaf for c in result.children for leaf in _leaves(c)]


def _change_row(r: ActionResult) -> dict[str, Any]:
    d, ev = plan_facts(r.plan), r.evidence
    fn = d.get("dest_function") or d.get("function") or r.plan.action
    frm = d.get("from") or d.get("dest_current")
    to = d.get("to") or ev.get("new_version") or (f"(new) {d.get('label')}" if d.get("label") else None)
    health = ev.get("health") or {}
    if isinstance(health, Mapping) and health:
        seen = (
            f"{health.get('status_code')} ({health.get('invoked')})"
            if not health.get("problem")
            else f"{health.get('problem')}"
        )
    elif ev.get("trigger"):
        seen = f"trigger {ev['trigger'].get('name')}: {ev['trigger'].get('observed')}"
    elif ev.get("monitor"):
        seen = "200 (every monitor poll)"
    else:
        seen = "-"

    def label(v: Any, lab: Any) -> Any:
        return f"{v} ({lab})" if v and lab else v

    return {
        "function": fn,
        "from": label(frm, d.get("from_label") or d.get("dest_current_label")),
        "to": label(to, d.get("to_label")),
        "final": ev.get("final_version"),
        "health": seen,
        "outcome": r.outcome + (f": {r.message}" if r.message and r.outcome != COMPLETE else ""),
    }


def incident_facts(
    result: ActionResult,
    env: Environment,
    *,
    rows: Iterable[Mapping[str, Any]] = (),
    decisions: Iterable[Decision] = (),
    authority: Authority | None = None,
    method: str = "harness",
    root_cause: str = "",
    extra_decisions: Iterable[str] = (),
) -> IncidentFacts:
    """000 §8 facts from an action result: timeline, versions, the checklist rows run after it, the decision rows."""
    authority = authority or Authority()
    leaves = _leaves(result)
    touched = {
        str(plan_facts(r.plan).get("dest_function") or plan_facts(r.plan).get("function")) for r in leaves if r.applied
    }
    names = [f.name for f in env.functions] + sorted(t for t in touched if t not in {f.name for f in env.functions})
    events = list(result.timeline) or [Event(result.plan.planned_at, f"{result.plan.action} planned")]
    started, ended = min(e.at for e in events), max(e.at for e in events)
    decided = list(decisions)
    best = recommended(decided)
    severity = (
        f"{SEVERITY_BY_WEIGHT[best.weight]} ({best.level}, 001 §6.1)"
        if best
        else "not assessed (no decision-table input)"
    )
    quotes = [d.quote() for d in decided] + list(extra_decisions)
    trigger = next((r.evidence["trigger"] for r in leaves if r.evidence.get("trigger")), None)
    if trigger:
        quotes.insert(0, trigger["quote"])
        if best is None or SEVERITY_BY_WEIGHT[best.weight] != "P1":
            severity = f"P1 (Critical: automatic rollback on the {trigger['name']} trigger, 001 §6.1, §6.3.1)"
    run = ""
    if os.environ.get("GITHUB_RUN_ID") and os.environ.get("GITHUB_REPOSITORY"):
        run = f"{os.environ.get('GITHUB_SERVER_URL', 'https://github.com')}/{os.environ['GITHUB_REPOSITORY']}/actions/runs/{os.environ['GITHUB_RUN_ID']}"
    incident = (
        authority.incident
        or f"INC-{started:%Y%m%d}-{(result.record.record_id if result.record else result.plan.action)}"
    )
    return IncidentFacts(
        incident_id=incident,
        started=started,
        ended=ended,
        environment=env.name,
        severity=severity,
        affected=[(n, n in touched) for n in names] + [("Terraform infrastructure", False), ("DynamoDB tables", False)],
        timeline=events,
        root_cause=root_cause or authority.reason or "",
        method=method,
        changes=[_change_row(r) for r in leaves],
        verification=action_rows(result) + list(rows),
        decisions=quotes,
        approvers=list(authority.approvers),
        workflow_run=run,
        outcome=f"{result.outcome}: {result.message}" if result.message else result.outcome,
        notes=list(result.plan.notes) + _record_note(result),
    )


def _record_note(result: ActionResult) -> list[str]:
    """The audit record's line, in agreement with the report's outcome: when the record says the action
    COMPLETE but rows verified after it failed, both are said, with which one this report's outcome is."""
    record = result.record
    if record is None:
        return []
    if record.status is None:  # 001's record carries no status
        return [f"audit record {record.record_id}: written; this report's outcome is {result.outcome}"]
    if str(record.status) == str(result.outcome):
        return [f"audit record {record.record_id}: {record.status}"]
    return [
        f"audit record {record.record_id}: the action's own steps {record.status}; this report's outcome is "
        f"{result.outcome}" + (f" ({result.message.strip('; ')})" if result.message else "")
    ]
