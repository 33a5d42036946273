"""CloudWatch percentiles and exact-dimension statistics (moto has neither).

``GetMetricStatistics`` with ``ExtendedStatistics`` (p50, p90, p95, p99, any pNN.NN) and
``GetMetricData`` with ``Stat="p95"`` return the percentile of the values put in each period, with
the counts of ``Values``/``Counts`` as weights. Computed as the nearest-rank percentile on the raw
values: AWS calls its percentiles approximate without publishing a bound, and exact values are
within any such approximation. Rules followed (CloudWatch API reference, GetMetricStatistics;
User Guide, "Statistics definitions"):

- a metric is the exact set of its dimensions: a query with ``FunctionName`` alone does not see
  data put with ``FunctionName`` + ``Resource`` (moto matches a subset in GetMetricStatistics);
- percentiles need raw values: a statistic set counts only when SampleCount is 1 or Min equals
  Max, otherwise the period has no percentile; a period with a negative value has none either;
- StartTime is rounded down to the minute (5 minutes past 15 days, the hour past 63 days) and
  periods start there; GetMetricStatistics refuses more than 1,440 datapoints.

Statistics other than SampleCount/Sum/Average/Minimum/Maximum/pNN (trimmed means, TC, PR, ...)
are refused with InvalidParameterValue rather than answered wrongly.
"""

from __future__ import annotations

import math
import re
import threading
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from moto.cloudwatch.exceptions import InvalidParameterCombination, InvalidParameterValue, ValidationError
from moto.cloudwatch.models import CloudWatchBackend, MetricAggregatedDatum, MetricDatum, MetricDatumBase
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

from harness.aws import cloudwatch_start
from harness.targets.embedded.fidelity import cloudwatch_queries, registry

PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,10})?|100(?:\.0+)?)$")
BASIC = ("SampleCount", "Sum", "Average", "Minimum", "Maximum")
MAX_DATAPOINTS = 1440  # GetMetricStatistics: "If you request more than 1,440 data points, CloudWatch returns an error"


def naive_utc(at: datetime) -> datetime:
    """moto keeps naive-UTC timestamps; bring any datetime to that form."""
    return at.astimezone(timezone.utc).replace(tzinfo=None) if at.tzinfo else at


def percentile(samples: Iterable[tuple[float, float]], p: float) -> float | None:
    """Nearest-rank ``p``-th percentile of weighted ``(value, count)`` samples (None when empty)."""
    ordered = sorted((v, c) for v, c in samples if c > 0)
    total = sum(c for _, c in ordered)
    if not ordered:
        return None
    rank = max(math.ceil(p / 100.0 * total - 1e-9), 1)
    seen = 0.0
    for value, count in ordered:
        seen += count
        if seen >= rank:
            return value
    return ordered[-1][0]


def samples(data: list[MetricDatumBase]) -> list[tuple[float, float]] | None:
    """Raw (value, count) pairs of a period, or None when percentiles are unavailable for it."""
    out: list[tuple[float, float]] = []
    for md in data:
        if isinstance(md, MetricDatum):
            out.append((md.value, 1.0))
        elif isinstance(md, MetricAggregatedDatum) and (md.sample_count == 1 or md.min == md.max):
            out.append((md.min, md.sample_count))
        else:
            return None  # a true statistic set: CloudWatch cannot compute percentiles from it
    if any(v < 0 for v, _ in out):
        return None
    return out


def statistic(data: list[MetricDatumBase], stat: str) -> float | None:
    """One statistic of a period's data (None when CloudWatch would have no value)."""
    single = [md.value for md in data if isinstance(md, MetricDatum)]
    sets = [md for md in data if isinstance(md, MetricAggregatedDatum)]
    count = len(single) + sum(s.sample_count for s in sets)
    total = sum(single) + sum(s.sum for s in sets)
    if stat == "SampleCount":
        return float(count)
    if stat == "Sum":
        return float(total)
    if stat == "Average":
        return total / count if count else None
    if stat == "Minimum":
        return min(single + [s.min for s in sets]) if count else None
    if stat == "Maximum":
        return max(single + [s.max for s in sets]) if count else None
    match = PERCENTILE.match(stat)
    if match:
        raw = samples(data)
        return percentile(raw, float(match.group(1))) if raw else None
    raise InvalidParameterValue(f"The statistic {stat!r} is not emulated by the harness's embedded target")


