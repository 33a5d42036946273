"""The embedded target: moto in this process, seeded from the inventory, one account per environment."""

from __future__ import annotations

import time
from typing import Any

import boto3
import moto
from moto.core.base_backend import BackendDict

from harness.clock import Clock, SystemClock
from harness.inventory.model import Environment
from harness.targets.base import Target
from harness.targets.embedded.server import EmbeddedServer

DUMMY_KEY = "testing"  # moto accepts any credentials; these never leave the machine


def reset_account(account: str) -> None:
    """Forget every moto resource of ``account`` (all services, all regions) in this process."""
    for backend in list(BackendDict._instances):  # type: ignore[attr-defined]
        if account in backend:
            backend[account].reset()
            del backend[account]


class EmbeddedTarget(Target):
    """A rehearsal copy of one environment on moto at 127.0.0.1 — never a real account."""

    name = "embedded"
    max_attempts = 2  # moto answers unsupported calls with 500s; retrying them only wastes time

    def __init__(
        self,
        env: Environment,
        *,
        server: EmbeddedServer | None = None,
        seed: bool = True,
        fidelity: bool = True,
        clock: Clock | None = None,
        port: int = 0,
    ) -> None:
        super().__init__(env)
        self._own_server = server is None
        self.server = server or EmbeddedServer(default_account=env.account, port=port)
        self.seed_enabled = seed
        self.fidelity_enabled = fidelity
        self.clock = clock or SystemClock()
        self.seed_seconds: float | None = None
        self.seeded: Any = None
        self.extensions: Any = None

    def _endpoint_url(self, service: str) -> str | None:
        return self.server.url

    def _make_session(self) -> boto3.Session:
        session = boto3.Session(aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_KEY, region_name=self.env.region)
        session.events.register("before-sign", self._add_account_header)
        return session

    def _add_account_header(self, request: Any, **_: Any) -> None:
        # Per-request account isolation (ARCHITECTURE.md: a 12-digit access key does not isolate).
        request.headers["x-moto-account-id"] = self.env.account

    def start(self) -> "EmbeddedTarget":
        """Start moto (if this target owns it), install the fidelity extensions, seed, verify the account."""
        if self._own_server:
            reset_account(self.env.account)
            if self.fidelity_enabled:
                self._install_fidelity()
            self.server.start()
        self.verify_account()
        if self.seed_enabled:
            from harness.targets.embedded.seed import seed_environment

            began = time.perf_counter()
            self.seeded = seed_environment(self, clock=self.clock)
            self.seed_seconds = time.perf_counter() - began
        return self

    def _install_fidelity(self) -> None:
        try:
            from harness.targets.embedded import fidelity
        except ImportError:  # fidelity extensions not present in this build
            return
        self.extensions = fidelity.install(self)

    @property
    def api_base_url(self) -> str | None:
        """The HTTP API's base URL: the fidelity extension's local front when installed."""
        local = getattr(self.extensions, "api_base_url", None)
        return local or super().api_base_url

    def close(self) -> None:
        """Stop the server this target started."""
        if self.extensions is not None and hasattr(self.extensions, "close"):
            self.extensions.close()
        if self._own_server:
            self.server.stop()

    def describe(self) -> str:
        return (
            f"{self.env.describe()} target=embedded "
            f"(rehearsal on moto {moto.__version__} at 127.0.0.1:{self.server.port} — not a real account)"
        )
