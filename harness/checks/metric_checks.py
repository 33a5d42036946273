"""Metric rows: error rate and p95 latency in the verification window (000 §7.1, §7.4) and the
pre-promotion error/throttle gates on the source environment (001 §2.1, §3.1.1, §4.1.1).

Missing data is never read as healthy:

- CloudWatch's answer must be complete (StatusCode ``Complete`` after every ``NextToken``); anything
  else is ERROR naming the query and the status (checks/metrics.py), never "0 errors";
- Lambda publishes its invocation metrics only when a function is invoked ("invocation metrics are
  binary indicators of the outcome of an invocation", Lambda developer guide): a window with no
  Invocations and no Errors is an idle function, WARN ("not measurable"), with that explanation in
  the evidence;
- Errors with no Invocations is evidence of failure (Lambda counts every failed invocation in both),
  so it FAILs; Invocations without an Errors (or Duration) datapoint means the series is missing, and
  the row is ERROR (the count is unknown), not a pass;
- Throttles are different: throttled requests are not Invocations, and a function that was never
  throttled may have no Throttles datapoint, so no Throttles datapoint is WARN ("not measured").

Every row states the window it read (``CheckResult.window``): CloudWatch rounds StartTime down to
the minute, so a metric row's window can start up to 59 s before the log rows' window.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from harness.checks.context import CheckContext, Row
from harness.checks.functions import for_each_function
from harness.checks.metrics import MetricQuery, MetricsUnavailable, MetricValue, gate_start, window_query, window_text
from harness.checks.result import CheckResult, Verdict
from harness.inventory.schema import GateSpec

IDLE_NOTE = (
    "Lambda publishes AWS/Lambda invocation metrics (Invocations, Errors, Duration) only for invocations: "
    "a function that was not invoked in the window has no datapoint at all. Nothing was measured; this is not read "
    "as healthy."
)
MISSING_NOTE = (
    "Lambda sends {metric} with every invocation: Invocations has data but {metric} has none, so the "
    "value is unknown (not read as 0)."
)


def _window(ctx: CheckContext, metric: str, fn: str, stat: str) -> MetricQuery:
    start, end = ctx.window
    return window_query(metric, fn, stat, start, end)


def _minutes(ctx: CheckContext) -> int:
    return ctx.env.thresholds.verification_window_minutes


def _stated(ctx: CheckContext, result: CheckResult, query: MetricQuery) -> CheckResult:
    """The row with the window it read (the same for every function of a row)."""
    return replace(result, window=window_text(query, ctx.now))


def _invocations(value: MetricValue) -> float:
    return value.total if value.has_data else 0.0


def _unavailable(ctx: CheckContext, row: Row, expected: str, fn: str, exc: MetricsUnavailable) -> CheckResult:
    """CloudWatch did not answer the query completely: the harness cannot evaluate the row."""
    observed = f"{exc}: not measurable, not read as 0"
    return row.result(expected, observed, Verdict.ERROR, function=fn, metrics_error=exc.evidence(ctx.now))


# -- error-rate (000 §7.1 step 3, §7.4 "< 1%") -----------------------------------------------------


def _error_rate_expected(ctx: CheckContext) -> str:
    limit = ctx.env.thresholds.verification_error_rate_max_pct
    return f"error rate < {limit:g}% over the last {_minutes(ctx)} min"


def check_error_rate(ctx: CheckContext, row: Row) -> CheckResult:
    """Errors / Invocations over the verification window is below the limit (000 §7.4: < 1 %)."""
    result = for_each_function(ctx, row, _error_rate, _error_rate_expected(ctx))
    return _stated(ctx, result, _window(ctx, "Invocations", row.resource, "Sum"))


def _error_rate(ctx: CheckContext, row: Row, fn: str) -> CheckResult:
    limit = ctx.env.thresholds.verification_error_rate_max_pct
    expected = _error_rate_expected(ctx)
    try:
        inv = ctx.metrics.get(_window(ctx, "Invocations", fn, "Sum"))
        err = ctx.metrics.get(_window(ctx, "Errors", fn, "Sum"))
    except MetricsUnavailable as exc:
        return _unavailable(ctx, row, expected, fn, exc)
    evidence: dict[str, Any] = {"function": fn, "invocations": inv.evidence(), "errors": err.evidence()}
    invocations = _invocations(inv)
    if err.has_data and err.total > 0 and invocations == 0:
        observed = (
            f"{err.total:g} errors but no invocations recorded in the last {_minutes(ctx)} min: evidence of failure"
        )
        return row.result(expected, observed, Verdict.FAIL, **evidence)
    if invocations == 0:
        evidence["note"] = IDLE_NOTE
        return row.result(
            expected,
            f"no invocations in the last {_minutes(ctx)} min: error rate not measurable",
            Verdict.WARN,
            **evidence,
        )
    if not err.has_data:
        evidence["note"] = MISSING_NOTE.format(metric="Errors")
        observed = (
            f"{invocations:g} invocations but no Errors datapoint in the last {_minutes(ctx)} min: error count unknown"
        )
        return row.result(expected, observed, Verdict.ERROR, **evidence)
    rate = 100.0 * err.total / invocations
    evidence["error_rate_pct"] = rate
    observed = f"{rate:.2f}% ({err.total:g} errors / {invocations:g} invocations)"
    return row.result(expected, observed, Verdict.PASS if rate < limit else Verdict.FAIL, **evidence)


# -- latency-p95 (000 §7.4 "< 3s") -----------------------------------------------------------------


def _latency_expected(ctx: CheckContext) -> str:
    return f"p95 duration < {ctx.env.thresholds.verification_latency_p95_max_s:g} s over the last {_minutes(ctx)} min"


def check_latency_p95(ctx: CheckContext, row: Row) -> CheckResult:
    """Lambda Duration p95 over the verification window is below the limit (000 §7.4: < 3 s)."""
    result = for_each_function(ctx, row, _latency_p95, _latency_expected(ctx))
    return _stated(ctx, result, _window(ctx, "Duration", row.resource, "p95"))


def _latency_p95(ctx: CheckContext, row: Row, fn: str) -> CheckResult:
    limit = ctx.env.thresholds.verification_latency_p95_max_s
    expected = _latency_expected(ctx)
    try:
        p95 = ctx.metrics.get(_window(ctx, "Duration", fn, "p95"))
        inv = ctx.metrics.get(_window(ctx, "Invocations", fn, "Sum"))
    except MetricsUnavailable as exc:
        return _unavailable(ctx, row, expected, fn, exc)
    evidence: dict[str, Any] = {"function": fn, "duration_p95": p95.evidence(), "invocations": inv.evidence()}
    if p95.has_data:
        seconds = p95.maximum / 1000.0  # Duration is in milliseconds
        evidence["p95_s"] = seconds
        return row.result(
            expected, f"p95 {seconds:.3f} s", Verdict.PASS if seconds < limit else Verdict.FAIL, **evidence
        )
    invocations = _invocations(inv)
    if invocations == 0:
        evidence["note"] = IDLE_NOTE
        return row.result(
            expected,
            f"no invocations and no Duration datapoints in the last {_minutes(ctx)} min: p95 not measurable",
            Verdict.WARN,
            **evidence,
        )
    evidence["note"] = MISSING_NOTE.format(metric="Duration")
    observed = (
        f"{invocations:g} invocations but no Duration p95 datapoint in the last {_minutes(ctx)} min: latency unknown"
    )
    return row.result(expected, observed, Verdict.ERROR, **evidence)


# -- source-errors / source-throttles (001 §2.1 quality gates) -------------------------------------


def _gate(ctx: CheckContext, row: Row) -> GateSpec:
    gate = ctx.env.gates.get(ctx.env.name)
    if gate is None:
        raise LookupError(
            f"inventory {ctx.env.inventory} has no [gates.{ctx.env.name}]: {ctx.env.name} is not a promotion source"
        )
    return gate


def _lookback(ctx: CheckContext, metric: str, fn: str, hours: int) -> MetricQuery:
    return window_query(metric, fn, "Sum", gate_start(ctx, hours), ctx.now)


def _gate_expected(gate: GateSpec, metric: str) -> str:
    # 001 §2.1 says "<5 errors/24h" for SIT but the §4.1.1 script fails only when > 5; the
    # inventory's errors_strictly_below records which reading applies (seed README).
    if metric == "Errors":
        op, limit = ("<" if gate.errors_strictly_below else "<="), gate.max_errors
    else:
        op, limit = "<=", gate.max_throttles
    return f"{metric.lower()} {op} {limit} in the last {gate.lookback_hours} h"


def _gate_read(ctx: CheckContext, fn: str, metric: str, hours: int) -> tuple[MetricValue, MetricValue, dict[str, Any]]:
    """``metric`` and Invocations over the gate's lookback (one batch), with their evidence."""
    value = ctx.metrics.get(_lookback(ctx, metric, fn, hours))
    inv = ctx.metrics.get(_lookback(ctx, "Invocations", fn, hours))
    return value, inv, {"function": fn, metric.lower(): value.evidence(), "invocations": inv.evidence()}


