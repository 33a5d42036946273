"""Game-day reports: one per drill (phases, RTO, rows, evidence), its 000 §8 incident report, and the run's summary.

Inputs are the drill runner's :class:`~harness.drills.model.DrillResult` (a drill's own report) or its JSON
form (the summary, which the pytest controller builds from every worker's drill files); checklist rows are
plain mappings (``harness/`` never imports ``checks/``).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from harness.actions.base import Event
from harness.drills.model import DrillResult, Recovery, fmt_s
from harness.inventory.model import Environment
from harness.report.glance import SHORT, failing_first, outcome_first, reason_lines, short
from harness.report.incident import IncidentFacts, incident_facts, render_incident
from harness.report.timeline import cell, render_timeline

ROW_ORDER = ("steady state", "detection", "verification", "settle")
RED_MEANS_FAILED = ("steady state", "verification", "settle")  # detection rows are meant to go red
MILESTONES = (
    ("fault injected", "injected_at"),
    ("issue detected", "detected_at"),
    ("recovery initiated", "recovery_started"),
    ("recovery completed", "recovered_at"),
    ("verification completed", "verified_at"),
)


def _iso(at: Any) -> str:
    if isinstance(at, datetime):
        return at.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return str(at or "-")


def _rows_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    out = ["| Check | Resource | Expected | Observed | Result | Ref |", "|---|---|---|---|---|---|"]
    out += [
        f"| `{cell(r.get('slug'))}` | {cell(r.get('resource'))} | {cell(r.get('expected'))} | "
        f"{cell(str(r.get('observed'))[:300])} | "
        f"**{cell(str(r.get('verdict')).upper())}** | {cell(r.get('ref'))} |"
        for r in failing_first(rows)
    ]
    return out


def _phase_result(result: DrillResult, name: str, ok: bool) -> str:
    """A phase's result as the record has it: a checked phase whose rows stayed red did not pass, however it ran."""
    red = [r for r in result.rows.get(name, []) if str(r.get("verdict")).lower() in ("fail", "error")]
    if name in RED_MEANS_FAILED and red:
        return f"no: {len(red)} row(s) red"
    return "yes" if ok else "no"


def render_drill(result: DrillResult) -> str:
    """The drill's own report: verdict, RTO against the objective, milestones and phases on both clocks, rows,
    evidence."""
    lines = [
        f"# Game day: {result.title}",
        "",
        f"- **drill**: `{result.name}` ({result.ref})",
        f"- **environment**: {result.inventory}/{result.env} on target {result.target}",
        f"- **outcome**: **{result.outcome}**" + (f" — {short(result.failures[0])}" if result.failures else ""),
        f"- **RTO** (fault injected to recovery verified): {fmt_s(result.rto_s)} on the {result.clock}; "
        f"{fmt_s(result.rto_wall_s)} wall clock",
        "- **objective**: "
        + (
            f"{fmt_s(result.rto_target_s)} for {result.kind} ({result.rto_ref})"
            if result.rto_target_s
            else f"none in the inventory for {result.kind}"
        ),
        f"- **whole drill**: {fmt_s(result.wall_s)} wall clock (setup and cleanup included)",
        "- **environment after cleanup**: "
        + (
            "as before the drill (digest equal)"
            if result.restored
            else "not compared"
            if result.restored is None
            else "DIFFERENT: " + "; ".join(result.differences[:10])
        ),
        "",
    ]
    if result.failures:
        lines += ["## Why", "", *reason_lines(result.outcome, result.failures, limit=SHORT), ""]
    if result.clock == "rehearsal clock":
        lines += [
            "The rehearsal clock moves with the wall clock and jumps when the drill waits (a PITR restorable time, a "
            "monitor window, a verification window): its RTO is what the same steps would take on AWS, without waiting "
            "for AWS; the wall-clock RTO is what the rehearsal itself took.",
            "",
        ]
    lines += ["## Milestones", "", "| Milestone | Time (UTC) | Since the fault |", "|---|---|---|"]
    for label, attr in MILESTONES:
        at = getattr(result, attr)
        since = fmt_s((at - result.injected_at).total_seconds()) if at and result.injected_at else "-"
        lines.append(f"| {label} | {_iso(at)} | {since} |")
    lines += ["", "## Phases", "", f"| Phase | {result.clock} | wall clock | ok | detail |", "|---|---|---|---|---|"]
    lines += [
        f"| {p.name} | {fmt_s(p.seconds)} | {fmt_s(p.wall_s)} | {_phase_result(result, p.name, p.ok)} | "
        f"{cell(p.detail)} |"
        for p in result.phases
    ]
    lines += ["", "## Timeline", "", render_timeline(result.timeline), ""]
    for phase in ROW_ORDER:
        rows = result.rows.get(phase)
        if rows:
            lines += [f"## Rows: {phase}", "", *_rows_table(rows), ""]
    lines += _fault_section(result.fault) + _recovery_section(result.recovery)
    if result.notes:
        lines += ["## Notes", "", *[f"- {n}" for n in result.notes], ""]
    return "\n".join(lines)


