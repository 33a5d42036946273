"""Post-deployment monitor with the automatic-rollback triggers of 001 §6.3.1.

| Condition            | Threshold                   | Action                     |
| Health check failure | Status != 200               | Immediate rollback         |
| Error spike          | >5 errors in 2 minutes      | Rollback after 5-min window |
| Throttle spike       | >10 throttles in 2 minutes  | Rollback after 5-min window |

Every number comes from the inventory's ``[auto_rollback]``; the window is ``monitor_minutes``
(001 §4.3.1 "Verification (5min)") or ``monitor_seconds_by_env`` for the destination (001 §3.2.1
"Monitor for 30s errors"). The monitor polls on the target's clock (``clock.sleep``): a rehearsal's
5 minutes take no real minutes. Each poll invokes /health through ``fn:alias`` (seed defect 3) and
reads Errors and Throttles with GetMetricData on the alias's ``FunctionName`` + ``Resource``
dimensions (exact dimensions: only traffic through the alias counts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from harness import aws
from harness.actions import lambda_versions as lv
from harness.inventory.model import Environment
from harness.poll import PollTimeout, Waiting, poll
from harness.targets.base import TargetLike

REF = "001 §6.3.1"
# Harness settings, not runbook thresholds: how often the monitor looks within its window, and the
# metric resolution it reads (CloudWatch's 1-minute Lambda metrics).
POLLS_PER_WINDOW = 10
MIN_POLL_S = 10.0  # no closer than this: a 30 s window (001 §3.2.1) gets 4 polls
METRIC_PERIOD_S = 60


@dataclass(frozen=True)
class Trigger:
    """A 001 §6.3.1 condition that fired: which, when, what was seen, the threshold and the action."""

    name: str  # health | error-spike | throttle-spike
    at: datetime
    observed: str
    condition: str
    threshold: str
    action: str

    def quote(self) -> str:
        """The runbook's table row, and what fired it."""
        return (
            f'{REF}: "{self.condition} | {self.threshold} | {self.action}" — fired at {self.at:%H:%M:%S} UTC: '
            f"{self.observed}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "at": self.at.isoformat(),
            "observed": self.observed,
            "condition": self.condition,
            "threshold": self.threshold,
            "action": self.action,
            "quote": self.quote(),
        }


@dataclass(frozen=True)
class Sample:
    """One poll: the health probe and the error/throttle counts through the alias since deployment."""

    at: datetime
    health: lv.HealthProbe
    errors: float
    throttles: float


@dataclass
class MonitorResult:
    """The whole watch: window, polls, and the triggers that fired (first one decides)."""

    function: str
    alias: str
    started: datetime
    ended: datetime
    window_s: float
    samples: list[Sample] = field(default_factory=list)
    triggers: list[Trigger] = field(default_factory=list)

    @property
    def fired(self) -> Trigger | None:
        """The trigger that decides the automatic rollback (the first), or None."""
        return self.triggers[0] if self.triggers else None

    def summary(self) -> str:
        """One line for timelines and checklists."""
        span = f"{self.window_s:g} s, {len(self.samples)} polls"
        if self.fired:
            return (
                f"monitor {self.function}:{self.alias} ({span}): {self.fired.name} trigger fired: {self.fired.observed}"
            )
        last = self.samples[-1] if self.samples else None
        counts = f"{last.errors:g} errors, {last.throttles:g} throttles" if last else "no poll"
        return f"monitor {self.function}:{self.alias} ({span}): no trigger fired ({counts}; health 200 on every poll)"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "function": self.function,
            "alias": self.alias,
            "started": self.started.isoformat(),
            "ended": self.ended.isoformat(),
            "window_s": self.window_s,
            "triggers": [t.to_dict() for t in self.triggers],
            "samples": [
                {"at": s.at.isoformat(), "health": s.health.line(), "errors": s.errors, "throttles": s.throttles}
                for s in self.samples
            ],
        }


def monitor_seconds(env: Environment) -> float:
    """The monitor window for deployments into ``env`` (001 §3.2.1: 30 s into SIT; §4.3.1: 5 min into PROD)."""
    ar = env.auto_rollback
    return float(ar.monitor_seconds_by_env.get(env.name, ar.monitor_minutes * 60))


def spike(series: list[tuple[datetime, float]], window: timedelta, threshold: float) -> tuple[datetime, float] | None:
    """The first moment a sliding ``window`` of ``series`` sums to more than ``threshold`` (">5 errors in 2
    minutes")."""
    points = sorted(series)
    for i, (start, _) in enumerate(points):
        total = sum(v for t, v in points[i:] if t < start + window)
        if total > threshold:
            return start, total
    return None


