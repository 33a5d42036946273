"""The embedded target: moto in this process, seeded from the inventory, one account per environment."""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Any, Mapping

import boto3
import moto
from moto.core.base_backend import BackendDict

from harness.clock import Clock, RehearsalClock
from harness.errors import TargetError
from harness.inventory.model import Environment
from harness.targets.base import Target, isolated_session
from harness.targets.embedded.server import EmbeddedServer

# What no embedded rehearsal can show (README "Fidelity": not rehearsable), whatever is installed.
ALWAYS_MISSING = {
    "alarm-evaluation": "moto never evaluates alarms (SetAlarmState works; such states are simulated)",
    "s3-replication-copy": "moto stores the replication configuration but copies nothing",
}
# Off unless asked for (EmbeddedTarget(quotas=True), pytest --rehearse-quotas): a rehearsal is fast by default.
QUOTAS_OFF = {"api-quotas": "AWS API quotas are not enforced on the embedded target (--rehearse-quotas enforces them)"}
# What the fidelity extensions add to plain moto (EmbeddedTarget(fidelity=False) lacks them).
FROM_FIDELITY = {
    "lambda-invoke": "moto without Docker never runs function code",
    "lambda-weighted-routing": "moto ignores alias routing weights",
    "lambda-metrics": "moto publishes no AWS/Lambda metrics for invocations",
    "pitr-restore": "moto restores the current items whatever the restore time",
    "ecs": "moto's services never start tasks",
    "percentiles": "moto has no percentile statistics",
    "api-http": "moto cannot invoke API Gateway stages in server mode",
    "emulator-faults": "fault handles come with the fidelity extensions",
    "amplify": "moto has no Amplify",
    "cloudformation-states": "moto's CloudFormation does not fail updates or support RollbackStack",
}

SEED_ENV_VAR = "HARNESS_REHEARSAL_SEED"
DUMMY_KEY = "testing"  # moto accepts any credentials; these never leave the machine

# moto's backends are process-global and keyed by account: a second target on a served account would
# wipe the first's resources, take over its clock and, when it closed, leave the first on plain moto.
# So one started target owns an account per process (weak: a target dropped without close() frees it).
_owners: dict[str, weakref.ref["EmbeddedTarget"]] = {}
_owners_lock = threading.Lock()


class AccountInUse(TargetError):
    """A second embedded target for an account already served in this process (one line, no change made)."""


def claim_account(target: "EmbeddedTarget") -> None:
    """Make ``target`` the owner of its account in this process, or raise AccountInUse naming the owner."""
    account = target.env.account
    with _owners_lock:
        ref = _owners.get(account)
        owner = ref() if ref is not None else None
        if owner is not None and owner is not target:
            raise AccountInUse(
                f"account {account} is already served by another embedded target in this process "
                f"({owner.env.describe()}); a second one would wipe its resources and take over its clock: close "
                "it first, or rehearse on another account"
            )
        _owners[account] = weakref.ref(target)


def release_account(target: "EmbeddedTarget") -> None:
    """Give up ``target``'s account (no-op when another target owns it)."""
    with _owners_lock:
        ref = _owners.get(target.env.account)
        if ref is not None and ref() in (target, None):
            del _owners[target.env.account]


def account_owner(account: str) -> "EmbeddedTarget | None":
    """The started embedded target serving ``account`` in this process, if any."""
    ref = _owners.get(account)
    return ref() if ref is not None else None


def reset_account(account: str) -> None:
    """Forget every moto resource of ``account`` (all services, all regions) in this process."""
    for backend in list(vars(BackendDict)["_instances"]):  # moto's registry of every backend dict
        if account in backend:
            backend[account].reset()
            del backend[account]


