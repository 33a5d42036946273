"""Markdown for state and data recovery runs: each action's plan, outcome, steps and audit record, and
each data verification (attached to reports/ and Allure by the scenarios, printed by the CLI)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

from harness.actions.base import ActionResult
from harness.markdown import cell
from harness.targets.base import TargetLike


def action_section(result: ActionResult) -> str:
    """One action: outcome and message, the plan, the timeline (changes and steps, in time order), the audit record."""
    lines = [
        f"### {result.plan.action}: {result.outcome}",
        "",
        result.message or "",
        "",
        "```",
        result.plan.render(),
        "```",
        "",
    ]
    steps = [(at, f"{c.kind} {c.resource} {c.attribute}") for at, c in result.applied] + [
        (e.at, e.what) for e in result.timeline
    ]
    if steps:
        lines += ["| at (UTC) | step |", "|---|---|"]
        lines += [
            f"| {at.astimezone(timezone.utc).isoformat(timespec='seconds')} | {cell(what)} |"
            for at, what in sorted(steps, key=lambda s: s[0])
        ]
        lines.append("")
    if result.record is not None:
        r = result.record
        lines.append(
            f"Audit record `{r.record_id}`: {r.action} {r.status} (actor {r.actor or '?'}, reason {r.reason or '—'})."
        )
        lines.append("")
    return "\n".join(lines)


def document(title: str, target: TargetLike, sections: Iterable[str], *, at: datetime | None = None) -> str:
    """A whole report: title, where it ran, then the sections in order."""
    env = target.env
    when = (at or target.clock.now()).astimezone(timezone.utc).isoformat(timespec="seconds")
    head = [f"# {title}", "", f"{env.describe()} target={target.name} at {when}", ""]
    return "\n".join(head) + "\n".join(s.rstrip() + "\n" for s in sections)
