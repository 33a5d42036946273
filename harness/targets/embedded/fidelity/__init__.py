"""Fidelity extensions: make the embedded emulator behave like AWS where the drills depend on it.

Measured gaps of moto 5.2 (docs/architecture.md, "Emulator facts") that a drill would otherwise pass
through, each closed by one module:

- ``lambda_invoke``: Invoke runs the resolved version's handler (subprocess, own zip and env, Timeout),
  reports ExecutedVersion/FunctionError, writes ``/aws/lambda/<fn>`` logs and AWS/Lambda metrics.
- ``lambda_control``: alias routing, RevisionId preconditions, modelled errors, status codes and Content-Type
  of Lambda's control plane, and LastModified on the target's clock.
- ``lambda_code_location``: GetFunction's ``Code.Location`` is a presigned URL on the emulator's endpoint that a
  plain HTTP GET downloads for 10 minutes on the target's clock (moto's S3-style URL answers nothing).
- ``dynamodb_pitr``: RestoreTableToPointInTime returns the items as they were at the restore time,
  with AWS's errors and a moving LatestRestorableDateTime.
- ``cloudwatch_percentiles``: pNN statistics in GetMetricStatistics and GetMetricData, exact dimensions.
- ``ecs_tasks``: services start tasks and ListTasks/DescribeTasks agree (task model: ``ecs_model``);
  running counts are lowered/restored through the target's handle (``ecs_faults``).
- ``http_api``: the inventory's API base URL served on 127.0.0.1 with proxy-integration semantics.
- ``amplify``: Amplify's REST API (apps, branches, jobs, deployments, domain associations) answered in
  front of moto, which has none (``amplify_model``, ``amplify_api``; users' traffic: ``amplify_traffic``).
- ``cloudformation_states``: failed updates roll back (or stop in UPDATE_FAILED with DisableRollback),
  RollbackStack, stack events on the account's clock, the emulator's own template history.
- ``api_quotas`` (optional, ``EmbeddedTarget(quotas=True)``): AWS's API request-rate quotas, answered
  with each service's own throttling error.
- ``one_clock``: moto's own timestamps (``utcnow``, S3 bucket creation, stack resource Timestamp) on the
  served account's clock while one of its requests runs.
- ``logs_insights``: CloudWatch Logs Insights queries over many log groups (filter, fields, sort, limit),
  which moto answers without ``filter``.

Patches are process-wide and installed once; they act only for accounts whose target installed
them (``registry``), so plain moto users in the same process keep moto's behaviour.

Installing never fails silently: a rehearsal without its extensions would answer like plain moto and
turn drills into skips or false passes. Any failure (a moto internal renamed or moved, an import
error, ...) is one :class:`~harness.errors.TargetError` line naming the extension and moto's version,
and the attempt is all or nothing: the patches it made are undone, so no target ever runs on a
half-patched moto (and a later attempt starts from moto's own classes).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any

import moto

from harness.errors import HarnessError, TargetError
from harness.targets.embedded.fidelity import registry
from harness.targets.embedded.fidelity.registry import AccountContext

if TYPE_CHECKING:
    from harness.targets.embedded.fidelity.amplify import AmplifyHandle
    from harness.targets.embedded.fidelity.cloudformation_states import CloudFormationHandle
    from harness.targets.embedded.fidelity.ecs_faults import EcsHandle
    from harness.targets.embedded.fidelity.http_api import HttpApi

# The moto releases whose internals the extensions are written against; pyproject.toml pins the same
# range (tests/fidelity/test_moto_contract.py checks both and every internal the extensions use).
MOTO_REQUIREMENT = ">=5.2.5,<5.3"
# Installed in this order; each module has a ``PATCHES`` table and ``install()``.
EXTENSIONS = (
    "lambda_invoke",
    "lambda_control",
    "lambda_code_location",
    "dynamodb_pitr",
    "cloudwatch_percentiles",
    "ecs_tasks",
    "http_api",
    "amplify",
    "cloudformation_states",
    "api_quotas",
    "logs_insights",
    "one_clock",
)

_install_lock = threading.Lock()
_installed = False


class Extensions:
    """What ``install`` returns to one target: its account context, ECS fault handle and HTTP API front."""

    def __init__(self, ctx: AccountContext, api: HttpApi | None = None, ecs: EcsHandle | None = None) -> None:
        self.context = ctx
        self.api = api
        self.ecs = ecs
        self.amplify: AmplifyHandle | None = None  # Amplify seeding history and users' traffic
        self.cloudformation: CloudFormationHandle | None = None  # the emulator's stack template history

    @property
    def api_base_url(self) -> str | None:
        """The local URL that stands in for the inventory's API base URL (None without an API)."""
        return self.api.base_url if self.api is not None else None

    def set_pitr_lag(self, lag: timedelta) -> None:
        """How far LatestRestorableDateTime trails "now" (AWS: typically 5 minutes)."""
        self.context.pitr_lag = lag

    def close(self) -> None:
        """Stop the HTTP API front, lift this target's ECS holds and stop acting for this account."""
        if self.api is not None:
            self.api.stop()
        if self.ecs is not None:
            self.ecs.close()
        registry.unregister(self.context)


