"""The one interface every target implements: a boto3 session for one environment, one client per service."""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Mapping, Protocol

import boto3
from botocore.config import Config

from harness.clock import Clock, SystemClock
from harness.errors import AccountMismatch
from harness.inventory.model import Environment
from harness.pacing import Pacer, attach, pacer_for
from harness.targets.capabilities import validate

CallListener = Callable[[str, str, dict[str, Any]], None]  # (service, operation, params)
RetryListener = Callable[
    [str, str, str], None
]  # (service, operation, throttling error code) of a throttled call being retried

# What botocore's retry handlers treat as throttling (botocore/retries/standard.py ThrottledRetryableChecker,
# data/_retry.json "throttling*"): each service's code for "over quota", plus any HTTP 429.
THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TOO_MANY_REQUESTS = 429


def throttle_code(exc_or_response: Any) -> str | None:
    """The throttling error code of a ClientError or a parsed response, or None when it is not a throttle."""
    response = getattr(exc_or_response, "response", exc_or_response)
    if not isinstance(response, dict):
        return None
    code = str((response.get("Error") or {}).get("Code") or "")
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    if code in THROTTLE_CODES or status == TOO_MANY_REQUESTS:
        return code or str(status)
    return None


class TargetLike(Protocol):
    """What checks, actions and drills use of a target (tests may pass a stub with these)."""

    env: Environment
    clock: Clock
    name: str

    def client(self, service: str, region: str | None = None) -> Any:
        """A cached client for ``service``."""

    def supports(self, capability: str) -> bool:
        """True when this target can rehearse ``capability``."""

    def unsupported_reason(self, capability: str) -> str | None:
        """Why ``capability`` is not rehearsable here (None when it is)."""

    def add_call_listener(self, listener: CallListener) -> None:
        """Observe every API call."""

    def remove_call_listener(self, listener: CallListener) -> None:
        """Stop observing."""

    # Targets may also offer add_retry_listener/remove_retry_listener (RetryListener): checks/runner.py
    # uses them when present to count the throttled calls a row retried.


