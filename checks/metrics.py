"""AWS/Lambda metrics for every row of a run, read with as few GetMetricData calls as possible.

The runbook reads one metric of one function per CLI call (000 §7.1 steps 3-4, 001 §3.1.1, §4.1.1)
and builds its windows with BSD ``date -v-5M``, which fails on GNU/Linux (seed defect 1). Here the
windows come from the injected clock, and all queries that share a window go out together, up to
500 per GetMetricData call (the API's limit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

MAX_QUERIES_PER_CALL = 500  # GetMetricData limit
NAMESPACE = "AWS/Lambda"


class MetricsUnavailable(RuntimeError):
    """GetMetricData failed for a query: the harness cannot read the metric (not a finding)."""


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


@dataclass(frozen=True)
class MetricValue:
    """What CloudWatch returned for a query: one value per period bucket (possibly none)."""

    query: MetricQuery
    values: tuple[float, ...] = ()
    timestamps: tuple[str, ...] = ()

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
            "namespace": NAMESPACE,
            "metric": q.metric,
            "function": q.function,
            "stat": q.stat,
            "start": q.start.isoformat(),
            "end": q.end.isoformat(),
            "period_s": q.period_s,
            "values": list(self.values),
            "timestamps": list(self.timestamps),
        }


def window_query(metric: str, function: str, stat: str, start: datetime, end: datetime) -> MetricQuery:
    """A query whose single period spans the whole window (as 000 §7.1's ``--period 300``)."""
    period = max(60, int((end - start).total_seconds()) // 60 * 60)
    return MetricQuery(metric, function, stat, start, end, period)


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
        gstart = ctx.now - timedelta(hours=gate.lookback_hours)
        for fn in ctx.function_names():
            out.append(window_query("Errors", fn, "Sum", gstart, ctx.now))
            out.append(window_query("Throttles", fn, "Sum", gstart, ctx.now))
    return out


@dataclass
class MetricsReader:
    """Fetches planned queries lazily, one window at a time, in batches of up to 500 per call."""

    ctx: Any
    results: dict[MetricQuery, MetricValue] = field(default_factory=dict)
    errors: dict[MetricQuery, str] = field(default_factory=dict)
    round_trips: int = 0
    queries_sent: int = 0

    def get(self, query: MetricQuery) -> MetricValue:
        """The value of ``query``; the first query of a window fetches the whole window's plan."""
        if query not in self.results and query not in self.errors:
            same_window = [q for q in planned_queries(self.ctx) if q.window == query.window]
            todo = [q for q in dict.fromkeys([*same_window, query]) if q not in self.results and q not in self.errors]
            self._fetch(todo)
        if query in self.errors:
            raise MetricsUnavailable(f"GetMetricData failed for {query.metric} {query.stat} of {query.function}: {self.errors[query]}")
        return self.results[query]

    def _fetch(self, queries: list[MetricQuery]) -> None:
        for i in range(0, len(queries), MAX_QUERIES_PER_CALL):
            self._fetch_batch(queries[i : i + MAX_QUERIES_PER_CALL])

    def _fetch_batch(self, batch: list[MetricQuery]) -> None:
        try:
            self._call(batch)
        except (ClientError, BotoCoreError) as exc:
            stats = {q.stat for q in batch}
            if len(stats) > 1:
                # One unsupported statistic (e.g. a percentile on an emulator) must not hide the
                # others: retry per statistic so the failure lands only on the rows that need it.
                for stat in sorted(stats):
                    self._fetch_batch([q for q in batch if q.stat == stat])
                return
            for q in batch:
                self.errors[q] = f"{type(exc).__name__}: {exc}"

    def _call(self, batch: list[MetricQuery]) -> None:
        start, end, _ = batch[0].window
        ids = {f"m{i}": q for i, q in enumerate(batch)}
        queries = [
            {
                "Id": qid,
                "MetricStat": {
                    "Metric": {"Namespace": NAMESPACE, "MetricName": q.metric, "Dimensions": [{"Name": "FunctionName", "Value": q.function}]},
                    "Period": q.period_s,
                    "Stat": q.stat,
                },
                "ReturnData": True,
            }
            for qid, q in ids.items()
        ]
        cw = self.ctx.client("cloudwatch")
        collected: dict[str, tuple[list[float], list[str]]] = {qid: ([], []) for qid in ids}
        kwargs: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end, "ScanBy": "TimestampAscending"}
        while True:
            resp = cw.get_metric_data(**kwargs)
            self.round_trips += 1
            for r in resp.get("MetricDataResults", []):
                values, stamps = collected[r["Id"]]
                values.extend(float(v) for v in r.get("Values", []))
                stamps.extend(str(t) for t in r.get("Timestamps", []))
            token = resp.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
        self.queries_sent += len(batch)
        for qid, q in ids.items():
            values, stamps = collected[qid]
            self.results[q] = MetricValue(q, tuple(values), tuple(stamps))
