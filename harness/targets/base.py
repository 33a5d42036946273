"""The one interface every target implements: a boto3 session for one environment, one client per service."""

from __future__ import annotations

import threading
from typing import Any, Callable

import boto3
from botocore.config import Config

from harness.errors import AccountMismatch
from harness.inventory.model import Environment

CallListener = Callable[[str, str, dict], None]  # (service, operation, params)


class Target:
    """Hands out cached boto3 clients for one environment after checking the caller's account."""

    name = "base"
    max_attempts = 5

    def __init__(self, env: Environment) -> None:
        self.env = env
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._session: boto3.Session | None = None
        self._listeners: list[CallListener] = []
        self.verified_account: str | None = None

    # -- to override -------------------------------------------------------------------------
    def _make_session(self) -> boto3.Session:
        raise NotImplementedError

    def _endpoint_url(self, service: str) -> str | None:
        return None

    def describe(self) -> str:
        """One line for the pytest header."""
        return f"{self.env.describe()} target={self.name}"

    def start(self) -> "Target":
        """Prepare the target (start emulators, seed) and verify the account; returns self."""
        self.verify_account()
        return self

    def close(self) -> None:
        """Release what ``start`` acquired."""

    @property
    def api_base_url(self) -> str | None:
        """Base URL of the environment's HTTP API on this target."""
        return self.env.api.base_url if self.env.api else None

    # -- shared ------------------------------------------------------------------------------
    @property
    def session(self) -> boto3.Session:
        """The boto3 session all clients come from."""
        with self._lock:
            if self._session is None:
                self._session = self._make_session()
                self._session.events.register("before-call", self._notify)
            return self._session

    def client(self, service: str, region: str | None = None) -> Any:
        """A cached client for ``service`` in ``region`` (default: the env's region)."""
        region = region or self.env.region
        key = (service, region)
        session = self.session
        with self._lock:
            if key not in self._clients:
                self._clients[key] = session.client(
                    service,
                    region_name=region,
                    endpoint_url=self._endpoint_url(service),
                    config=Config(retries={"max_attempts": self.max_attempts, "mode": "standard"}),
                )
            return self._clients[key]

    def add_call_listener(self, listener: CallListener) -> None:
        """Call ``listener(service, operation, params)`` before every API call of this target."""
        self._listeners.append(listener)

    def remove_call_listener(self, listener: CallListener) -> None:
        """Stop calling ``listener``."""
        self._listeners.remove(listener)

    def _notify(self, model: Any, params: dict, **_: Any) -> None:
        for listener in list(self._listeners):
            listener(model.service_model.service_name, model.name, params)

    def verify_account(self) -> str:
        """STS caller identity must be the env's account; raises AccountMismatch otherwise (safety rule 1)."""
        ident = self.client("sts").get_caller_identity()
        actual = ident["Account"]
        if actual != self.env.account:
            raise AccountMismatch(
                f"refusing to run: the credentials are for account {actual} ({ident.get('Arn', '?')}) but "
                f"{self.env.inventory}/{self.env.name} is account {self.env.account}; no other AWS call was made"
            )
        self.verified_account = actual
        return actual
