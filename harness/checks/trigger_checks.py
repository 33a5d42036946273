"""004 Automated Rollback Triggers, one row each: 5XX error rate, p99 latency, authentication failures
and memory, over each trigger's window (5 minutes), read where the inventory says each is published
(``[auto_rollback.sources]``: namespace, metric, statistic, dimensions).

004's Action column decides what a breach is: "Automatic rollback" (the 5XX rate) is a FAIL, "Alert,
manual decision" (latency, authentication failures, memory) a WARN. Within the threshold (004 triggers
on "> 5%", "> 3000ms", "> 20", "> 85%") the row passes.

Missing data is never read as healthy (as in checks/metrics.py): a query CloudWatch did not answer
completely is ERROR; no datapoint in the window is WARN ("not measurable"); requests without a 5XXError
datapoint are ERROR (API Gateway publishes 5XXError with every request, so the count is unknown, not 0).
All trigger queries of a phase go out in one GetMetricData call per window.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from harness.checks.context import CheckContext, Row
from harness.checks.metrics import COMPLETE, cloudwatch_start
from harness.checks.result import CheckResult, Verdict
from harness.inventory.model import TriggerMetric

CACHE_KEY = "triggers"
ACTIONS = {"rollback": "automatic rollback", "alert": "alert, manual decision"}
UNITS = {"error_rate_5xx": "%", "latency_p99": " ms", "auth_failures": "", "memory": "%"}


class TriggerUnavailable(RuntimeError):
    """CloudWatch did not answer a trigger query completely (the harness cannot read it: not a finding)."""


def _queries(trigger: TriggerMetric) -> list[tuple[str, str, str]]:
    """(query id, metric, statistic) for a trigger: its metric and, for a rate, the denominator's Sum."""
    out = [(f"{trigger.key}_value", trigger.metric, trigger.statistic)]
    if trigger.total_metric:
        out.append((f"{trigger.key}_total", trigger.total_metric, "Sum"))
    return out


def _window(ctx: CheckContext, trigger: TriggerMetric) -> tuple[Any, Any]:
    return ctx.now - timedelta(minutes=trigger.window_minutes), ctx.now


def read_triggers(ctx: CheckContext) -> dict[str, dict[str, Any]]:
    """Every trigger's values in its window, by query id: {"values": [...], "status": ..., "messages": [...]}."""
    if CACHE_KEY in ctx.cache:
        cached: dict[str, dict[str, Any]] = ctx.cache[CACHE_KEY]
        return cached
    by_window: dict[int, list[TriggerMetric]] = {}
    for t in ctx.env.triggers:
        by_window.setdefault(t.window_minutes, []).append(t)
    out: dict[str, dict[str, Any]] = {}
    for minutes, triggers in by_window.items():
        start, end = ctx.now - timedelta(minutes=minutes), ctx.now
        queries = [
            {
                "Id": qid,
                "MetricStat": {
                    "Metric": {
                        "Namespace": t.namespace,
                        "MetricName": metric,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in t.dimensions],
                    },
                    "Period": minutes * 60,
                    "Stat": stat,
                },
                "ReturnData": True,
            }
            for t in triggers
            for qid, metric, stat in _queries(t)
        ]
        kwargs: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        while True:
            resp = ctx.client("cloudwatch").get_metric_data(**kwargs)
            for r in resp.get("MetricDataResults", []):
                entry = out.setdefault(r["Id"], {"values": [], "status": None, "messages": []})
                entry["values"] += [float(v) for v in r.get("Values", [])]
                entry["messages"] += r.get("Messages") or []
                entry["status"] = r.get("StatusCode")
            if not resp.get("NextToken") or resp.get("NextToken") == kwargs.get("NextToken"):
                break
            kwargs["NextToken"] = resp["NextToken"]
    ctx.cache[CACHE_KEY] = out
    return out


def _value(ctx: CheckContext, qid: str) -> list[float]:
    """The complete values of one query; raises TriggerUnavailable otherwise."""
    entry = read_triggers(ctx).get(qid)
    if entry is None or entry["status"] != COMPLETE:
        status = "no result" if entry is None else (entry["status"] or "no StatusCode")
        said = "; ".join(f"{m.get('Code')}: {m.get('Value')}" for m in (entry or {}).get("messages", []))
        raise TriggerUnavailable(f"GetMetricData {status} for {qid}" + (f" ({said})" if said else ""))
    values: list[float] = entry["values"]
    return values


def _trigger(ctx: CheckContext, row: Row) -> TriggerMetric:
    trigger = row.item
    if not isinstance(trigger, TriggerMetric):
        raise LookupError(f"row {row.id} carries no [auto_rollback.sources] trigger")
    return trigger


def _expected(trigger: TriggerMetric) -> str:
    return (
        f"{trigger.metric} {trigger.statistic} <= {trigger.threshold:g}{UNITS.get(trigger.key, '')} over "
        f"{trigger.window_minutes} min "
        f"(004: above it, {ACTIONS[trigger.action]})"
    )


