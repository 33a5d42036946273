"""One poll on the injected clock, botocore's waiter as the model: behaviour as data, one loop that
returns the last reading or fails with it (never a silent timeout).

On a rehearsal clock ``clock.sleep`` moves time forward without waiting, so a 20-minute restore wait
costs no wall time; on AWS it is a real sleep (never a frozen clock: SigV4 signs with it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from harness.clock import Clock

T = TypeVar("T")


class PollTimeout(Exception, Generic[T]):
    """The condition was not met in time; carries the last reading (botocore's ``WaiterError.last_response``)."""

    def __init__(self, what: str, last: T, waited_s: float, state: str) -> None:
        self.what, self.last, self.waited_s, self.state = what, last, waited_s, state
        super().__init__(f"{what}: still {state} after {waited_s:.0f} s")


class PollFailed(Exception, Generic[T]):
    """The reading entered a state that will never reach the goal (a waiter's ``failure`` acceptor)."""

    def __init__(self, what: str, last: T, waited_s: float, state: str) -> None:
        self.what, self.last, self.waited_s, self.state = what, last, waited_s, state
        super().__init__(f"{what}: {state} after {waited_s:.0f} s")


@dataclass(frozen=True)
class Waiting(Generic[T]):
    """What to wait for: the reading's state, which states end it well or badly, and how often to look."""

    what: str
    state: Callable[[T], str]
    done: Callable[[T], bool]
    timeout_s: float
    interval_s: float
    failed: Callable[[T], bool] = lambda _reading: False


def poll(
    clock: Clock,
    read: Callable[[], T],
    waiting: Waiting[T],
    *,
    progress: Callable[[str], None] | None = None,
    every_s: float = 10.0,
) -> T:
    """Read until ``waiting.done``; the last reading, or PollFailed/PollTimeout carrying it.

    ``progress`` gets one line per state change and at least every ``every_s`` seconds of waiting
    (on the same clock), so an operator is never left without output on a long wait.
    """
    began = clock.now()
    last_state: str | None = None
    last_said = began
    while True:
        reading = read()
        state = waiting.state(reading)
        waited = (clock.now() - began).total_seconds()
        if progress and (state != last_state or (clock.now() - last_said).total_seconds() >= every_s):
            progress(f"{waiting.what}: {state} after {waited:.0f} s")
            last_said = clock.now()
        last_state = state
        if waiting.done(reading):
            return reading
        if waiting.failed(reading):
            raise PollFailed(waiting.what, reading, waited, state)
        if waited >= waiting.timeout_s:
            raise PollTimeout(waiting.what, reading, waited, state)
        clock.sleep(min(waiting.interval_s, max(waiting.timeout_s - waited, 0.0)) or waiting.interval_s)
