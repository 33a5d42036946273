"""What keeps a rehearsal's report from passing for production: the REHEARSAL label in its first heading
and file name, and a note when its times are on a rehearsal clock rather than the wall clock."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from harness.clock import SystemClock


def rehearsal_label(target: Any) -> str | None:
    """``REHEARSAL (moto 5.2.5 (embedded))`` on a disposable target, else None."""
    return f"REHEARSAL ({target.emulator()})" if getattr(target, "disposable", False) else None


def file_token(target: Any) -> str:
    """``-REHEARSAL-moto`` for a file name on a disposable target, else empty."""
    if not getattr(target, "disposable", False):
        return ""
    text = str(target.emulator())
    first = text.split(" (")[0].split()[0] if text else "emulator"
    return "-REHEARSAL-" + (re.sub(r"[^A-Za-z0-9]+", "", first) or "emulator")


def clock_note(target: Any) -> str | None:
    """A sentence saying the report's times are on the rehearsal clock (with both clocks' now), or None."""
    if isinstance(target.clock, SystemClock):
        return None
    wall = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    now = target.clock.now().astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"Times in this report are on the rehearsal clock ({type(target.clock).__name__}: {now} when written), not "
        f"wall-clock time ({wall} when written)."
    )


def label_report(text: str, label: str | None, note: str | None) -> str:
    """``text`` with ``label`` in its first ``# `` heading and ``note`` quoted under it."""
    lines = text.splitlines()
    head = next((i for i, line in enumerate(lines) if line.startswith("# ")), None)
    if head is None:
        lines.insert(0, f"# {label or 'Report'}")
        head = 0
    elif label:
        lines[head] = f"# {label}: {lines[head][2:]}"
    if note:
        lines[head + 1 : head + 1] = ["", f"> {note}"]
    return "\n".join(lines) + "\n"
