"""AWS/Lambda metrics for every row of a run, read with as few GetMetricData calls as possible.

The runbook reads one metric of one function per CLI call (000 §7.1 steps 3-4, 001 §3.1.1, §4.1.1)
and builds its windows with BSD ``date -v-5M``, which fails on GNU/Linux (seed defect 1). Here the
windows come from the injected clock, and all queries that share a window go out together, up to
500 per GetMetricData call (the API's limit).

What CloudWatch answers is read as it is meant, never as zero:

- every ``MetricDataResult`` carries a ``StatusCode``. ``Complete`` is the only status whose values
  are the whole answer. ``PartialData`` means "more with ``NextToken``": the reader follows every
  token, and the status of the *last* page that mentions a query is the one that counts. A final
  ``PartialData``, ``InternalError``, ``Forbidden``, a missing status or a query CloudWatch did not
  answer at all makes that query unavailable: the rows that use it raise :class:`MetricsUnavailable`
  (reported as ERROR, naming metric, statistic, function and status), never "0 errors";
- CloudWatch rounds ``StartTime`` down (to the minute for windows that start less than 15 days ago,
  5 minutes up to 63 days, the hour beyond; GetMetricData API reference), so the window a metric row
  really covers is ``[rounded start, end)`` in periods of ``period_s``: :func:`window_text` states
  it, for the report to reconcile with the log rows' window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from harness import aws
from harness.aws import cloudwatch_start as cloudwatch_start  # re-exported: checks and tests import it from here
from harness.targets.base import throttle_code

MAX_QUERIES_PER_CALL = 500  # GetMetricData limit
NAMESPACE = "AWS/Lambda"
COMPLETE = "Complete"


@dataclass(frozen=True)
class MetricQuery:
    """One metric statistic of one function over one window, at one period."""

    metric: str
    function: str
    stat: str
    start: datetime
    end: datetime
    period_s: int

    @property
    def window(self) -> tuple[datetime, datetime, int]:
        return self.start, self.end, self.period_s

    def describe(self) -> str:
        """``Errors Sum of fn`` (what an ERROR row names)."""
        return f"{self.metric} {self.stat} of {self.function}"


class MetricsUnavailable(RuntimeError):
    """CloudWatch did not give a complete answer for a query: the harness cannot read the metric
    (not a finding). ``status`` is the query's final StatusCode (or the API error), ``messages`` what
    CloudWatch said about it."""

    def __init__(
        self, query: MetricQuery, status: str, detail: str = "", messages: tuple[dict[str, str], ...] = ()
    ) -> None:
        self.query, self.status, self.detail, self.messages = query, status, detail, messages
        said = "; ".join(f"{m.get('Code')}: {m.get('Value')}" for m in messages)
        text = f"GetMetricData {status} for {query.describe()}"
        if detail:
            text += f": {detail}"
        if said:
            text += f" (messages: {said})"
        super().__init__(text)

    def evidence(self, now: datetime) -> dict[str, Any]:
        """JSON-ready form: the query, its window and what CloudWatch said."""
        return {
            **query_evidence(self.query, now),
            "status": self.status,
            "detail": self.detail,
            "messages": list(self.messages),
        }


def _iso(at: datetime) -> str:
    at = at.astimezone(timezone.utc) if at.tzinfo else at.replace(tzinfo=timezone.utc)
    text = at.isoformat(timespec="milliseconds" if at.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def query_evidence(q: MetricQuery, now: datetime) -> dict[str, Any]:
    """The query and the window CloudWatch really reads for it."""
    return {
        "namespace": NAMESPACE,
        "metric": q.metric,
        "function": q.function,
        "stat": q.stat,
        "start": q.start.isoformat(),
        "effective_start": cloudwatch_start(q.start, now).isoformat(),
        "end": q.end.isoformat(),
        "period_s": q.period_s,
    }


def window_text(q: MetricQuery, now: datetime) -> str:
    """One line for a report: the half-open window CloudWatch aggregated, its period, and the rounding."""
    effective = cloudwatch_start(q.start, now)
    text = f"metrics [{_iso(effective)}, {_iso(q.end)}), period {q.period_s} s"
    if effective != q.start:
        text += f" (StartTime {_iso(q.start)} rounded down by CloudWatch)"
    return text


@dataclass(frozen=True)
class MetricValue:
    """What CloudWatch returned for a query: one value per period bucket (possibly none), complete."""

    query: MetricQuery
    values: tuple[float, ...] = ()
    timestamps: tuple[str, ...] = ()
    status: str = COMPLETE
    messages: tuple[dict[str, str], ...] = ()
    now: datetime | None = None  # when it was read (for the effective window)

    @property
    def has_data(self) -> bool:
        """False when CloudWatch has no datapoint in the window (no invocations, or no metric at all)."""
        return bool(self.values)

    @property
    def total(self) -> float:
        """Sum over the window's buckets (for Sum statistics)."""
        return float(sum(self.values))

    @property
    def maximum(self) -> float:
        """Largest bucket value (for percentiles: the worst period in the window)."""
        return float(max(self.values)) if self.values else 0.0

    def evidence(self) -> dict[str, Any]:
        """JSON-ready form for a check's evidence."""
        q = self.query
        return {
            **query_evidence(q, self.now or q.end),
            "status": self.status,
            "messages": list(self.messages),
            "values": list(self.values),
            "timestamps": list(self.timestamps),
        }