def read_counts(
    cw: Any, fn: str, alias: str, start: datetime, end: datetime
) -> dict[str, list[tuple[datetime, float]]]:
    """Errors and Throttles per minute through ``fn:alias`` (GetMetricData, exact dimensions)."""
    dims = [{"Name": "FunctionName", "Value": fn}, {"Name": "Resource", "Value": f"{fn}:{alias}"}]
    queries = [
        {
            "Id": metric.lower(),
            "ReturnData": True,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/Lambda", "MetricName": metric, "Dimensions": dims},
                "Period": METRIC_PERIOD_S,
                "Stat": "Sum",
            },
        }
        for metric in ("Errors", "Throttles")
    ]
    first = start.replace(second=0, microsecond=0)
    last = end.replace(second=0, microsecond=0) + timedelta(seconds=METRIC_PERIOD_S)
    out: dict[str, list[tuple[datetime, float]]] = {"errors": [], "throttles": []}
    # botocore's paginator follows NextToken and stops on a repeated one (a monitor must never hang
    # while the promotion's audit record is IN_PROGRESS).
    for r in aws.paginate(
        cw,
        "get_metric_data",
        "MetricDataResults",
        MetricDataQueries=queries,
        StartTime=first,
        EndTime=last,
        ScanBy="TimestampAscending",
    ):
        out[r["Id"]] += list(zip(r.get("Timestamps", []), (float(v) for v in r.get("Values", [])), strict=True))
    return out


def watch(target: TargetLike, fn: str, *, since: datetime, seconds: float | None = None) -> MonitorResult:
    """Watch ``fn``'s alias after a deployment at ``since`` for the monitor window; report the triggers.

    Health failure stops the watch at once (Immediate rollback); a spike is recorded when first seen
    and the watch runs to the end of the window ("Rollback after 5-min window"), as 001 §6.3.1 says.
    One poll on the target's clock (harness/poll.py): the window running out is the watch's normal end.
    """
    env, clock = target.env, target.clock
    window_s = monitor_seconds(env) if seconds is None else seconds
    started = clock.now()
    result = MonitorResult(fn, env.alias, started, started, window_s)
    seen: set[str] = set()

    def look() -> MonitorResult:
        _sample(target, fn, since, window_s, result, seen)
        return result

    waiting: Waiting[MonitorResult] = Waiting(
        what=f"monitor {fn}:{env.alias}",
        state=lambda r: f"{len(r.samples)} polls, triggers: {', '.join(t.name for t in r.triggers) or 'none'}",
        done=lambda r: any(t.name == "health" for t in r.triggers),
        timeout_s=window_s,
        interval_s=max(window_s / POLLS_PER_WINDOW, MIN_POLL_S),
    )
    try:
        poll(clock, look, waiting)
    except PollTimeout:
        pass  # the whole window watched without a health failure: spikes, if any, are in result.triggers
    result.ended = clock.now()
    return result


def _sample(
    target: TargetLike, fn: str, since: datetime, window_s: float, result: MonitorResult, seen: set[str]
) -> None:
    """One poll: /health through the alias, error and throttle counts since ``since``, triggers that fired."""
    env, clock = target.env, target.clock
    ar = env.auto_rollback
    now = clock.now()
    probe = lv.invoke_health(target.client("lambda"), fn, env.alias, env.health_payload, ar.health_status, now)
    counts = read_counts(target.client("cloudwatch"), fn, env.alias, since, clock.now())
    errors = sum(v for _, v in counts["errors"])
    throttles = sum(v for _, v in counts["throttles"])
    result.samples.append(Sample(now, probe, errors, throttles))
    if not probe.ok:
        result.triggers.append(
            Trigger(
                "health",
                now,
                probe.line(),
                "Health check failure",
                f"Status != {ar.health_status}",
                "Immediate rollback",
            )
        )
        return
    spike_window = timedelta(minutes=ar.spike_window_minutes)
    for name, metric, limit, condition in (
        ("error-spike", "errors", ar.error_spike_count, "Error spike"),
        ("throttle-spike", "throttles", ar.throttle_spike_count, "Throttle spike"),
    ):
        hit = spike(counts[metric], spike_window, limit) if name not in seen else None
        if hit:
            seen.add(name)
            result.triggers.append(
                Trigger(
                    name,
                    now,
                    f"{hit[1]:g} {metric} in the {ar.spike_window_minutes} minutes from {hit[0]:%H:%M} UTC",
                    condition,
                    f">{limit} {metric} in {ar.spike_window_minutes} minutes",
                    f"Rollback after {window_s / 60:g}-min window",
                )
            )