def drill_incident(result: DrillResult, env: Environment) -> IncidentFacts:
    """The 000 §8 incident report's facts for a drill: its timeline, the recovery's changes, the rows verified after
    it."""
    rows: list[Mapping[str, Any]] = [*result.rows.get("verification", []), *result.rows.get("settle", [])]
    changes: list[Mapping[str, Any]] = []
    for action in result.recovery.actions if result.recovery else []:
        changes += incident_facts(action, env).changes
    fault = result.fault or {}
    if not changes:
        changes = [
            {
                "function": key,
                "from": json.dumps((fault.get("after") or {}).get(key), default=str),
                "to": json.dumps((fault.get("before") or {}).get(key), default=str),
                "final": "-",
                "health": "-",
                "outcome": result.outcome,
            }
            for key in (fault.get("before") or {})
        ]
    started = result.injected_at or result.started or datetime.now(timezone.utc)
    ended = result.verified_at or result.ended or started
    affected = [(str(k), True) for k in (fault.get("before") or {})] or [(str(fault.get("resource", "-")), True)]
    return IncidentFacts(
        incident_id=f"GAMEDAY-{started:%Y%m%d}-{result.name}",
        started=started,
        ended=ended,
        environment=result.env,
        severity=f"{result.severity or 'not rated'} — a game-day drill: a rehearsed fault, not a production incident",
        affected=affected,
        timeline=sorted(result.timeline, key=lambda e: e.at),
        root_cause=result.root_cause,
        method=result.recovery.method if result.recovery else "no recovery ran",
        changes=changes,
        verification=rows,
        outcome=f"{result.outcome}: RTO {fmt_s(result.rto_s)} ({result.clock}), {fmt_s(result.rto_wall_s)} wall"
        + (f"; objective {fmt_s(result.rto_target_s)} ({result.rto_ref})" if result.rto_target_s else "")
        + (f"; {'; '.join(result.failures)}" if result.failures else ""),
        notes=list(result.notes) + ([f"fault simulated: {fault['simulated']}"] if fault.get("simulated") else []),
        title=f"Rollback Incident Report (game day: {result.title})",
        clock="" if result.clock == "wall clock" else result.clock,
        wall_s=None if result.clock == "wall clock" else _wall_span(result),
    )


def _wall_span(result: DrillResult) -> float | None:
    """The incident's span (fault injected to verified) on the wall clock: the drill's wall RTO when it was measured,
    else the whole drill's wall time."""
    return result.rto_wall_s if result.rto_wall_s is not None else result.wall_s


def render_drill_incident(result: DrillResult, env: Environment) -> str:
    """The 000 §8 template filled in for a drill."""
    return render_incident(drill_incident(result, env))


