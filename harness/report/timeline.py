"""The timeline table of the 000 §8 incident report, with UTC times (000 §9.3 "Document all actions with
timestamps")."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

from harness.actions.base import Event
from harness.markdown import cell

__all__ = ["cell", "duration", "render_timeline", "utc"]  # cell: the one escaper (harness/markdown.py), re-exported


def utc(at: datetime, fmt: str = "%H:%M:%S") -> str:
    """``at`` in UTC, formatted (the report's header says the date)."""
    return at.astimezone(timezone.utc).strftime(fmt)


def render_timeline(events: Iterable[Event]) -> str:
    """``| Time (UTC) | Event |`` rows in time order (the date is shown where it changes)."""
    lines = ["| Time (UTC) | Event |", "|------------|-------|"]
    day = None
    for e in sorted(events, key=lambda e: e.at):
        this_day = utc(e.at, "%Y-%m-%d")
        stamp = utc(e.at) if this_day == day else f"{this_day} {utc(e.at)}"
        day = this_day
        lines.append(f"| {stamp} | {cell(e.what)} |")
    return "\n".join(lines)


def duration(start: datetime, end: datetime) -> str:
    """``X hours Y minutes Z seconds`` (000 §8 "Duration"); under a minute ``2.5 seconds`` (a rehearsal's actions take
    seconds: "0 minutes 0 seconds" would say nothing)."""
    exact = max((end - start).total_seconds(), 0.0)
    if exact < 60:
        return f"{exact:.1f} seconds"
    total = int(exact)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = ([f"{hours} hours"] if hours else []) + [f"{minutes} minutes", f"{seconds} seconds"]
    return " ".join(parts)
