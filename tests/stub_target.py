"""A target double for unit tests: canned clients and a declared capability set, no emulator."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from harness.clock import Clock, FixedClock
from harness.inventory.model import Environment
from harness.targets.base import CallListener, Target


class StubTarget(Target):
    """Hands out the given client objects; lacks the capabilities listed in ``missing``."""

    name = "stub"

    def __init__(
        self,
        env: Environment,
        clients: Mapping[str, Any] | None = None,
        missing: Mapping[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(env, clock=clock or FixedClock(datetime.now(timezone.utc)))
        self._stub_clients = dict(clients or {})
        self._missing = dict(missing or {})

    def not_rehearsable(self) -> Mapping[str, str]:
        """The capabilities this stub was told it lacks."""
        return self._missing

    def client(self, service: str, region: str | None = None) -> Any:
        """The canned client for ``service`` (KeyError names a service the test did not stub)."""
        return self._stub_clients[service]

    def add_call_listener(self, listener: CallListener) -> None:
        """Stub clients make no AWS calls to observe."""

    def remove_call_listener(self, listener: CallListener) -> None:
        """Nothing to remove."""
