"""Injected clocks: targets, checks, actions and drills ask their target's clock for "now".

Time is never frozen around real AWS calls (SigV4 signs with the wall clock). A rehearsal moves its
own clock instead: :class:`RehearsalClock` follows the wall clock and jumps ahead when a monitor
"sleeps", so a 5-minute post-deployment watch (001 §6.3.1) takes no real minutes on the emulator;
:class:`FixedClock` moves only when a test tells it to.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass on this clock."""


class SystemClock:
    """Wall-clock time in UTC; ``sleep`` really sleeps (real accounts)."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float) -> None:
        """Sleep for real."""
        if seconds > 0:
            time.sleep(seconds)


@dataclass
class FixedClock:
    """A clock for tests and rehearsals: starts at ``at`` and moves only when told."""

    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def now(self) -> datetime:
        """The clock's current time."""
        return self.at

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward by a timedelta given as keyword arguments."""
        self.at = self.at + timedelta(**delta)
        return self.at

    def sleep(self, seconds: float) -> None:
        """Move the clock forward ``seconds`` at once."""
        self.advance(seconds=max(seconds, 0.0))


class RehearsalClock:
    """Wall-clock time from ``start`` (default: now), plus whatever was slept or advanced.

    Time keeps flowing (so events a second apart are a second apart), but ``sleep`` and ``advance``
    move the clock without waiting: the rehearsal's metrics, logs and PITR history follow it.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._origin = (start or datetime.now(timezone.utc)).astimezone(timezone.utc)
        self._t0 = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Start + elapsed real time + time slept."""
        with self._lock:
            return self._origin + timedelta(seconds=time.monotonic() - self._t0 + self._offset)

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward by a timedelta given as keyword arguments."""
        with self._lock:
            self._offset += timedelta(**delta).total_seconds()
        return self.now()

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass on this clock without waiting."""
        self.advance(seconds=max(seconds, 0.0))


def parse_utc(text: str) -> datetime:
    """An ISO 8601 time (``2026-11-24T20:30:00Z``) as aware UTC; ValueError names the text."""
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {text!r} (e.g. 2026-11-24T20:30:00Z)") from None
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)