def window_query(metric: str, function: str, stat: str, start: datetime, end: datetime) -> MetricQuery:
    """A query whose single period spans the whole window (as 000 §7.1's ``--period 300``)."""
    period = max(60, int((end - start).total_seconds()) // 60 * 60)
    return MetricQuery(metric, function, stat, start, end, period)


def gate_start(ctx: Any, lookback_hours: int) -> datetime:
    """Start of a pre-promotion gate's lookback (001 §2.1)."""
    start: datetime = ctx.now - timedelta(hours=lookback_hours)
    return start


def planned_queries(ctx: Any) -> list[MetricQuery]:
    """Every metric query the catalogue's rows may ask for in this run, so one batch serves them all."""
    env = ctx.env
    start, end = ctx.window
    out: list[MetricQuery] = []
    for fn in ctx.function_names():
        out.append(window_query("Invocations", fn, "Sum", start, end))
        out.append(window_query("Errors", fn, "Sum", start, end))
        out.append(window_query("Duration", fn, "p95", start, end))
    gate = env.gates.get(env.name)
    if gate is not None:  # 001 §2.1: only an environment that promotes has gates
        gstart = gate_start(ctx, gate.lookback_hours)
        for fn in ctx.function_names():
            out.append(window_query("Errors", fn, "Sum", gstart, ctx.now))
            out.append(window_query("Throttles", fn, "Sum", gstart, ctx.now))
            # Invocations tell an idle function (nothing published) from a missing series.
            out.append(window_query("Invocations", fn, "Sum", gstart, ctx.now))
    return out


def _metric_queries(ids: dict[str, MetricQuery]) -> list[dict[str, Any]]:
    """One GetMetricData query per id: the function's AWS/Lambda metric, period and statistic."""
    return [
        {
            "Id": qid,
            "MetricStat": {
                "Metric": {
                    "Namespace": NAMESPACE,
                    "MetricName": q.metric,
                    "Dimensions": [{"Name": "FunctionName", "Value": q.function}],
                },
                "Period": q.period_s,
                "Stat": q.stat,
            },
            "ReturnData": True,
        }
        for qid, q in ids.items()
    ]


@dataclass
class MetricsReader:
    """Fetches planned queries lazily, one window at a time, in batches of up to 500 per call."""

    ctx: Any
    results: dict[MetricQuery, MetricValue] = field(default_factory=dict)
    errors: dict[MetricQuery, MetricsUnavailable] = field(default_factory=dict)
    round_trips: int = 0
    queries_sent: int = 0

    def get(self, query: MetricQuery) -> MetricValue:
        """The complete value of ``query``; the first query of a window fetches the whole window's
        plan. Raises :class:`MetricsUnavailable` when CloudWatch's answer for it is not complete."""
        if query not in self.results and query not in self.errors:
            same_window = [q for q in planned_queries(self.ctx) if q.window == query.window]
            todo = [q for q in dict.fromkeys([*same_window, query]) if q not in self.results and q not in self.errors]
            self._fetch(todo)
        if query in self.errors:
            raise self.errors[query]
        return self.results[query]

    def _fetch(self, queries: list[MetricQuery]) -> None:
        for i in range(0, len(queries), MAX_QUERIES_PER_CALL):
            self._fetch_batch(queries[i : i + MAX_QUERIES_PER_CALL])

    def _fetch_batch(self, batch: list[MetricQuery]) -> None:
        try:
            self._call(batch)
        except (ClientError, BotoCoreError) as exc:
            throttled = throttle_code(exc)
            if throttled:
                # Still over the GetMetricData quota after botocore's retries: name it (ERROR, never 0).
                for q in batch:
                    self.errors[q] = MetricsUnavailable(
                        q, f"throttled ({throttled})", "the API quota was exhausted after retries", ()
                    )
                return
            stats = {q.stat for q in batch}
            if len(stats) > 1:
                # One unsupported statistic (e.g. a percentile on an emulator) must not hide the
                # others: retry per statistic so the failure lands only on the rows that need it.
                for stat in sorted(stats):
                    self._fetch_batch([q for q in batch if q.stat == stat])
                return
            status = aws.error_code(exc) or type(exc).__name__
            for q in batch:
                self.errors[q] = MetricsUnavailable(q, status, aws.error_message(exc))

    def _call(self, batch: list[MetricQuery]) -> None:
        start, end, _ = batch[0].window
        ids = {f"m{i}": q for i, q in enumerate(batch)}
        cw = self.ctx.client("cloudwatch")
        values: dict[str, list[float]] = {qid: [] for qid in ids}
        stamps: dict[str, list[str]] = {qid: [] for qid in ids}
        status: dict[str, str | None] = {}
        messages: dict[str, list[dict[str, str]]] = {qid: [] for qid in ids}
        call_messages: list[dict[str, str]] = []
        seen_tokens: set[str] = set()
        kwargs: dict[str, Any] = {
            "MetricDataQueries": _metric_queries(ids),
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        endless = False
        while True:
            resp = cw.get_metric_data(**kwargs)
            self.round_trips += 1
            call_messages.extend(resp.get("Messages") or [])
            for r in resp.get("MetricDataResults", []):
                qid = r.get("Id")
                if qid not in ids:
                    continue
                values[qid].extend(float(v) for v in r.get("Values", []))
                stamps[qid].extend(str(t) for t in r.get("Timestamps", []))
                messages[qid].extend(r.get("Messages") or [])
                # The last page that mentions a query says how complete its data is.
                status[qid] = r.get("StatusCode")
            token = resp.get("NextToken")
            if not token:
                break
            if token in seen_tokens:  # a paginator that never ends must not hang the run
                endless = True
                break
            seen_tokens.add(token)
            kwargs["NextToken"] = token
        self.queries_sent += len(batch)
        now = self.ctx.now
        for qid, q in ids.items():
            said = tuple(dict(m) for m in [*messages[qid], *call_messages])
            final = status.get(qid, "no result")
            if endless:
                self.errors[q] = MetricsUnavailable(
                    q, "PartialData", "GetMetricData repeated a NextToken: pagination never ended", said
                )
            elif qid not in status:
                self.errors[q] = MetricsUnavailable(
                    q, "no result", "GetMetricData returned no MetricDataResult for this query", said
                )
            elif final != COMPLETE:
                detail = (
                    "no StatusCode in the result"
                    if final is None
                    else ("still PartialData after the last page (no NextToken left)" if final == "PartialData" else "")
                )
                self.errors[q] = MetricsUnavailable(q, str(final or "no StatusCode"), detail, said)
            else:
                self.results[q] = MetricValue(q, tuple(values[qid]), tuple(stamps[qid]), COMPLETE, said, now)