def _source_errors(ctx: CheckContext, row: Row, fn: str) -> CheckResult:
    """Errors over the gate's lookback against the gate (001 §2.1)."""
    gate = _gate(ctx, row)
    expected = _gate_expected(gate, "Errors")
    try:
        errors, inv, evidence = _gate_read(ctx, fn, "Errors", gate.lookback_hours)
    except MetricsUnavailable as exc:
        return _unavailable(ctx, row, expected, fn, exc)
    evidence["gate"] = gate.model_dump()
    invocations = _invocations(inv)
    if errors.has_data:
        n = errors.total
        if n > 0 and invocations == 0:
            return row.result(
                expected,
                f"{n:g} errors but no invocations recorded in the last {gate.lookback_hours} h: evidence of failure",
                Verdict.FAIL,
                **evidence,
            )
        ok = n < gate.max_errors if gate.errors_strictly_below else n <= gate.max_errors
        return row.result(
            expected, f"{n:g} errors ({invocations:g} invocations)", Verdict.PASS if ok else Verdict.FAIL, **evidence
        )
    if invocations == 0:
        evidence["note"] = IDLE_NOTE
        return row.result(
            expected,
            f"no invocations and no Errors datapoints in the last {gate.lookback_hours} h: not measurable",
            Verdict.WARN,
            **evidence,
        )
    evidence["note"] = MISSING_NOTE.format(metric="Errors")
    return row.result(
        expected,
        f"{invocations:g} invocations but no Errors datapoint in the last {gate.lookback_hours} h: error count unknown",
        Verdict.ERROR,
        **evidence,
    )