def render_summary(
    results: Sequence[Mapping[str, Any]],
    history: Sequence[Mapping[str, Any]],
    *,
    title: str,
    chart: str | None = None,
    history_path: str = "",
) -> str:
    """The run's game-day summary: a row per drill (verdict, RTO on both clocks, objective, recovery, restored),
    failures, history."""
    passed = sum(1 for r in results if r.get("outcome") == "PASS")
    failed = [r for r in results if r.get("outcome") == "FAIL"]
    skipped = [r for r in results if r.get("outcome") == "SKIPPED"]
    verdict = "FAIL" if failed else ("PASS" if passed else "NOTHING RAN")
    lines = [
        f"# Game-day summary: {title}",
        "",
        f"- **result**: {verdict} ({passed} passed, {len(failed)} failed, {len(skipped)} skipped)",
        f"- **history**: {len(history)} drill run(s) in `{history_path}`"
        if history_path
        else f"- **history**: {len(history)} drill run(s)",
        "",
        "| Drill | Kind | Outcome | RTO (drill clock) | RTO (wall) | Objective | Recovery | Environment restored |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in outcome_first(results):
        restored = {True: "yes", False: "NO", None: "-"}[r.get("restored")]
        lines.append(
            f"| {cell(r.get('title'))} (`{cell(r.get('name'))}`) | {cell(r.get('kind'))} | "
            f"**{cell(r.get('outcome'))}** | "
            f"{fmt_s(r.get('rto_s'))} ({cell(r.get('clock'))}) | {fmt_s(r.get('rto_wall_s'))} | "
            f"{fmt_s(r.get('rto_target_s'))} | "
            f"{cell((r.get('recovery') or {}).get('method'))} | {restored} |"
        )
    if failed or skipped:
        lines += ["", "## Not passed", ""]
        for r in failed + skipped:
            lines += reason_lines(f"`{r.get('name')}` {r.get('outcome')}", list(r.get("failures") or []))
    phases = _phase_table(results)
    if phases:
        lines += ["", "## Phase durations (drill clock / wall clock)", "", *phases]
    if chart:
        lines += ["", "## RTO per drill across runs", "", f"![RTO per drill across runs]({chart})"]
    lines += [
        "",
        "RTO is measured from the fault's injection to the end of the verification phase (the checklist green "
        "again), on the "
        "target's clock; 000 §7.4's windowed rows (error rate, latency, log errors) are verified after one "
        "verification window of "
        "healthy traffic (the settle phase), which the RTO does not include.",
        "",
    ]
    return "\n".join(lines)


def _phase_table(results: Iterable[Mapping[str, Any]]) -> list[str]:
    names = ["setup", "steady state", "fault", "detection", "recovery", "verification", "settle", "cleanup"]
    rows = []
    for r in sorted(results, key=lambda r: str(r.get("name"))):
        by = {p["name"]: p for p in r.get("phases") or []}
        if not by:
            continue
        rows.append(
            f"| `{cell(r.get('name'))}` | "
            + " | ".join(f"{fmt_s(by[n]['seconds'])} / {fmt_s(by[n]['wall_s'])}" if n in by else "-" for n in names)
            + " |"
        )
    if not rows:
        return []
    return ["| Drill | " + " | ".join(names) + " |", "|---|" + "---|" * len(names), *rows]


def timeline_events(result: DrillResult) -> list[Event]:
    """The drill's milestones as events (for an Allure step tree)."""
    return [Event(getattr(result, attr), label) for label, attr in MILESTONES if getattr(result, attr) is not None]


__all__ = ["drill_incident", "render_drill", "render_drill_incident", "render_summary", "timeline_events"]


def _fault_section(fault: Mapping[str, Any] | None) -> list[str]:
    """The injected fault: name, resource, runbook reference, and its before/after/undo evidence."""
    if not fault:
        return []
    return [
        "## Fault",
        "",
        f"`{fault.get('name')}` on `{fault.get('resource')}` ({fault.get('ref')})"
        + (f" — simulated: {fault['simulated']}" if fault.get("simulated") else ""),
        "",
        "```json",
        json.dumps(
            {k: fault.get(k) for k in ("before", "after", "detected_by", "undo_log", "undo_error")},
            indent=2,
            default=str,
        )[:6000],
        "```",
        "",
    ]


def _recovery_section(rec: Recovery | None) -> list[str]:
    """How the drill recovered: the harness's actions or the operator's command with its output tails."""
    if rec is None:
        return []
    lines = ["## Recovery", "", f"{rec.method}: {'ok' if rec.ok else 'reported FAILURE'} — {rec.message}", ""]
    for a in rec.actions:
        lines.append(
            f"- `{a.plan.action}` {a.outcome}: {a.message}"
            + (f" (record `{a.record.record_id}` {a.record.status})" if a.record else "")
        )
    if rec.command is not None:
        c = rec.command
        lines += [
            "",
            f"Command `{' '.join(c.command)}`: exit {c.exit_code}{' (timed out)' if c.timed_out else ''} after "
            f"{c.seconds:.1f} s, "
            "environment set by the harness:",
            "",
            "```",
            *[f"{k}={v}" for k, v in sorted(c.environment.items())],
            "```",
            "",
            "stdout (tail):",
            "",
            "```",
            c.stdout[-3000:].rstrip() or "(none)",
            "```",
            "",
            "stderr (tail):",
            "",
            "```",
            c.stderr[-3000:].rstrip() or "(none)",
            "```",
        ]
    lines.append("")
    return lines