def check_stat(stat: str) -> None:
    """Refuse a statistic the extension cannot compute (instead of answering it wrongly)."""
    if stat not in BASIC and not PERCENTILE.match(stat):
        raise InvalidParameterValue(f"The statistic {stat!r} is not emulated by the harness's embedded target")


DimensionKey = frozenset[tuple[str, str | None]]  # a metric's (name, value) dimension pairs
Identity = tuple[str | None, str | None, DimensionKey]  # (namespace, metric name, dimensions)


def dimension_key(dimensions: Iterable[Any]) -> DimensionKey:
    """A metric's identity within its name: the exact set of (name, value) pairs."""
    out: set[tuple[str, str | None]] = set()
    for d in dimensions:
        if isinstance(d, dict):
            out.add((d["Name"], d.get("Value")))
        else:
            out.add((d.name, d.value))
    return frozenset(out)


class MetricIndex:
    """One account's stored datapoints keyed by metric identity, kept up to date incrementally.

    moto's GetMetricData scans every datapoint the account holds for every call (27 ms at 7 functions,
    650 ms at 300: batched reads grew as N²). moto only ever appends to ``metric_data`` (PutMetricData,
    and the extensions' own writes) and replaces the list when the account is reset, so the index adds
    what was appended since it last looked, and starts over when the list is a new one or no longer
    holds the last datapoint it indexed where it was (someone truncated it in place).
    """

    def __init__(self, source: list[MetricDatumBase]) -> None:
        self.source = source
        self.seen = 0
        self.last: MetricDatumBase | None = None
        self.by_identity: dict[Identity, list[tuple[datetime, MetricDatumBase]]] = defaultdict(list)
        self.lock = threading.Lock()

    def refresh(self) -> None:
        """Index what was appended since the last look."""
        with self.lock:
            if self.seen and (len(self.source) < self.seen or self.source[self.seen - 1] is not self.last):
                self.by_identity.clear()
                self.seen = 0
            keys: dict[int, DimensionKey] = {}  # datapoints of one metric often share their dimension list
            for md in self.source[self.seen :]:
                dims = keys.get(id(md.dimensions))
                if dims is None:
                    dims = keys[id(md.dimensions)] = dimension_key(md.dimensions)
                self.by_identity[(md.namespace, md.name, dims)].append((naive_utc(md.timestamp), md))
            self.seen = len(self.source)
            self.last = self.source[-1] if self.source else None

    def select(self, identity: Identity, start: datetime, end: datetime) -> list[MetricDatumBase]:
        """The identity's datapoints in [start, end)."""
        return [md for ts, md in self.by_identity.get(identity, ()) if start <= ts < end]


_indexes: dict[tuple[str, str], MetricIndex] = {}
_indexes_lock = threading.Lock()


def metric_index(backend: CloudWatchBackend) -> MetricIndex:
    """The (refreshed) index of ``backend``'s stored datapoints."""
    key = (backend.account_id, backend.region_name)
    with _indexes_lock:
        index = _indexes.get(key)
        if index is None or index.source is not backend.metric_data:
            index = _indexes[key] = MetricIndex(backend.metric_data)
    index.refresh()
    return index