def moto_session(env: Environment) -> boto3.Session:
    """A session with the rehearsal's dummy keys whose every request names ``env``'s account to moto
    (per-request account isolation, docs/architecture.md "Emulator facts": a 12-digit access key does not isolate)."""
    session = isolated_session(DUMMY_KEY, DUMMY_KEY, env.region)

    def add_account_header(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = env.account

    session.events.register("before-sign", add_account_header)
    return session


class EmbeddedTarget(Target):
    """A rehearsal copy of one environment on moto at 127.0.0.1 — never a real account."""

    name = "embedded"
    in_process = True
    disposable = True
    max_attempts = 2  # moto answers unsupported calls with 500s; retrying them only wastes time
    # With quotas enforced, throttled calls are retried as on AWS: adaptive mode's client-side limiter
    # settles on the quota after a few throttles, and each call may need several attempts meanwhile.
    quota_max_attempts = 10
    # Waiters poll an in-process emulator: a short delay, and enough attempts for ~10 s.
    waiter_config = {"Delay": 0.1, "MaxAttempts": 100}

    def __init__(
        self,
        env: Environment,
        *,
        server: EmbeddedServer | None = None,
        seed: bool = True,
        fidelity: bool = True,
        clock: Clock | None = None,
        port: int = 0,
        quotas: bool = False,
        quota_share: float = 1.0,
        random_seed: int | None = None,
    ) -> None:
        super().__init__(env, clock=clock)
        # Seeding is deterministic (same inventory, environment and clock start: same rehearsal); a seed
        # here or in $HARNESS_REHEARSAL_SEED varies moto's generated ids on purpose.
        env_seed = os.environ.get(SEED_ENV_VAR)
        self.random_seed = random_seed if random_seed is not None else (int(env_seed) if env_seed else None)
        if quotas and not fidelity:
            raise TargetError(
                "EmbeddedTarget(quotas=True) needs the fidelity extensions (fidelity=True): the quotas are one of them"
            )
        self.quotas_enabled = quotas
        self.quota_share = quota_share  # this emulator's share of the account's quotas (1/workers under xdist)
        if quotas:
            self.max_attempts = self.quota_max_attempts
        self._own_server = server is None
        self.server = server or EmbeddedServer(default_account=env.account, port=port)
        self.seed_enabled = seed
        self.fidelity_enabled = fidelity
        self.seed_seconds: float | None = None
        self.seeded: Any = None
        self.extensions: Any = None

    def default_clock(self) -> Clock:
        """Wall time that monitors can move forward without waiting (never used against real AWS)."""
        return RehearsalClock()

    def not_rehearsable(self) -> Mapping[str, str]:
        """moto's gaps the fidelity extensions do not close (and, without them, those they do)."""
        missing = dict(ALWAYS_MISSING)
        if not self.quotas_enabled:
            missing.update(QUOTAS_OFF)
        if not self.fidelity_enabled:
            missing.update(FROM_FIDELITY)
        return missing

    def emulator(self) -> str:
        """The moto version answering the calls."""
        return f"moto {moto.__version__} (embedded)"

    def _endpoint_url(self, service: str) -> str | None:
        return self.server.url

    def _make_session(self) -> boto3.Session:
        return moto_session(self.env)

    def start(self) -> "EmbeddedTarget":
        """Start moto (if this target owns it), install the fidelity extensions, seed, verify the account.

        Refused with :class:`AccountInUse` (nothing changed) when another started target serves the account."""
        claim_account(self)
        try:
            return self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> "EmbeddedTarget":
        if self._own_server:
            reset_account(self.env.account)
            if self.fidelity_enabled:
                self._install_fidelity()
            if hasattr(self.clock, "advance"):  # clients of a served rehearsal move its clock here
                from harness.targets.embedded.server import clock_control

                self.server.middlewares.append(clock_control(self.clock))
            self.server.start()
        else:
            # A peer environment on a shared server (harness/targets/embedded/peer.py): its own
            # account, so its own fidelity context; wiped first when it is seeded afresh.
            if self.seed_enabled:
                reset_account(self.env.account)
            if self.fidelity_enabled and self.extensions is None:
                self._install_fidelity()
        self.verify_account()
        if self.seed_enabled:
            from harness.targets.embedded.seed import seed_environment

            began = time.perf_counter()
            self.seeded = seed_environment(self, clock=self.clock, seed=self.random_seed)
            self.seed_seconds = time.perf_counter() - began
        if self.quotas_enabled:
            # From here on, as on AWS: the seed is the rehearsal's set-up, not the workload it rehearses.
            from harness.pacing import raised_quotas
            from harness.targets.embedded.fidelity import api_quotas

            api_quotas.enforce(self.env.account, self.quota_share, raised_quotas(self.env))
            self.pace(self.quota_share)  # the clients pace themselves to what the referee enforces
        return self

    def preflight(self) -> None:
        """Install the fidelity patches in this process: a moto that does not fit fails here, in one line."""
        if self.fidelity_enabled:
            from harness.targets.embedded import fidelity

            fidelity.install_patches()

    def _install_fidelity(self) -> None:
        # Never swallowed: a rehearsal without its extensions would answer like plain moto and
        # turn drills into skips or false passes. The error names the extension and moto's version
        # (one TargetError line; fidelity.install undoes a partial install before raising).
        try:
            from harness.targets.embedded import fidelity
        except ImportError as exc:
            raise TargetError(f"fidelity extensions failed to import on moto {moto.__version__}: {exc}") from exc

        self.extensions = fidelity.install(self)  # .ecs: this target's ECS fault handle

    def function_code(self, name: str, qualifier: str | None) -> bytes:
        """A version's deployment package, read in process (the bytes its Code.Location answers; lambda_code.py)."""
        from harness.targets.embedded.lambda_code import function_code

        return function_code(self.env.account, self.env.region, name, qualifier)

    @property
    def api_base_url(self) -> str | None:
        """The fidelity extension's local HTTP front; None without it (never the real hostname)."""
        return getattr(self.extensions, "api_base_url", None)

    def close(self) -> None:
        """Stop the server this target started and give up its account."""
        if account_owner(self.env.account) is not self:
            return  # never started (or refused, or closed already): another target may own the account
        try:
            self._close()
        finally:
            release_account(self)

    def _close(self) -> None:
        if self.quotas_enabled:
            from harness.targets.embedded.fidelity import api_quotas

            api_quotas.release(self.env.account)
        if self.extensions is not None and hasattr(self.extensions, "close"):
            self.extensions.close()
        if self._own_server:
            self.server.stop()

    def describe(self) -> str:
        where = f"127.0.0.1:{self.server.port}" if self.server.running else "127.0.0.1"
        return (
            f"{self.env.describe()} target=embedded (rehearsal on moto {moto.__version__} at {where} — not a "
            "real account)"
        )


class SharedEmbeddedTarget(Target):
    """An xdist worker's view of the controller's embedded rehearsal (``pytest -n N --shared-emulator``):
    the same seeded server, reached over HTTP in the environment's account.

    The emulator and its fidelity extensions live in the controller's process: Invoke, percentiles, ECS
    counts and quotas behave as on the controller's own target, but this worker cannot move the
    emulator's clock or hold its ECS tasks down (no ``clock-control``, no ``emulator-faults``), and
    ``mutating`` tests are skipped (one account shared by every worker: a drill in one would change
    what another verifies)."""

    name = "embedded"
    disposable = True
    shared_by_workers = True  # the plugin skips mutating tests on it
    max_attempts = EmbeddedTarget.max_attempts
    waiter_config = EmbeddedTarget.waiter_config

    def __init__(
        self, env: Environment, *, url: str, api_base_url: str | None, quotas: bool = False, clock: Clock | None = None
    ) -> None:
        super().__init__(env, clock=clock)
        self.url, self._api_base_url, self.quotas_enabled = url, api_base_url, quotas
        if quotas:
            self.max_attempts = EmbeddedTarget.quota_max_attempts

    def not_rehearsable(self) -> Mapping[str, str]:
        """The embedded target's gaps, plus what only the controller's process can do."""
        missing = dict(ALWAYS_MISSING)
        if not self.quotas_enabled:
            missing.update(QUOTAS_OFF)
        missing["clock-control"] = (
            "the shared emulator runs on the xdist controller's clock (run without --shared-emulator)"
        )
        missing["emulator-faults"] = (
            "fault handles live in the xdist controller's process (run without --shared-emulator)"
        )
        return missing

    def emulator(self) -> str:
        """The moto version answering the calls, shared by the workers."""
        return f"moto {moto.__version__} (embedded, shared by the xdist workers)"

    def _endpoint_url(self, service: str) -> str | None:
        return self.url

    def _make_session(self) -> boto3.Session:
        return moto_session(self.env)

    @property
    def api_base_url(self) -> str | None:
        """The controller's local HTTP front of the environment's API."""
        return self._api_base_url

    def describe(self) -> str:
        """One line for the pytest header: the controller's emulator, shared."""
        return (
            f"{self.env.describe()} target=embedded (rehearsal on moto {moto.__version__} at {self.url}, shared "
            "by the xdist workers — not a real account)"
        )
