"""Log row: no new ERROR lines in a function's log group during the verification window (000 §7.4).

The window is the verification window ``[now - verification_window_minutes, now)`` to the
millisecond (FilterLogEvents' endTime is inclusive, so it is ``now`` - 1 ms). Every row states it
(``CheckResult.window``) next to the metric rows' window, which CloudWatch starts at the minute.
A missing log group is WARN: Lambda creates it on the first invocation, so a function that never
ran has none, and nothing was read (never "no errors").
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from botocore.exceptions import ClientError

from checks.context import CheckContext, Row
from checks.functions import for_each_function
from checks.metrics import MetricsUnavailable, window_query
from checks.result import CheckResult, Verdict
from harness import aws

# The term the runbook's services log failures with (the sample handler and Lambda's own
# "[ERROR]" lines); CloudWatch Logs filter terms are case-sensitive.
ERROR_TERM = "ERROR"
MAX_EVIDENCE_LINES = 20


def _ms(ts: float) -> int:
    return int(ts * 1000)


def _iso_ms(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def window_text(start: datetime, end: datetime) -> str:
    """One line for a report: the half-open window the log rows filter, as FilterLogEvents sees it."""
    return f"logs [{_iso_ms(start)}, {_iso_ms(end)}) (startTime {_ms(start.timestamp())} to endTime {_ms(end.timestamp()) - 1} ms, inclusive)"


def check_log_errors(ctx: CheckContext, row: Row) -> CheckResult:
    """FilterLogEvents for ERROR in the function's log group over the window finds nothing (000 §7.4)."""
    result = for_each_function(ctx, row, _log_errors, f"no {ERROR_TERM} lines in the last {ctx.env.thresholds.verification_window_minutes} min")
    return replace(result, window=window_text(*ctx.window))


def _log_errors(ctx: CheckContext, row: Row, fn: str) -> CheckResult:
    minutes = ctx.env.thresholds.verification_window_minutes
    group = f"{ctx.env.log_group_prefix}{fn}"
    expected = f"no {ERROR_TERM} lines in {group} in the last {minutes} min"
    start, end = ctx.window
    evidence = {
        "log_group": group, "filter": ERROR_TERM, "start": start.isoformat(), "end": end.isoformat(),
        "start_time_ms": _ms(start.timestamp()), "end_time_ms_inclusive": _ms(end.timestamp()) - 1,
    }
    lines: list[str] = []
    count = 0
    try:
        pages = ctx.client("logs").get_paginator("filter_log_events").paginate(
            # [start, end): half-open like the metrics' window, so a line logged at "now" by the
            # verification's own health invoke belongs to the next window, not this one.
            logGroupName=group, startTime=_ms(start.timestamp()), endTime=_ms(end.timestamp()) - 1, filterPattern=ERROR_TERM
        )
        for page in pages:
            for ev in page.get("events", []):
                count += 1
                if len(lines) < MAX_EVIDENCE_LINES:
                    lines.append(f"{ev.get('logStreamName')}: {ev.get('message', '').strip()[:300]}")
    except ClientError as exc:
        if aws.is_not_found(exc, "ResourceNotFoundException"):
            return _no_log_group(ctx, row, fn, group, expected, evidence)
        raise
    evidence.update(matches=count, lines=lines)
    if count:
        return row.result(expected, f"{count} {ERROR_TERM} line(s), first: {lines[0]}", Verdict.FAIL, **evidence)
    return row.result(expected, f"0 {ERROR_TERM} lines", Verdict.PASS, **evidence)


def _no_log_group(ctx: CheckContext, row: Row, fn: str, group: str, expected: str, evidence: dict) -> CheckResult:
    """No log group: an idle function (WARN, nothing to read) unless the window's metrics show
    invocations, whose logs then went nowhere (FAIL)."""
    try:
        start, end = ctx.window
        inv = ctx.metrics.get(window_query("Invocations", fn, "Sum", start, end))
        invocations: float | None = inv.total if inv.has_data else 0.0
        evidence["invocations"] = inv.evidence()
    except MetricsUnavailable as exc:
        invocations = None
        evidence["invocations_error"] = str(exc)
    if invocations:
        observed = f"log group {group} does not exist although {invocations:g} invocations ran in the window: their logs were not written"
        return row.result(expected, observed, Verdict.FAIL, **evidence)
    # Lambda creates the group on a function's first invocation: none means nothing was logged or read.
    evidence["note"] = "Lambda creates the log group on a function's first invocation; no group and no invocations: nothing to read (not 'no errors')"
    return row.result(expected, f"log group {group} does not exist: nothing logged, not measurable", Verdict.WARN, **evidence)