class Target:
    """Hands out cached boto3 clients for one environment after checking the caller's account.

    A target owns the run's clock (checks, actions, drills and the emulator's fidelity extensions
    read that one) and declares what it cannot rehearse (``not_rehearsable``: capability -> reason).
    """

    name = "base"
    max_attempts = 5
    # botocore's adaptive mode: standard retries plus a client-side token bucket that, once a call is
    # throttled, limits the client's send rate (CUBIC, as TCP does) instead of hammering the account
    # (botocore "Retries" guide; AWS SDKs and Tools reference, "Retry behavior"). Each retry of a
    # throttled call waits rand(0, 1) x min(2^attempt, 20) s, so max_attempts bounds how long a call may wait.
    retry_mode = "adaptive"
    is_real_account = False  # True only for AWS itself (or what AWS_ENDPOINT_URL stands in for)
    in_process = False  # True when the emulator lives in this process (one per xdist worker)
    disposable = False  # True when nothing outlives the run (mutations need no --allow-mutation)
    # boto3 waiters: None keeps each waiter's documented delay and attempts (real AWS).
    waiter_config: Mapping[str, Any] | None = None

    def __init__(self, env: Environment, *, clock: Clock | None = None) -> None:
        self.env = env
        self.clock: Clock = clock or self.default_clock()
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()
        self._session: boto3.Session | None = None
        self._listeners: list[CallListener] = []
        self._retry_listeners: list[RetryListener] = []
        self._pending_throttle = threading.local()  # per calling thread: a throttle waiting to be retried
        self.throttled_retries = 0  # throttled calls retried by botocore, over the target's life
        self.verified_account: str | None = None
        # Client-side pacing to the account's API quotas (harness/pacing.py): a real account is paced from the
        # first call; an emulator only while it rehearses the quotas (``pace()`` once they are enforced).
        self.pacer: Pacer | None = pacer_for(env) if self.is_real_account else None

    # -- to override -------------------------------------------------------------------------
    def default_clock(self) -> Clock:
        """The clock a target uses unless given one (wall time: never frozen around real AWS)."""
        return SystemClock()

    def not_rehearsable(self) -> Mapping[str, str]:
        """Capabilities this target lacks, each with the reason a scenario skips."""
        return {}

    def emulator(self) -> str:
        """What answers the calls, for reports (``none (real AWS)``, ``moto 5.2.5 (embedded)``...)."""
        return "none (real AWS)"

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

    def preflight(self) -> None:
        """Check, without starting, what ``start`` will need (the xdist controller calls it before workers start)."""

    def close(self) -> None:
        """Release what ``start`` acquired."""

    @property
    def api_base_url(self) -> str | None:
        """Base URL of the environment's HTTP API on this target."""
        return self.env.api.base_url if self.env.api else None

    # -- shared ------------------------------------------------------------------------------
    def supports(self, capability: str) -> bool:
        """True when this target can rehearse ``capability`` (harness.targets.capabilities)."""
        return validate(capability) not in self.not_rehearsable()

    def unsupported_reason(self, capability: str) -> str | None:
        """Why ``capability`` is not rehearsable on this target, or None."""
        reason = self.not_rehearsable().get(validate(capability))
        return None if reason is None else f"{capability} not rehearsable on target {self.name}: {reason}"

    @property
    def session(self) -> boto3.Session:
        """The boto3 session all clients come from."""
        with self._lock:
            if self._session is None:
                self._session = self._make_session()
                self._session.events.register("before-call", self._notify)
                self._session.events.register("needs-retry", self._note_throttle)
                self._session.events.register("before-send", self._note_retry)
            return self._session

    def client(self, service: str, region: str | None = None) -> Any:
        """A cached client for ``service`` in ``region`` (default: the env's region)."""
        return self._cached_client(service, region or self.env.region, None)

    def lane_client(self, service: str, lane: str, region: str | None = None) -> Any:
        """A client of its own for calls that draw on one API quota (``lane`` names it, e.g. Lambda's
        control plane). botocore's adaptive mode keeps one rate limiter per client: calls throttled on a
        15-per-second quota must not slow the same client's other APIs (GetFunction's 100/s, Invoke).
        A target that hands out clients of its own (a test double overriding ``client``) has no lanes."""
        if type(self).client is not Target.client:
            return self.client(service, region)
        return self._cached_client(service, region or self.env.region, lane)

    def _cached_client(self, service: str, region: str, lane: str | None) -> Any:
        key = (service, region) if lane is None else (service, region, lane)
        session = self.session
        with self._lock:
            if key not in self._clients:
                client = session.client(
                    service,
                    region_name=region,
                    endpoint_url=self._endpoint_url(service),
                    config=Config(retries={"max_attempts": self.max_attempts, "mode": self.retry_mode}),
                )
                # Every request of every client waits for its quota's token before it is sent (when pacing).
                attach(client, lambda: self.pacer)
                self._clients[key] = client
            return self._clients[key]

    def pace(self, share: float = 1.0) -> Pacer | None:
        """Pace every client of this target (made before or after) to the inventory's API quotas, ``share`` of
        each (1/workers when processes share the account's quotas); None when the inventory says ``pace = false``.
        """
        self.pacer = pacer_for(self.env, share)
        return self.pacer

    def stop_pacing(self) -> None:
        """Send at once from now on (adaptive retries alone stand between the calls and the quotas)."""
        self.pacer = None

    def add_call_listener(self, listener: CallListener) -> None:
        """Call ``listener(service, operation, params)`` before every API call of this target."""
        self._listeners.append(listener)

    def remove_call_listener(self, listener: CallListener) -> None:
        """Stop calling ``listener``."""
        self._listeners.remove(listener)

    def add_retry_listener(self, listener: RetryListener) -> None:
        """Call ``listener(service, operation, code)`` each time botocore retries a throttled call of this target."""
        self._retry_listeners.append(listener)

    def remove_retry_listener(self, listener: RetryListener) -> None:
        """Stop calling ``listener``."""
        self._retry_listeners.remove(listener)

    def _notify(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self._pending_throttle.value = None  # a new call starts
        for listener in list(self._listeners):
            listener(model.service_model.service_name, model.name, params)

    def _note_throttle(self, response: Any = None, operation: Any = None, **_: Any) -> None:
        # needs-retry sees every response; remember a throttle until the next send shows it was retried.
        parsed = response[1] if isinstance(response, tuple) and len(response) == 2 else None
        code = throttle_code(parsed) if parsed is not None else None
        self._pending_throttle.value = (
            (operation.service_model.service_name, operation.name, code) if code and operation else None
        )

    def _note_retry(self, **_: Any) -> None:
        pending = getattr(self._pending_throttle, "value", None)
        if pending is None:
            return
        self._pending_throttle.value = None
        with self._lock:
            self.throttled_retries += 1
        for listener in list(self._retry_listeners):
            listener(*pending)

    def describe_target(self) -> str:
        """One line for headers and reports, from the target itself."""
        return self.describe()

    def verify_account(self) -> str:
        """STS caller identity must be the env's account; raises AccountMismatch otherwise (safety rule 1)."""
        ident = self.client("sts").get_caller_identity()
        actual = str(ident["Account"])
        if actual != self.env.account:
            raise AccountMismatch(
                f"refusing to run: the credentials are for account {actual} ({ident.get('Arn', '?')}) but "
                f"{self.env.inventory}/{self.env.name} is account {self.env.account}; no other AWS call was made"
            )
        self.verified_account = actual
        return actual


USER_PROFILE_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")


def forget_user_aws_profile() -> None:
    """A rehearsal never reads the user's AWS configuration (call before moto is imported).

    The emulator targets sign with isolated sessions, but moto (imported in-process for the embedded
    target) and botocore's region tables build plain ``boto3.Session()``s, which fail on an exported
    ``AWS_PROFILE`` naming a profile this machine lacks (a platform engineer often has ``bbws-prod``
    exported) and would otherwise read it. Child processes (xdist workers, handlers) inherit the
    cleaned environment.
    """
    for key in USER_PROFILE_VARIABLES:
        os.environ.pop(key, None)


def isolated_session(access_key: str, secret_key: str, region: str) -> boto3.Session:
    """A boto3 session that reads nothing of the user's AWS configuration.

    Emulator targets sign with their own dummy keys: ``AWS_PROFILE`` (a platform engineer often has
    ``bbws-prod`` exported), ``AWS_ACCESS_KEY_ID`` and the shared config/credentials files are ignored,
    so a rehearsal neither crashes on a missing profile nor signs with real keys.
    """
    import botocore.session

    core = botocore.session.Session(
        session_vars={
            "profile": (None, None, None, None),
            "config_file": (None, None, os.devnull, None),
            "credentials_file": (None, None, os.devnull, None),
        }
    )
    return boto3.Session(
        botocore_session=core, aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region
    )
