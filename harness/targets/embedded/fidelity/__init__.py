"""Fidelity extensions: make the embedded emulator behave like AWS where the drills depend on it.

Measured gaps of moto 5.2 (ARCHITECTURE.md, "Emulator facts") that a drill would otherwise pass
through, each closed by one module:

- ``lambda_invoke``: Invoke runs the resolved version's handler (subprocess, own zip and env, Timeout),
  reports ExecutedVersion/FunctionError, writes ``/aws/lambda/<fn>`` logs and AWS/Lambda metrics.
- ``dynamodb_pitr``: RestoreTableToPointInTime returns the items as they were at the restore time,
  with AWS's errors and a moving LatestRestorableDateTime.
- ``cloudwatch_percentiles``: pNN statistics in GetMetricStatistics and GetMetricData, exact dimensions.
- ``ecs_tasks``: services start tasks, running counts can be lowered/restored, ListTasks/DescribeTasks agree.
- ``http_api``: the inventory's API base URL served on 127.0.0.1 with proxy-integration semantics.

Patches are process-wide and installed once; they act only for accounts whose target installed
them (``registry``), so plain moto users in the same process keep moto's behaviour.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from harness.targets.embedded.fidelity import (
    cloudwatch_percentiles,
    dynamodb_pitr,
    ecs_tasks,
    lambda_invoke,
    registry,
)
from harness.targets.embedded.fidelity.http_api import HttpApi
from harness.targets.embedded.fidelity.registry import AccountContext

_install_lock = threading.Lock()
_installed = False


class Extensions:
    """What ``install`` returns to one target: its account context and its HTTP API front."""

    def __init__(self, ctx: AccountContext, api: HttpApi | None) -> None:
        self.context = ctx
        self.api = api

    @property
    def api_base_url(self) -> str | None:
        """The local URL that stands in for the inventory's API base URL (None without an API)."""
        return self.api.base_url if self.api is not None else None

    def set_pitr_lag(self, lag: timedelta) -> None:
        """How far LatestRestorableDateTime trails "now" (AWS: typically 5 minutes)."""
        self.context.pitr_lag = lag

    def close(self) -> None:
        """Stop the HTTP API front and stop acting for this account."""
        if self.api is not None:
            self.api.stop()
        registry.unregister(self.context)


def install_patches() -> None:
    """Patch moto's models once per process (idempotent, thread-safe)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        lambda_invoke.install()
        dynamodb_pitr.install()
        cloudwatch_percentiles.install()
        ecs_tasks.install()
        _installed = True


def install(target: Any) -> Extensions:
    """Install the extensions for ``target``'s account; returns its handle (``close()``, ``api_base_url``)."""
    install_patches()
    server = target.server
    ctx = AccountContext(
        account=target.env.account,
        region=target.env.region,
        clock=target.clock,
        server_url=lambda: server.url if server.running else None,
    )
    registry.register(ctx)
    api = HttpApi(ctx, target.env).start() if target.env.api else None
    return Extensions(ctx, api)
