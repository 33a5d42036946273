"""Error, throttle and latency spikes in a function's AWS/Lambda metrics (000 §2.1, §2.2; 001 §6.3.1).

How each spike is made, and why:

- **errors**: real invocations of a bad version (``raise``), by version qualifier, so the alias and its
  traffic stay as they are. Invocations, Errors, Duration and the ``[ERROR]`` log lines then come from
  the same path as production's (the fidelity extension meters every invoke), and the same code works
  on AWS, where ``PutMetricData`` into an ``AWS/`` namespace is refused. The count is the runbook's own
  spike, one more than ``auto_rollback.error_spike_count`` (001 §6.3.1 ">5 errors in 2 minutes").
- **throttles**: published ``Throttles`` datapoints (``emulator-faults``): moto never throttles, so no
  invocation can produce one. Labelled simulated. (On AWS: reserved concurrency 0, then invoke.)
- **latency**: published ``Duration`` datapoints above the verification limit (``emulator-faults``,
  simulated; with Invocations and a zero Errors datapoint so the error-rate row stays measurable), or
  ``mode="invoke"``: real invocations of a ``slow=S`` version, which costs S real seconds each — the
  portable way, too slow for a default rehearsal.

Metrics are history: the undo deletes the bad version it published, but datapoints stay in CloudWatch
until they leave the windows that read them. The 001 §2.1 gates read 24 hours (SIT: at most 5 errors,
0 throttles): a spike on SIT blocks a SIT -> PROD promotion for a day — on AWS and in a rehearsal
session alike, so the default drills do not inject spikes into the session's environment.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

from harness.actions.guards import Authority
from harness.faults.base import Fault, guard
from harness.faults.deployment import needs_for, publish_bad, read_served, tidy
from harness.targets.base import TargetLike

NAMESPACE = "AWS/Lambda"
# Harness settings, not runbook thresholds: a published latency spike is this many slow invocations at
# this multiple of the p95 limit, so the window's p95 lands in the spike whatever the baseline holds.
SLOW_INVOCATIONS = 100
SLOW_FACTOR = 2.0


def _dims(fn: str) -> list[dict[str, str]]:
    return [{"Name": "FunctionName", "Value": fn}]


def _stamp(target: TargetLike) -> datetime:
    return target.clock.now().astimezone(timezone.utc)


def error_spike(
    target: TargetLike, fn: str, authority: Authority, *, count: int | None = None, package: bytes | None = None
) -> Fault:
    """``count`` failing invocations of a bad version of ``fn`` (default: error_spike_count + 1, 001 §6.3.1)."""
    guard(target, authority, needs=("lambda-invoke",) + needs_for(package))
    ar = target.env.auto_rollback
    n = ar.error_spike_count + 1 if count is None else count
    now = target.clock.now()
    fault = Fault(
        "error-spike",
        f"lambda:{fn}",
        "000 §2.1 error rate thresholds; 001 §6.3.1 error spike",
        {},
        {},
        now,
        undo=lambda: [],
        detected_by=("error-rate", "log-errors"),
    )
    s = read_served(target, fn)
    lam = target.client("lambda")
    try:
        bad = publish_bad(target, s, "raise", package, fault.id)
        failed = 0
        for _ in range(n):
            resp = lam.invoke(FunctionName=f"{fn}:{bad}", Payload=b"{}")
            resp["Payload"].read()
            failed += 1 if resp.get("FunctionError") else 0
    except Exception:
        tidy(target, s)
        raise
    fault.before[fn] = {"alias_version": s.version}
    fault.after[fn] = {"invocations": n, "errors": failed, "version": bad, "window_from": now.isoformat()}
    fault.undo = lambda: (
        tidy(target, s) + [f"{fn}: {failed} Errors datapoints stay in CloudWatch until they leave the windows"]
    )
    fault.notes.append(
        f"{n} invocations of {fn}:{bad} (raises) at {now:%H:%M:%S} UTC: {failed} errors; the alias still serves "
        f"{s.version}"
    )
    return fault


def throttle_spike(target: TargetLike, fn: str, authority: Authority, *, count: int | None = None) -> Fault:
    """``count`` Throttles published for ``fn`` now (default: throttle_spike_count + 1, 001 §6.3.1); simulated."""
    guard(target, authority, needs=("emulator-faults",))
    n = target.env.auto_rollback.throttle_spike_count + 1 if count is None else count
    now = target.clock.now()
    target.client("cloudwatch").put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": "Throttles",
                "Dimensions": _dims(fn),
                "Timestamp": _stamp(target),
                "Value": float(n),
                "Unit": "Count",
            }
        ],
    )
    return Fault(
        "throttle-spike",
        f"lambda:{fn}",
        "001 §2.1 (0 throttles); 001 §6.3.1 throttle spike",
        {fn: {"throttles": 0}},
        {fn: {"throttles": n, "at": now.isoformat()}},
        now,
        undo=lambda: [f"{fn}: {n} Throttles stay in CloudWatch until they leave the windows (24 h gate lookback)"],
        detected_by=("source-throttles",),
        simulated="moto never throttles: Throttles datapoints published into AWS/Lambda (on AWS: reserved "
        "concurrency 0, then invoke)",
    )


def _published_latency(
    target: TargetLike, fn: str, authority: Authority, limit: float, seconds: float, count: int | None, now: datetime
) -> Fault:
    """The latency spike as Duration datapoints published into AWS/Lambda (emulator targets only)."""
    guard(target, authority, needs=("emulator-faults",))
    n = SLOW_INVOCATIONS if count is None else count
    ms = seconds * 1000.0
    stamp = _stamp(target)
    target.client("cloudwatch").put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": _dims(fn),
                "Timestamp": stamp,
                "Value": float(n),
                "Unit": "Count",
            },
            {"MetricName": "Errors", "Dimensions": _dims(fn), "Timestamp": stamp, "Value": 0.0, "Unit": "Count"},
            {
                "MetricName": "Duration",
                "Dimensions": _dims(fn),
                "Timestamp": stamp,
                "Values": [ms],
                "Counts": [float(n)],
                "Unit": "Milliseconds",
            },
        ],
    )
    return Fault(
        "latency-spike",
        f"lambda:{fn}",
        "000 §2.2 latency thresholds; 000 §7.4 latency p95",
        {fn: {"p95_limit_s": limit}},
        {fn: {"invocations": n, "duration_s": seconds, "at": now.isoformat()}},
        now,
        undo=lambda: [f"{fn}: the slow Duration datapoints stay in CloudWatch until they leave the window"],
        detected_by=("latency-p95",),
        simulated="Duration datapoints published into AWS/Lambda (mode='invoke' runs a slow version instead, S "
        "real seconds each)",
    )


def latency_spike(
    target: TargetLike,
    fn: str,
    authority: Authority,
    *,
    seconds: float | None = None,
    count: int | None = None,
    mode: str | None = None,
) -> Fault:
    """p95 Duration of ``fn`` above the verification limit (000 §7.4 "< 3s"): published (emulator) or invoked (slow
    version)."""
    limit = target.env.thresholds.verification_latency_p95_max_s
    seconds = limit * SLOW_FACTOR if seconds is None else seconds
    mode = mode or ("publish" if target.supports("emulator-faults") else "invoke")
    now = target.clock.now()
    if mode == "publish":
        return _published_latency(target, fn, authority, limit, seconds, count, now)
    if mode != "invoke":
        raise ValueError(f"latency spike mode {mode!r}: publish or invoke")
    guard(target, authority, needs=("lambda-invoke", "emulator-faults"))
    n = max(1, math.ceil(count if count is not None else 1))
    s = read_served(target, fn)
    fault = Fault(
        "latency-spike",
        f"lambda:{fn}",
        "000 §2.2 latency thresholds; 000 §7.4 latency p95",
        {fn: {"p95_limit_s": limit}},
        {},
        now,
        undo=lambda: [],
        detected_by=("latency-p95",),
    )
    lam = target.client("lambda")
    try:
        slow = publish_bad(target, s, f"slow={seconds:g}", None, fault.id)
        for _ in range(n):
            lam.invoke(FunctionName=f"{fn}:{slow}", Payload=b"{}")["Payload"].read()
    except Exception:
        tidy(target, s)
        raise
    fault.after[fn] = {"invocations": n, "duration_s": seconds, "version": slow}
    fault.undo = lambda: tidy(target, s)
    return fault
