"""Log row: no new ERROR lines in a function's log group during the verification window (000 §7.4).

The window is the verification window ``[now - verification_window_minutes, now)`` to the
millisecond (FilterLogEvents' endTime is inclusive, so it is ``now`` - 1 ms). Every row states it
(``CheckResult.window``) next to the metric rows' window, which CloudWatch starts at the minute.
A missing log group is WARN: Lambda creates it on the first invocation, so a function that never
ran has none, and nothing was read (never "no errors").

The groups are read together: FilterLogEvents reads one log group per call and is limited to 5
calls per second per account (a hard limit: AWS knowledge center, "How do I determine throttling in
my CloudWatch logs?"), 60 s for 300 functions. A Logs Insights query reads up to 50 groups
(StartQuery), so the phase's first log row queries every function's group, 50 per query
(``ErrorLinesReader``); the events it returns are filtered again here to the millisecond window and
the term. A group the batch cannot answer for (a missing group fails its whole query, a truncated
result, a target without Insights, a StartQuery the caller may not run) is read with FilterLogEvents
as before, so every verdict path is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, cast

from botocore.exceptions import ClientError

from harness import aws
from harness.checks.context import CheckContext, Row
from harness.checks.functions import for_each_function
from harness.checks.metrics import MetricsUnavailable, window_query
from harness.checks.result import CheckResult, Verdict
from harness.poll import PollFailed, PollTimeout, Waiting, poll
from harness.targets.base import throttle_code

# The term the runbook's services log failures with (the sample handler and Lambda's own
# "[ERROR]" lines); CloudWatch Logs filter terms are case-sensitive.
ERROR_TERM = "ERROR"
MAX_EVIDENCE_LINES = 20
MAX_GROUPS_PER_QUERY = 50  # StartQuery: "You can include up to 50 log groups"
QUERY_LIMIT = 10_000  # Insights' largest result (limit command); a full result may be truncated
# Insights: the term as a case-sensitive substring, oldest first; events are re-checked here.
ERROR_QUERY = (
    f'fields @timestamp, @log, @logStream, @message | filter @message like "{ERROR_TERM}" | sort '
    f"@timestamp asc | limit {QUERY_LIMIT}"
)
# GetQueryResults until the query is done: AWS answers Scheduled/Running first (a waiter, not a sleep loop).
QUERY_WAITER = {
    "version": 2,
    "waiters": {
        "QueryDone": {
            "operation": "GetQueryResults",
            "delay": 1,
            "maxAttempts": 120,
            "acceptors": [
                {"matcher": "path", "argument": "status", "expected": "Complete", "state": "success"},
                {"matcher": "path", "argument": "status", "expected": "Failed", "state": "failure"},
                {"matcher": "path", "argument": "status", "expected": "Cancelled", "state": "failure"},
                {"matcher": "path", "argument": "status", "expected": "Timeout", "state": "failure"},
            ],
        }
    },
}


def _query_done(clock: Any, client: Any, query_id: str) -> dict[str, Any]:
    """GetQueryResults until the query ends (QUERY_WAITER's states and delay), on the target's clock: a query is
    Scheduled, then Running, on AWS and on the rehearsal alike; a rehearsal clock passes the wait at once."""
    spec: dict[str, Any] = cast(dict[str, Any], QUERY_WAITER["waiters"])["QueryDone"]
    waiting: Waiting[dict[str, Any]] = Waiting(
        what=f"Logs Insights query {query_id}",
        state=lambda r: str(r.get("status")),
        done=lambda r: r.get("status") == "Complete",
        failed=lambda r: r.get("status") in ("Failed", "Cancelled", "Timeout"),
        timeout_s=float(spec["delay"] * spec["maxAttempts"]),
        interval_s=float(spec["delay"]),
    )
    return poll(clock, lambda: client.get_query_results(queryId=query_id), waiting)


def _ms(ts: float) -> int:
    return int(ts * 1000)


def _iso_ms(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def window_text(start: datetime, end: datetime) -> str:
    """One line for a report: the half-open window the log rows filter, as FilterLogEvents sees it."""
    return (
        f"logs [{_iso_ms(start)}, {_iso_ms(end)}) (startTime {_ms(start.timestamp())} to endTime "
        f"{_ms(end.timestamp()) - 1} ms, inclusive)"
    )


@dataclass(frozen=True)
class GroupMatches:
    """What the batch read for one log group: the matching lines in the window."""

    count: int
    lines: tuple[str, ...]
    read: str


@dataclass
class ErrorLinesReader:
    """The phase's ERROR lines of every function's log group, from Insights queries of up to 50 groups."""

    ctx: Any
    groups: dict[str, GroupMatches] = field(default_factory=dict)
    loaded: bool = False
    queries: int = 0

    def matches(self, group: str) -> GroupMatches | None:
        """The group's ERROR lines in the window, or None when it must be read on its own."""
        if not self.loaded:
            self.loaded = True
            self._load()
        return self.groups.get(group)

    def _load(self) -> None:
        client = self.ctx.client("logs")
        if not hasattr(client, "start_query"):  # a client without Logs Insights (a test double)
            return
        prefix = self.ctx.env.log_group_prefix
        names = [f"{prefix}{fn}" for fn in self.ctx.function_names()]
        for i in range(0, len(names), MAX_GROUPS_PER_QUERY):
            self._query(client, names[i : i + MAX_GROUPS_PER_QUERY])

    def _query(self, client: Any, chunk: list[str]) -> None:
        start, end = self.ctx.window
        first_ms, end_ms = _ms(start.timestamp()), _ms(end.timestamp())
        try:
            # StartQuery takes whole seconds, both ends inclusive: the query covers the window rounded out
            # to the second, the events are cut back to [start, end) to the millisecond below.
            query_id = client.start_query(
                logGroupNames=chunk, startTime=first_ms // 1000, endTime=(end_ms + 999) // 1000, queryString=ERROR_QUERY
            )["queryId"]
            results = _query_done(self.ctx.target.clock, client, query_id)
        except ClientError as exc:
            if throttle_code(exc):
                raise  # still over the quota after botocore's retries: the row is ERROR naming the call
            if aws.is_not_found(exc, "ResourceNotFoundException") and len(chunk) > 1:
                # One missing group (a function never invoked has none) fails the whole query: halve the
                # chunk until the missing ones stand alone, so they alone are read on their own.
                half = len(chunk) // 2
                self._query(client, chunk[:half])
                self._query(client, chunk[half:])
            return  # Insights refused (or one missing group): those groups are read on their own
        except (PollFailed, PollTimeout):
            return  # the query failed or never finished: read each group on its own
        self.queries += 1
        rows = results.get("results") or []
        if len(rows) >= QUERY_LIMIT:
            return  # truncated: counts would be lower bounds
        found: dict[str, list[str]] = {name: [] for name in chunk}
        for fields in rows:
            values = {f.get("field"): f.get("value") for f in fields}
            group = _group_of(str(values.get("@log") or ""))
            at = _insights_ms(str(values.get("@timestamp") or ""))
            message = str(values.get("@message") or "")
            if group in found and at is not None and first_ms <= at < end_ms and ERROR_TERM in message:
                found[group].append(f"{values.get('@logStream')}: {message.strip()[:300]}")
        read = f"Logs Insights query {query_id} over {len(chunk)} log groups: {ERROR_QUERY}"
        for name, lines in found.items():
            self.groups[name] = GroupMatches(len(lines), tuple(lines[:MAX_EVIDENCE_LINES]), read)


def _group_of(log: str) -> str:
    """The log group of an Insights ``@log`` value (``account-id:log-group-name``)."""
    account, sep, name = log.partition(":")
    return name if sep and account.isdigit() and len(account) == 12 else log


def _insights_ms(text: str) -> int | None:
    """Epoch milliseconds of an Insights ``@timestamp`` (``2026-01-25 22:00:00.123``, UTC)."""
    if text.isdigit():
        return int(text)
    try:
        at = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return int(round(at.timestamp() * 1000))


def error_lines(ctx: CheckContext) -> ErrorLinesReader:
    """The phase's batched log reader (a fresh context gets a fresh one)."""
    reader: ErrorLinesReader = ctx.cache.setdefault("logs:error-lines", ErrorLinesReader(ctx))
    return reader


def check_log_errors(ctx: CheckContext, row: Row) -> CheckResult:
    """FilterLogEvents for ERROR in the function's log group over the window finds nothing (000 §7.4)."""
    result = for_each_function(
        ctx, row, _log_errors, f"no {ERROR_TERM} lines in the last {ctx.env.thresholds.verification_window_minutes} min"
    )
    return replace(result, window=window_text(*ctx.window))


def _log_errors(ctx: CheckContext, row: Row, fn: str) -> CheckResult:
    minutes = ctx.env.thresholds.verification_window_minutes
    group = f"{ctx.env.log_group_prefix}{fn}"
    expected = f"no {ERROR_TERM} lines in {group} in the last {minutes} min"
    start, end = ctx.window
    evidence = {
        "log_group": group,
        "filter": ERROR_TERM,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "start_time_ms": _ms(start.timestamp()),
        "end_time_ms_inclusive": _ms(end.timestamp()) - 1,
    }
    batched = error_lines(ctx).matches(group)
    if batched is not None:
        count, lines = batched.count, list(batched.lines)
        evidence["read"] = batched.read
    else:
        try:
            count, lines = _filter_group(ctx, group, start, end)
        except ClientError as exc:
            if aws.is_not_found(exc, "ResourceNotFoundException"):
                return _no_log_group(ctx, row, fn, group, expected, evidence)
            raise
        evidence["read"] = "FilterLogEvents"
    evidence.update(matches=count, lines=lines)
    if count:
        return row.result(expected, f"{count} {ERROR_TERM} line(s), first: {lines[0]}", Verdict.FAIL, **evidence)
    return row.result(expected, f"0 {ERROR_TERM} lines", Verdict.PASS, **evidence)


def _filter_group(ctx: CheckContext, group: str, start: datetime, end: datetime) -> tuple[int, list[str]]:
    """(matches, first lines) of the term in ``group`` over [start, end), with FilterLogEvents."""
    lines: list[str] = []
    count = 0
    pages = (
        ctx.client("logs")
        .get_paginator("filter_log_events")
        .paginate(
            # [start, end): half-open like the metrics' window, so a line logged at "now" by the
            # verification's own health invoke belongs to the next window, not this one.
            logGroupName=group,
            startTime=_ms(start.timestamp()),
            endTime=_ms(end.timestamp()) - 1,
            filterPattern=ERROR_TERM,
        )
    )
    for page in pages:
        for ev in page.get("events", []):
            count += 1
            if len(lines) < MAX_EVIDENCE_LINES:
                lines.append(f"{ev.get('logStreamName')}: {ev.get('message', '').strip()[:300]}")
    return count, lines


def _no_log_group(
    ctx: CheckContext, row: Row, fn: str, group: str, expected: str, evidence: dict[str, Any]
) -> CheckResult:
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
        observed = (
            f"log group {group} does not exist although {invocations:g} invocations ran in the window: their "
            "logs were not written"
        )
        return row.result(expected, observed, Verdict.FAIL, **evidence)
    # Lambda creates the group on a function's first invocation: none means nothing was logged or read.
    evidence["note"] = (
        "Lambda creates the log group on a function's first invocation; no group and no invocations: nothing to read "
        "(not 'no errors')"
    )
    return row.result(
        expected, f"log group {group} does not exist: nothing logged, not measurable", Verdict.WARN, **evidence
    )