def install_failure(extension: str, exc: BaseException) -> str:
    """The one line a failed install reports: the extension, moto's version, what broke, what is needed."""
    detail = " ".join(str(exc).split())
    if not isinstance(exc, (AttributeError, ImportError)) or not detail:
        detail = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return (
        f"fidelity extension {extension} failed to install on moto {moto.__version__}: {detail} (the embedded "
        f"target needs moto {MOTO_REQUIREMENT})"
    )


@contextmanager
def installing(extension: str) -> Iterator[None]:
    """Turn any failure while installing ``extension`` into one TargetError line (never a traceback)."""
    try:
        yield
    except HarnessError:
        raise
    except Exception as exc:
        raise TargetError(install_failure(extension, exc)) from exc


def load(extension: str) -> ModuleType:
    """The extension's module (imported here, so an ImportError is reported like any install failure)."""
    return importlib.import_module(f"{__name__}.{extension}")


def install_patches() -> None:
    """Patch moto's models once per process: idempotent, thread-safe, all or nothing."""
    global _installed
    with _install_lock:
        if _installed:
            return
        before = set(registry.patched())
        try:
            for extension in EXTENSIONS:
                with installing(extension):
                    load(extension).install()
        except TargetError:
            for owner, name in reversed(registry.patched()):
                if (owner, name) not in before:
                    registry.unpatch(owner, name)
            raise
        _installed = True


def install(target: Any) -> Extensions:
    """Install the extensions for ``target``'s account; returns its handle (``ecs``, ``api_base_url``, ``close()``)."""
    install_patches()
    server = target.server
    ctx = AccountContext(
        account=target.env.account,
        region=target.env.region,
        clock=target.clock,
        server_url=lambda: server.url if server.running else None,
    )
    registry.register(ctx)
    extensions = Extensions(ctx)
    try:
        with installing("ecs_tasks"):
            extensions.ecs = load("ecs_faults").EcsHandle(ctx.account, ctx.region, target.clock)
        if target.env.api:
            with installing("http_api"):
                extensions.api = load("http_api").HttpApi(ctx, target.env).start()
        with installing("amplify"):
            amplify = load("amplify")
            extensions.amplify = amplify.AmplifyHandle(ctx, target.env, target.client)
            if not server.running:  # a peer on a running server is answered by its owner's middleware
                server.middlewares.append(amplify.middleware(server.default_account))
        with installing("lambda_code_location"):
            if not server.running:  # a peer on a running server is answered by its owner's middleware
                server.middlewares.append(load("lambda_code_location").middleware())
        with installing("cloudformation_states"):
            extensions.cloudformation = load("cloudformation_states").CloudFormationHandle(
                ctx, target.env, target.client
            )
        with installing("api_quotas"):
            if not server.running:  # outermost: a throttled request is answered before Amplify or moto sees it
                server.middlewares.append(load("api_quotas").middleware(server.default_account))
    except TargetError:
        extensions.close()
        raise
    return extensions
