"""harness/poll.py: one wait loop on the injected clock; it returns the last reading or fails carrying it.

Every test runs on a FixedClock with ``time.sleep`` made to fail, so a 20-minute wait costs no wall time
and a loop that slept for real would go red.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import pytest

from harness.clock import FixedClock
from harness.poll import PollFailed, PollTimeout, Waiting, poll

T0 = datetime(2026, 11, 24, 20, 30, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _no_wall_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(seconds: float) -> None:
        raise AssertionError(f"poll slept {seconds} s of wall time")

    monkeypatch.setattr(time, "sleep", refuse)


def readings(*states: str) -> Callable[[], dict[str, str]]:
    """A read() that returns each state in turn (as a describe call's response), then the last forever."""
    it: Iterator[str] = iter(states)
    last = {"TableStatus": states[0]}

    def read() -> dict[str, str]:
        nonlocal last
        last = {"TableStatus": next(it, last["TableStatus"])}
        return last

    return read


def table_active(timeout_s: float = 600, interval_s: float = 20) -> Waiting[dict[str, str]]:
    return Waiting(
        what="restore of orders",
        state=lambda r: r["TableStatus"],
        done=lambda r: r["TableStatus"] == "ACTIVE",
        failed=lambda r: r["TableStatus"] == "DELETING",
        timeout_s=timeout_s,
        interval_s=interval_s,
    )


def test_returns_the_last_reading_when_done() -> None:
    clock = FixedClock(T0)
    got = poll(clock, readings("CREATING", "CREATING", "ACTIVE"), table_active())
    assert got == {"TableStatus": "ACTIVE"}
    assert clock.now() - T0 == timedelta(seconds=40)  # two intervals on the clock, none on the wall


def test_done_at_once_reads_once_and_does_not_wait() -> None:
    clock = FixedClock(T0)
    calls: list[int] = []

    def read() -> dict[str, str]:
        calls.append(1)
        return {"TableStatus": "ACTIVE"}

    assert poll(clock, read, table_active()) == {"TableStatus": "ACTIVE"}
    assert len(calls) == 1 and clock.now() == T0


def test_timeout_carries_the_last_reading_and_state() -> None:
    clock = FixedClock(T0)
    with pytest.raises(PollTimeout) as caught:
        poll(clock, readings("CREATING", "UPDATING"), table_active(timeout_s=1200, interval_s=20))
    err = caught.value
    assert err.last == {"TableStatus": "UPDATING"}
    assert err.state == "UPDATING"
    assert err.what == "restore of orders"
    assert err.waited_s == 1200
    assert str(err) == "restore of orders: still UPDATING after 1200 s"
    assert clock.now() - T0 == timedelta(seconds=1200)


def test_last_sleep_stops_at_the_timeout() -> None:
    # 25 s timeout, 10 s interval: readings at 0, 10, 20 and 25 s (not 30: the timeout is not overshot)
    clock = FixedClock(T0)
    seen: list[float] = []

    def read() -> dict[str, str]:
        seen.append((clock.now() - T0).total_seconds())
        return {"TableStatus": "CREATING"}

    with pytest.raises(PollTimeout) as caught:
        poll(clock, read, table_active(timeout_s=25, interval_s=10))
    assert seen == [0, 10, 20, 25]
    assert caught.value.waited_s == 25


def test_failure_state_raises_poll_failed_with_the_reading() -> None:
    clock = FixedClock(T0)
    with pytest.raises(PollFailed) as caught:
        poll(clock, readings("CREATING", "DELETING", "ACTIVE"), table_active())
    err = caught.value
    assert err.last == {"TableStatus": "DELETING"}
    assert err.state == "DELETING"
    assert err.waited_s == 20
    assert str(err) == "restore of orders: DELETING after 20 s"
    assert not isinstance(err, PollTimeout)


def test_progress_on_each_state_change() -> None:
    clock = FixedClock(T0)
    said: list[str] = []
    poll(
        clock, readings("CREATING", "CREATING", "UPDATING", "ACTIVE"), table_active(), progress=said.append, every_s=300
    )
    assert said == [
        "restore of orders: CREATING after 0 s",
        "restore of orders: UPDATING after 40 s",
        "restore of orders: ACTIVE after 60 s",
    ]


def test_progress_every_n_seconds_while_the_state_stays() -> None:
    clock = FixedClock(T0)
    said: list[str] = []
    states = ("CREATING",) * 7 + ("ACTIVE",)
    poll(clock, readings(*states), table_active(interval_s=10), progress=said.append, every_s=30)
    assert said == [
        "restore of orders: CREATING after 0 s",
        "restore of orders: CREATING after 30 s",
        "restore of orders: CREATING after 60 s",
        "restore of orders: ACTIVE after 70 s",
    ]


def test_no_progress_callback_is_fine() -> None:
    clock = FixedClock(T0)
    assert poll(clock, readings("CREATING", "ACTIVE"), table_active()) == {"TableStatus": "ACTIVE"}
