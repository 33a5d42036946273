"""Client-side pacing to the account's API request-rate quotas: a token bucket per quota ("lane"), taken
before a request is sent, so a healthy run is never throttled.

AWS meters each quota with a token bucket per account and Region (harness/quotas.py holds the documented
rates and bursts, the same table the rehearsal's referee enforces). Without pacing, botocore's adaptive
retry mode learns a quota by being throttled first (its CUBIC limiter starts only after a throttle, and
overshoots again while it probes upward). Here every client a target makes takes a token from its call's
lane in a ``before-send`` hook (each attempt, retries included), so every caller is paced without any call
site knowing: the checklist's GetAlias, the rollback batch's CreateAlias/UpdateAlias, a fault's reads. The
lanes are the target's, shared by all its clients and threads; a call whose API has no quota (Invoke, data
plane reads) passes at once. Adaptive retries stay as the safety net: another caller on the same account (a
second CI job, a deploy) drains the same buckets, and its traffic is still seen as throttling, retried and
counted in the evidence.

A lane paces at ``(100 - headroom_pct) %`` of the quota's rate and burst, and holds what ``jitter_ms``
refills (a token at least) less than the burst (inventory ``[api_quotas]``): the harness's clock and AWS's
bucket see a request at slightly different times, a request sent on the last token can arrive when AWS's
bucket has not quite refilled it, and a full bucket does not refill while a delayed request is on its way.
Waits are on the wall clock (``time.monotonic``), never on the run's injected clock: a quota is about real
request rates.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from harness.inventory.model import Environment
from harness.quotas import QUOTAS, Quota, quota_for, with_overrides


class Lane:
    """One quota's client-side token bucket: a caller reserves the next token and sleeps until it is due.

    Reservations keep callers in arrival order and never let the bucket go over its rate, however many threads
    wait: the bucket may go negative (tokens promised to callers still sleeping), and each new caller queues
    behind them.
    """

    def __init__(
        self,
        name: str,
        rate: float,
        burst: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name, self.rate, self.capacity = name, rate, max(burst, 1.0)
        self.clock, self.sleep = clock, sleep
        self.tokens, self.stamp = self.capacity, clock()
        self.lock = threading.Lock()
        self.calls = 0
        self.waited_s = 0.0  # summed over callers

    def reserve(self) -> float:
        """Take the next token; the seconds the caller must wait before sending (0.0: at once)."""
        with self.lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            self.tokens -= 1.0
            wait = -self.tokens / self.rate if self.tokens < 0 else 0.0
            self.calls += 1
            self.waited_s += wait
            return wait

    def acquire(self) -> float:
        """Wait for this caller's token (on the wall clock); the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self.sleep(wait)
        return wait


@dataclass(frozen=True)
class LaneStats:
    """What one lane did: its pace, the calls that took a token, the seconds callers waited for one."""

    name: str
    rate: float
    burst: float
    calls: int
    waited_s: float


class Pacer:
    """A target's lanes: one per quota, made on first use, paced at ``share`` x (1 - headroom) of the quota."""

    def __init__(
        self,
        quotas: Iterable[Quota] = QUOTAS,
        *,
        share: float = 1.0,
        headroom_pct: float = 0.0,
        jitter_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.quotas = tuple(quotas)
        self.share, self.jitter_s = share, jitter_s
        self.factor = share * (1.0 - headroom_pct / 100.0)
        self.clock, self.sleep = clock, sleep
        self.lanes: dict[str, Lane] = {}
        self._routes: dict[tuple[str, str], Lane | None] = {}
        self._lock = threading.Lock()

    def lane(self, service: str, operation: str) -> Lane | None:
        """The lane a call draws on (``service``: the SigV4 signing name), or None when its API has no quota."""
        key = (service, operation)
        try:
            return self._routes[key]
        except KeyError:
            pass
        with self._lock:
            quota = quota_for(service, operation, self.quotas)
            found = None
            if quota is not None:
                found = self.lanes.get(quota.group)
                if found is None:
                    # Short of the quota's burst by what a delay of jitter_s refills (a token at least): AWS's bucket
                    # does not refill while it is full, so requests queued behind a late one leave it behind the
                    # harness's by that delay.
                    burst, rate = quota.burst * self.share, quota.rate * self.factor
                    margin = max(1.0, rate * self.jitter_s)
                    capacity = max(1.0, min(burst * self.factor / self.share, burst - margin))
                    found = self.lanes[quota.group] = Lane(
                        quota.group, quota.rate * self.factor, capacity, clock=self.clock, sleep=self.sleep
                    )
            self._routes[key] = found
            return found

    def before_send(self, service: str, operation: str) -> float:
        """Wait for the call's token; the seconds waited."""
        lane = self.lane(service, operation)
        return lane.acquire() if lane is not None else 0.0

    def stats(self) -> list[LaneStats]:
        """Every lane used so far, busiest first."""
        with self._lock:
            lanes = list(self.lanes.values())
        return sorted(
            (LaneStats(ln.name, ln.rate, ln.capacity, ln.calls, ln.waited_s) for ln in lanes), key=lambda s: -s.calls
        )


def raised_quotas(env: Environment) -> tuple[Quota, ...]:
    """The quota table with the inventory's raised quotas for ``env``'s account (``[api_quotas]``)."""
    overrides = {name: (q.rate, q.burst or q.rate) for name, q in env.api_quotas.quotas.items()}
    return with_overrides(overrides)


def pacer_for(env: Environment, share: float = 1.0) -> Pacer | None:
    """The pacer for ``env``'s account (None when its inventory says ``pace = false``)."""
    if not env.api_quotas.pace:
        return None
    settings = env.api_quotas
    return Pacer(
        raised_quotas(env), share=share, headroom_pct=settings.headroom_pct, jitter_s=settings.jitter_ms / 1000.0
    )


def attach(client: Any, pacer_of: Callable[[], Pacer | None]) -> None:
    """Pace every request ``client`` sends (each attempt) with whatever pacer ``pacer_of()`` names at that moment."""
    model = client.meta.service_model
    service = model.signing_name or model.endpoint_prefix

    def before_send(request: Any = None, event_name: str = "", **_: Any) -> None:
        pacer = pacer_of()
        if pacer is not None:
            # S3's quotas are per request method (GET/HEAD, PUT/POST/DELETE), the others per API.
            operation = getattr(request, "method", "") if service == "s3" else event_name.rsplit(".", 1)[-1]
            pacer.before_send(service, operation)
        return None  # a value would stand in for the response (botocore's stubbing hook)

    client.meta.events.register("before-send", before_send)
