"""The copy-back's writes (harness/actions/copy_back.py, 000 §6.6 option B): exactly the planned puts and deletes,
one BatchWriteItem at a time, with a stop request (harness/actions/interrupt.py) checked before each one, so an
interrupted copy sends nothing new and the batch in flight finishes."""

from __future__ import annotations

import time
from typing import Callable

from harness import aws
from harness.data_verify import DEFAULT_SEGMENTS, CopyDiff, copy_diff, key_names, key_text, typed_key
from harness.targets.base import TargetLike

PROGRESS_EVERY_S = 10.0
Progress = Callable[[str], None]
Stop = Callable[[], "str | None"]  # why the batch must stop starting work (a signal, a lost lease), or None


def quiet(_: str) -> None:
    """No progress output."""


def never() -> str | None:
    """Nothing asks an uninterruptible copy to stop."""
    return None


class TableChanged(RuntimeError):
    """The live table no longer differs from the source as planned: nothing is copied."""


class _Every:
    """A progress line at most every ``PROGRESS_EVERY_S`` seconds of wall time (the copy's own work)."""

    def __init__(self, progress: Progress) -> None:
        self.progress, self.said = progress, time.monotonic()

    def __call__(self, line: str, *, force: bool = False) -> None:
        if force or time.monotonic() - self.said >= PROGRESS_EVERY_S:
            self.progress(line)
            self.said = time.monotonic()


def reconcile(
    target: TargetLike,
    planned: CopyDiff,
    *,
    segments: int = DEFAULT_SEGMENTS,
    progress: Progress = quiet,
    should_stop: Stop = never,
) -> tuple[int, int]:
    """Put exactly the planned items and delete exactly the planned keys, after checking (a fresh diff, writers
    frozen) that they are still what it takes; (put, deleted). Once ``should_stop`` says why, no further
    BatchWriteItem is sent (the one in flight finishes) and the counts so far are returned."""
    ddb = target.client("dynamodb")
    table, source = planned.table, planned.source
    now = copy_diff(ddb, table, source, segments=segments)
    if (now.puts, now.deletes) != (planned.puts, planned.deletes):
        raise TableChanged(
            f"{table} changed since the plan: now {len(now.puts)} put / {len(now.deletes)} delete, planned "
            f"{len(planned.puts)} / {len(planned.deletes)}; nothing copied (plan again)"
        )
    say = _Every(progress)
    say(f"copy-back: {len(planned.puts)} put and {len(planned.deletes)} delete to do on {table}", force=True)
    names = key_names(ddb, table)
    wanted, pending, written = set(planned.puts), [], 0
    for item in aws.scan_items(ddb, source):
        if key_text(item, names) in wanted:
            pending.append(item)
        if len(pending) == aws.BATCH_WRITE:  # written as the scan goes: memory stays one batch
            if should_stop():
                return _stopped(say, table, written, 0)
            written += aws.batch_write(ddb, table, puts=pending)
            pending = []
            say(f"copy-back: {written}/{len(planned.puts)} put")
    if should_stop():
        return _stopped(say, table, written, 0)
    written += aws.batch_write(ddb, table, puts=pending)
    deleted = 0
    for i in range(0, len(planned.deletes), aws.BATCH_WRITE):
        if should_stop():
            return _stopped(say, table, written, deleted)
        chunk = planned.deletes[i : i + aws.BATCH_WRITE]
        deleted += aws.batch_write(ddb, table, deletes=[typed_key(k) for k in chunk])
        say(f"copy-back: {deleted}/{len(planned.deletes)} deleted")
    say(f"copy-back: {written} put, {deleted} deleted on {table}", force=True)
    return written, deleted


def _stopped(say: _Every, table: str, written: int, deleted: int) -> tuple[int, int]:
    say(f"copy-back: stopping ({written} put, {deleted} deleted on {table} so far); nothing new is sent", force=True)
    return written, deleted