def _source_throttles(ctx: CheckContext, row: Row, fn: str) -> CheckResult:
    """Throttles over the gate's lookback against the gate (001 §2.1: 0)."""
    gate = _gate(ctx, row)
    expected = _gate_expected(gate, "Throttles")
    try:
        throttles, inv, evidence = _gate_read(ctx, fn, "Throttles", gate.lookback_hours)
    except MetricsUnavailable as exc:
        return _unavailable(ctx, row, expected, fn, exc)
    evidence["gate"] = gate.model_dump()
    if throttles.has_data:
        n = throttles.total
        return row.result(
            expected, f"{n:g} throttles", Verdict.PASS if n <= gate.max_throttles else Verdict.FAIL, **evidence
        )
    invocations = _invocations(inv)
    # Throttled requests are not Invocations, and Lambda may publish no Throttles datapoint for a
    # function that was never throttled: no datapoint is "not measured", never "0 throttles".
    evidence["note"] = (
        IDLE_NOTE
        if invocations == 0
        else "no Throttles datapoint: the throttle count was not measured (not read as 0)."
    )
    what = "no invocations and no" if invocations == 0 else f"{invocations:g} invocations but no"
    return row.result(
        expected,
        f"{what} Throttles datapoints in the last {gate.lookback_hours} h: not measurable",
        Verdict.WARN,
        **evidence,
    )


def check_source_errors(ctx: CheckContext, row: Row) -> CheckResult:
    """Errors over the gate's lookback stay within the gate (001 §2.1: DEV < 10/h, SIT <= 5/24 h)."""
    gate = _gate(ctx, row)
    result = for_each_function(ctx, row, _source_errors, _gate_expected(gate, "Errors"))
    return _stated(ctx, result, _lookback(ctx, "Errors", row.resource, gate.lookback_hours))


def check_source_throttles(ctx: CheckContext, row: Row) -> CheckResult:
    """Throttles over the gate's lookback stay within the gate (001 §2.1: 0)."""
    gate = _gate(ctx, row)
    result = for_each_function(ctx, row, _source_throttles, _gate_expected(gate, "Throttles"))
    return _stated(ctx, result, _lookback(ctx, "Throttles", row.resource, gate.lookback_hours))
