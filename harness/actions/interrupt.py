"""Interruptions that tell the truth: a batch stops starting work on the first SIGINT/SIGTERM, lets the
items in flight finish their step (move + verify, or put back), and the caller reads back the real
state of every item before it records and reports (000 §8: the incident report says what happened).

- :class:`Interrupts` — ``with Interrupts() as stop:``: the first SIGINT or SIGTERM sets ``stop`` (and
  names the signal); a second one raises ``KeyboardInterrupt`` at once (the audit record still ends
  FAILED: ``harness.records.audited`` finishes it on any exception). Outside the main thread (where
  Python cannot install handlers) it only carries the event.
- :func:`run_batch` — run ``work(item)`` for each item on a bounded pool, submitting a new item only
  while nothing asked to stop; returns each item's result, or marks it not started.
- :func:`read_back` — read every item's real state concurrently (after an interruption, GetAlias per
  function: the record's final versions are what the account says, never what was planned).

Used by rollback and promote (a pool of functions), and by copy-back and state restore
(harness/actions/copy_back.py, terraform_state.py: one batch, or one step, at a time, checking the same stop
request between them; :func:`tally` is their verdict line).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from types import FrameType, TracebackType
from typing import Any, Generic, TypeVar

NOT_STARTED = "NOT_STARTED"  # an item's outcome when the batch stopped before starting it
PUT_BACK = "PUT_BACK"  # an item that moved and was put back where it was
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

T = TypeVar("T")
R = TypeVar("R")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupts:
    """SIGINT/SIGTERM as a stop request (first) or an abort (second); see the module docstring."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal_name: str | None = None
        self.reason: str | None = None  # set by ``request`` for a non-signal stop (a lost lease)
        self._saved: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt(f"second {signal.Signals(signum).name}: aborting at once")
        self.signal_name = signal.Signals(signum).name
        self.event.set()

    def request(self, reason: str) -> None:
        """Ask the batch to stop for a reason other than a signal."""
        if not self.event.is_set():
            self.reason = reason
            self.event.set()

    @property
    def stopped(self) -> str | None:
        """Why the batch was asked to stop (``SIGINT``, ``SIGTERM``, a reason), or None."""
        if not self.event.is_set():
            return None
        return self.signal_name or self.reason or "stop requested"

    def __enter__(self) -> "Interrupts":
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig, old in self._saved.items():
            signal.signal(sig, old)
        self._saved.clear()


@dataclass
class BatchRun(Generic[T, R]):
    """What a batch did: each started item's result (by position), and the items never started."""

    items: Sequence[T]
    results: dict[int, R] = field(default_factory=dict)
    stopped: str | None = None

    @property
    def not_started(self) -> list[T]:
        """Items the batch never started (it stopped first)."""
        return [item for i, item in enumerate(self.items) if i not in self.results]


def run_batch(
    items: Sequence[T],
    work: Callable[[T], R],
    *,
    max_workers: int,
    should_stop: Callable[[], str | None],
    name: str = "batch",
) -> BatchRun[T, R]:
    """``work`` for each item, at most ``max_workers`` at a time; no new item once ``should_stop()`` says why.

    Items in flight always finish (their own step includes any put-back). The main thread waits in
    short slices so a signal handler runs promptly.
    """
    run: BatchRun[T, R] = BatchRun(items)
    pending: dict[Future[R], int] = {}
    nxt = 0
    pool = ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(items) or 1)), thread_name_prefix=name)
    try:
        while nxt < len(items) or pending:
            run.stopped = run.stopped or should_stop()
            while run.stopped is None and nxt < len(items) and len(pending) < max_workers:
                pending[pool.submit(work, items[nxt])] = nxt
                nxt += 1
            if not pending:
                break
            done, _ = wait(list(pending), timeout=0.1, return_when=FIRST_COMPLETED)
            for f in done:
                run.results[pending.pop(f)] = f.result()
        return run
    finally:
        # a second signal (KeyboardInterrupt) lands here: nothing new starts; in-flight threads end on their own
        pool.shutdown(wait=False, cancel_futures=True)


def read_back(items: Sequence[T], read: Callable[[T], R], *, max_workers: int) -> list[R]:
    """``read(item)`` for every item, concurrently, in order (the real state after an interruption)."""
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(items))), thread_name_prefix="read-back") as pool:
        return list(pool.map(read, items))


def summary(moved: int, put_back: int, not_started: int, failed: int, total: int, why: str) -> str:
    """``INTERRUPTED (SIGINT): 149 of 300 moved; 151 not started`` (the report's and the CLI's line)."""
    parts = [f"{moved} of {total} moved"]
    if put_back:
        parts.append(f"{put_back} put back")
    if failed:
        parts.append(f"{failed} failed")
    parts.append(f"{not_started} not started")
    return f"INTERRUPTED ({why}): " + "; ".join(parts)


def tally(why: str, done: Sequence[tuple[int, int, str]], not_started: int) -> str:
    """``INTERRUPTED (SIGINT): 120 of 500 put; 3 of 3 deleted; 380 not started`` from read-back counts
    ``(done, planned, verb)``; a kind with nothing planned is left out (the first is always shown)."""
    parts = [f"{n} of {total} {verb}" for i, (n, total, verb) in enumerate(done) if total or i == 0]
    return f"INTERRUPTED ({why}): " + "; ".join([*parts, f"{not_started} not started"])
