"""An injected clock: actions and checks ask it for "now" instead of freezing time (SigV4 must see real time)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.now(timezone.utc)


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
