"""The game-day history: one JSON line per drill run, appended to a file that outlives the run directories.

Where: ``<reports-dir>/gameday-history.jsonl`` (``reports/gameday-history.jsonl`` by default) — next to
``runs/``, not inside a run directory, so ``--keep-runs`` pruning and the copy of the newest run into
``reports/`` never touch it, and every run (also under ``-n 2``, each worker appending its own drills)
adds to the same file. The game-day summary's RTO chart is drawn from it. CI keeps it between scheduled
runs with a cache (.github/workflows/gameday.yml). Delete the file to start the history afresh.

Appends are one ``write`` of one line on a file opened with ``O_APPEND``, under an advisory lock where
the platform has one, so concurrent workers never interleave lines; unreadable lines are skipped when
reading (a crashed writer costs one drill's point, not the history).
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from harness.drills.model import DrillResult

HISTORY_NAME = "gameday-history.jsonl"
FORMAT = "runbook-harness-gameday-history/1"


@contextmanager
def locked(fd: int) -> Iterator[None]:
    """An exclusive advisory lock on ``fd`` while the block runs (no-op where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def history_line(result: DrillResult) -> dict[str, Any]:
    """The drill as one history record: what ran where, the verdict, RTO on the drill's clock and on the wall."""
    phases = {p.name: round(p.seconds, 3) for p in result.phases}
    return {
        # "at" is wall time (the drill's own clock may be a rehearsal clock in a maintenance window)
        "format": FORMAT,
        "run": result.run_id,
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "drill_clock_started": result.started.isoformat() if result.started else None,
        "inventory": result.inventory,
        "env": result.env,
        "target": result.target,
        "drill": result.name,
        "kind": result.kind,
        "outcome": result.outcome,
        "rto_s": None if result.rto_s is None else round(result.rto_s, 3),
        "rto_clock": result.clock,
        "rto_wall_s": None if result.rto_wall_s is None else round(result.rto_wall_s, 3),
        "rto_target_s": result.rto_target_s,
        "phases_s": phases,
        "wall_s": round(result.wall_s, 3),
        "recovery": result.recovery.method if result.recovery else None,
        "restored": result.restored,
        "failure": "; ".join(result.failures)[:500] or None,
    }


def append(path: Path, record: dict[str, Any]) -> None:
    """Append ``record`` as one line (created with its folder when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        with locked(fd):
            os.write(fd, data)
    finally:
        os.close(fd)


def read(path: Path) -> list[dict[str, Any]]:
    """Every readable record, oldest first (an empty list when there is no history yet)."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("drill"):
            out.append(doc)
    return out