class Window:
    """The datapoints of one [start, end) window, per metric identity: stored ones from the index, plus
    those moto computes on the fly (``aws_metric_data``, e.g. S3 bucket sizes) read once per request."""

    def __init__(self, backend: CloudWatchBackend, start: datetime, end: datetime) -> None:
        self.index, self.start, self.end = metric_index(backend), start, end
        self.computed: dict[Identity, list[MetricDatumBase]] = defaultdict(list)
        for md in backend.aws_metric_data:
            if start <= naive_utc(md.timestamp) < end:
                self.computed[(md.namespace, md.name, dimension_key(md.dimensions))].append(md)

    def get(self, identity: Identity) -> list[MetricDatumBase]:
        """The identity's datapoints in the window."""
        return self.index.select(identity, self.start, self.end) + self.computed.get(identity, [])


def buckets(
    data: list[MetricDatumBase], unit: str | None, start: datetime, period: int
) -> dict[int, list[MetricDatumBase]]:
    """One metric's data grouped by period index from ``start`` (optionally only one unit)."""
    grouped: dict[int, list[MetricDatumBase]] = defaultdict(list)
    for md in data:
        if unit and md.unit != unit:
            continue
        grouped[int((naive_utc(md.timestamp) - start).total_seconds() // period)].append(md)
    return grouped


def _now(ctx: registry.AccountContext) -> datetime:
    """The served account's "now", naive UTC."""
    return naive_utc(ctx.clock.now())


def metric_statistics(
    backend: CloudWatchBackend, ctx: registry.AccountContext, params: dict[str, Any]
) -> dict[str, Any]:
    """GetMetricStatistics's result: datapoints with the requested basic and extended statistics."""
    stats: list[str] = params.get("Statistics") or []
    extended: list[str] = params.get("ExtendedStatistics") or []
    if not stats and not extended:
        raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics")
    if (
        stats and extended
    ):  # API reference, GetMetricStatistics: "either Statistics or ExtendedStatistics, but not both"
        raise InvalidParameterCombination("Parameters Statistics and ExtendedStatistics are mutually exclusive")
    for stat in stats:
        if stat not in BASIC:
            raise InvalidParameterValue(f"The parameter Statistics has an invalid value {stat!r}")
    for stat in extended:
        if not PERCENTILE.match(stat):
            raise InvalidParameterValue(f"The statistic {stat!r} is not emulated by the harness's embedded target")
    period = int(params["Period"])
    start = cloudwatch_start(naive_utc(params["StartTime"]), _now(ctx))
    end = naive_utc(params["EndTime"])
    if start >= end:
        raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
    wanted = math.ceil((end - start).total_seconds() / period)
    if wanted > MAX_DATAPOINTS:
        raise InvalidParameterCombination(
            f"You have requested up to {wanted} datapoints, which exceeds the limit of {MAX_DATAPOINTS}. "
            "You may reduce the datapoints requested by increasing Period, or decreasing the time range."
        )
    identity = (params["Namespace"], params["MetricName"], dimension_key(params.get("Dimensions") or []))
    grouped = buckets(Window(backend, start, end).get(identity), params.get("Unit"), start, period)
    datapoints = []
    for index in sorted(grouped):
        data = grouped[index]
        point: dict[str, Any] = {
            "Timestamp": start + timedelta(seconds=index * period),
            "Unit": params.get("Unit") or data[-1].unit or "None",
        }
        for stat in stats:
            value = statistic(data, stat)
            if value is not None:
                point[stat] = value
        values = {stat: statistic(data, stat) for stat in extended}
        values = {k: v for k, v in values.items() if v is not None}
        if values:
            point["ExtendedStatistics"] = values
        datapoints.append(point)
    return {"Label": params["MetricName"], "Datapoints": datapoints}


def _stat_result(window: Window, query: dict[str, Any], start: datetime, scan_by: str) -> dict[str, Any]:
    """One MetricStat query's series: the statistic (pNN included) per period over the window's datapoints."""
    ms = query["MetricStat"]
    stat, period = ms["Stat"], int(ms.get("Period") or query.get("Period") or 60)
    check_stat(stat)
    metric = ms["Metric"]
    identity = (metric.get("Namespace"), metric.get("MetricName"), dimension_key(metric.get("Dimensions") or []))
    grouped = buckets(window.get(identity), ms.get("Unit"), start, period)
    timestamps: list[datetime] = []
    values: list[float] = []
    for index in sorted(grouped):
        value = statistic(grouped[index], stat)
        if value is not None:
            timestamps.append(start + timedelta(seconds=index * period))
            values.append(value)
    if scan_by != "TimestampAscending":
        timestamps.reverse()
        values.reverse()
    label = query.get("Label") or f"{metric.get('MetricName')} {stat}"
    return {
        "id": query["Id"],
        "label": label,
        "values": values,
        "timestamps": timestamps,
        "status_code": "Complete",
        "_return": query.get("ReturnData", True),
    }


def metric_data(
    backend: CloudWatchBackend,
    ctx: registry.AccountContext,
    queries: list[dict[str, Any]],
    start: datetime,
    end: datetime,
    scan_by: str,
) -> list[dict[str, Any]]:
    """GetMetricData's results for MetricStat queries (any statistic incl. pNN), then metric math."""
    cloudwatch_queries.validate(queries)
    start, end = cloudwatch_start(naive_utc(start), _now(ctx)), naive_utc(end)
    if start >= end:
        raise ValidationError("The parameter EndTime must be greater than StartTime.")
    computed: list[dict[str, Any]] = []
    window = Window(backend, start, end)
    for query in queries:
        if "MetricStat" not in query:
            continue
        computed.append(_stat_result(window, query, start, scan_by))
    results = [{k: v for k, v in r.items() if k != "_return"} for r in computed if r["_return"]]
    series = {r["id"]: dict(zip(r["timestamps"], r["values"], strict=True)) for r in computed}
    for query in queries:
        if "Expression" in query and not query["Expression"].startswith("SELECT"):
            points = cloudwatch_queries.evaluate(query["Expression"], series)
            series[query["Id"]] = points
            if not query.get("ReturnData", True):
                continue
            timestamps = sorted(points, reverse=scan_by != "TimestampAscending")
            results.append(
                {
                    "id": query["Id"],
                    "label": query.get("Label") or query["Id"],
                    "values": [points[t] for t in timestamps],
                    "timestamps": timestamps,
                    "status_code": "Complete",
                }
            )
    return results


def _response_statistics(original: Any) -> Any:
    def get_metric_statistics(self: CloudWatchResponse) -> Any:
        ctx = registry.context(self.current_account)
        if ctx is None:
            return original(self)
        params = {
            name: self._get_param(name)
            for name in (
                "Namespace",
                "MetricName",
                "StartTime",
                "EndTime",
                "Period",
                "Statistics",
                "ExtendedStatistics",
                "Dimensions",
                "Unit",
            )
        }
        return ActionResult(metric_statistics(self.cloudwatch_backend, ctx, params))

    get_metric_statistics.__doc__ = (
        "GetMetricStatistics with ExtendedStatistics and exact dimensions (fidelity extension)."
    )
    return get_metric_statistics


def _backend_data(original: Any) -> Any:
    def get_metric_data(
        self: CloudWatchBackend,
        queries: list[dict[str, Any]],
        start_time: datetime,
        end_time: datetime,
        scan_by: str = "TimestampAscending",
    ) -> Any:
        ctx = registry.context(self.account_id)
        if ctx is None:
            return original(self, queries, start_time, end_time, scan_by)
        results = metric_data(self, ctx, queries, start_time, end_time, scan_by)
        insights = [q for q in queries if str(q.get("Expression", "")).startswith("SELECT")]
        if insights:
            results += original(self, insights, start_time, end_time, scan_by)
        return results

    get_metric_data.__doc__ = "GetMetricData with pNN statistics and exact dimensions (fidelity extension)."
    return get_metric_data


PATCHES: tuple[registry.Patch, ...] = (
    (CloudWatchResponse, "get_metric_statistics", _response_statistics),
    (CloudWatchBackend, "get_metric_data", _backend_data),
)


def install() -> None:
    """Patch moto's CloudWatch statistics paths (once per process)."""
    registry.patch_all(PATCHES)