def _evidence(ctx: CheckContext, trigger: TriggerMetric, **more: Any) -> dict[str, Any]:
    start, end = _window(ctx, trigger)
    return {
        "namespace": trigger.namespace,
        "metric": trigger.metric,
        "statistic": trigger.statistic,
        "dimensions": dict(trigger.dimensions),
        "total_metric": trigger.total_metric,
        "start": start.isoformat(),
        "effective_start": cloudwatch_start(start, ctx.now).isoformat(),
        "end": end.isoformat(),
        "threshold": trigger.threshold,
        "action": trigger.action,
        **more,
    }


def _breach(trigger: TriggerMetric) -> Verdict:
    """004's Action column: automatic rollback is a FAIL, alert and manual decision a WARN."""
    return Verdict.FAIL if trigger.action == "rollback" else Verdict.WARN


def _judge(
    ctx: CheckContext, row: Row, trigger: TriggerMetric, value: float, observed: str, **evidence: Any
) -> CheckResult:
    """PASS within the threshold, the trigger's breach verdict above it."""
    evidence = _evidence(ctx, trigger, value=value, **evidence)
    if value > trigger.threshold:
        above = f"above {trigger.threshold:g}{UNITS.get(trigger.key, '')}"
        return row.result(
            _expected(trigger), f"{observed}: {above}, {ACTIONS[trigger.action]}", _breach(trigger), **evidence
        )
    return row.result(_expected(trigger), observed, Verdict.PASS, **evidence)


def _not_measured(ctx: CheckContext, row: Row, trigger: TriggerMetric, what: str) -> CheckResult:
    """No datapoint in the window: nothing was measured (never read as healthy)."""
    observed = f"{what} in the last {trigger.window_minutes} min: not measurable"
    return row.result(
        _expected(trigger), observed, Verdict.WARN, **_evidence(ctx, trigger, note="no datapoint is not 0")
    )


def _unknown(ctx: CheckContext, row: Row, trigger: TriggerMetric, why: str) -> CheckResult:
    """The harness cannot evaluate the row (incomplete answer, or a series missing next to its partner)."""
    return row.result(
        _expected(trigger), f"{why}: not measurable, not read as 0", Verdict.ERROR, **_evidence(ctx, trigger)
    )


def _single(ctx: CheckContext, row: Row, describe: str) -> CheckResult:
    """One-metric triggers (latency p99, authentication failures, memory): the worst period in the window."""
    trigger = _trigger(ctx, row)
    try:
        values = _value(ctx, f"{trigger.key}_value")
    except TriggerUnavailable as exc:
        return _unknown(ctx, row, trigger, str(exc))
    if not values:
        return _not_measured(ctx, row, trigger, f"no {trigger.metric} datapoint")
    # A Sum over the window adds its periods; any other statistic is judged by its worst period.
    worst = sum(values) if trigger.statistic == "Sum" else max(values)
    return _judge(
        ctx, row, trigger, worst, describe.format(value=worst, unit=UNITS.get(trigger.key, "")), values=values
    )


def check_5xx_rate(ctx: CheckContext, row: Row) -> CheckResult:
    """5XX errors / requests over the window <= the threshold (004: > 5 % -> automatic rollback)."""
    trigger = _trigger(ctx, row)
    try:
        errors, requests = _value(ctx, f"{trigger.key}_value"), _value(ctx, f"{trigger.key}_total")
    except TriggerUnavailable as exc:
        return _unknown(ctx, row, trigger, str(exc))
    n_err, n_req = sum(errors), sum(requests)
    if n_req == 0 and n_err == 0:
        return _not_measured(ctx, row, trigger, f"no requests ({trigger.total_metric})")
    if n_req > 0 and not errors:
        return _unknown(ctx, row, trigger, f"{n_req:g} requests but no {trigger.metric} datapoint")
    rate = 100.0 * n_err / n_req if n_req else 100.0  # errors without requests: evidence of failure
    return _judge(
        ctx,
        row,
        trigger,
        rate,
        f"{rate:.2f}% ({n_err:g} {trigger.metric} / {n_req:g} {trigger.total_metric})",
        errors=n_err,
        requests=n_req,
    )


def check_latency_p99(ctx: CheckContext, row: Row) -> CheckResult:
    """p99 latency over the window <= the threshold (004: > 3000 ms -> alert, manual decision)."""
    return _single(ctx, row, "p99 {value:.0f}{unit}")


def check_auth_failures(ctx: CheckContext, row: Row) -> CheckResult:
    """Authentication failures over the window <= the threshold (004: > 20 -> alert, manual decision)."""
    return _single(ctx, row, "{value:g} failures")


def check_memory(ctx: CheckContext, row: Row) -> CheckResult:
    """Memory use over the window <= the threshold (004: > 85 % -> alert, manual decision)."""
    return _single(ctx, row, "{value:.1f}{unit} of the configured memory")
