"""Log row: no new ERROR lines in a function's log group during the verification window (000 §7.4)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from checks.context import CheckContext, Row
from checks.functions import for_each_function
from checks.result import CheckResult, Verdict

# The term the runbook's services log failures with (the sample handler and Lambda's own
# "[ERROR]" lines); CloudWatch Logs filter terms are case-sensitive.
ERROR_TERM = "ERROR"
MAX_EVIDENCE_LINES = 20


def _ms(ts: float) -> int:
    return int(ts * 1000)


def check_log_errors(ctx: CheckContext, row: Row) -> CheckResult:
    """FilterLogEvents for ERROR in the function's log group over the window finds nothing (000 §7.4)."""
    return for_each_function(ctx, row, _log_errors, f"no {ERROR_TERM} lines in the last {ctx.env.thresholds.verification_window_minutes} min")


def _log_errors(ctx: CheckContext, row: Row, fn: str) -> CheckResult:
    minutes = ctx.env.thresholds.verification_window_minutes
    group = f"{ctx.env.log_group_prefix}{fn}"
    expected = f"no {ERROR_TERM} lines in {group} in the last {minutes} min"
    start, end = ctx.window
    evidence = {"log_group": group, "filter": ERROR_TERM, "start": start.isoformat(), "end": end.isoformat()}
    lines: list[str] = []
    count = 0
    try:
        pages = ctx.client("logs").get_paginator("filter_log_events").paginate(
            # [start, end): the same half-open window as the metrics, so a line logged at "now" by
            # the verification's own health invoke belongs to the next window, not this one.
            logGroupName=group, startTime=_ms(start.timestamp()), endTime=_ms(end.timestamp()) - 1, filterPattern=ERROR_TERM
        )
        for page in pages:
            for ev in page.get("events", []):
                count += 1
                if len(lines) < MAX_EVIDENCE_LINES:
                    lines.append(f"{ev.get('logStreamName')}: {ev.get('message', '').strip()[:300]}")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            # A function that never ran has no log group yet: nothing to read, which is not "no errors".
            return row.result(expected, f"log group {group} does not exist: nothing logged", Verdict.WARN, **evidence)
        raise
    evidence.update(matches=count, lines=lines)
    if count:
        return row.result(expected, f"{count} {ERROR_TERM} line(s), first: {lines[0]}", Verdict.FAIL, **evidence)
    return row.result(expected, f"0 {ERROR_TERM} lines", Verdict.PASS, **evidence)
