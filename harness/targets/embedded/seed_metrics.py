"""Seeding's healthy baseline: 24 h of Lambda metrics and one OK alarm per function (000 §7.4 windows).

Part of the one ordered pass of harness/targets/embedded/seed.py (which calls these in its order and
re-exports the public names); split out only for size.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from harness.inventory.model import Environment

if TYPE_CHECKING:
    from harness.targets.embedded.seed import Seeded

METRIC_PERIOD = timedelta(minutes=5)
METRIC_HOURS = 24
BASELINE_INVOCATIONS = 20  # per 5-minute period and function
# Healthy Duration distribution (ms) per period: values and how often each occurs; p95 = 250 ms (nearest rank).
BASELINE_DURATION_MS = ([80.0, 150.0, 250.0, 400.0], [6.0, 8.0, 5.0, 1.0])
LAMBDA_NAMESPACE = "AWS/Lambda"
PUT_METRIC_DATA_MAX = 1000  # PutMetricData: up to 1,000 metrics per request (CloudWatch API reference)


def seeded_function_names(env: Environment) -> list[tuple[str, str]]:
    """(function name, service) pairs the rehearsal creates: named ones and one per discovery prefix."""
    names = [(f.name, f.service) for f in env.functions]
    names += [(d.prefix, d.service) for d in env.discovery if not any(n == d.prefix for n, _ in names)]
    return names


def _baseline_points(now: datetime) -> list[datetime]:
    """The baseline's timestamps (naive UTC, as moto stores them), newest at ``now``."""
    # Newest point at seeding time: a check within the next verification window sees recent traffic
    # whichever minute it starts in (a truncated end left the window empty across a minute boundary).
    end = now.astimezone(timezone.utc).replace(microsecond=0, tzinfo=None) if now.tzinfo else now.replace(microsecond=0)
    return [end - METRIC_PERIOD * p for p in range(int(timedelta(hours=METRIC_HOURS) / METRIC_PERIOD))]


def baseline_metrics(env: Environment, now: datetime) -> list[dict[str, Any]]:
    """The healthy AWS/Lambda baseline per function, as PutMetricData's MetricDatum shapes: ``METRIC_HOURS``
    of ``METRIC_PERIOD`` points of Invocations, Errors 0, Throttles 0 and the Duration distribution.

    Duration is sent as statistic sets, one per distinct value (Minimum = Maximum = the value, SampleCount
    = how often it occurs): PutMetricData accepts either form for the same distribution, and a set with
    Minimum = Maximum still gives percentiles (CloudWatch User Guide, "Statistics definitions": percentiles
    need raw values or sets whose Minimum equals Maximum). moto keeps one datapoint object per count of a
    Values/Counts pair (20 per point here); four per point this way.
    """
    values, counts = BASELINE_DURATION_MS
    data: list[dict[str, Any]] = []
    for name, _service in seeded_function_names(env):
        dims = [{"Name": "FunctionName", "Value": name}]
        for ts in _baseline_points(now):
            data.append(
                {
                    "MetricName": "Invocations",
                    "Dimensions": dims,
                    "Timestamp": ts,
                    "Value": float(BASELINE_INVOCATIONS),
                    "Unit": "Count",
                }
            )
            data.append({"MetricName": "Errors", "Dimensions": dims, "Timestamp": ts, "Value": 0.0, "Unit": "Count"})
            data.append({"MetricName": "Throttles", "Dimensions": dims, "Timestamp": ts, "Value": 0.0, "Unit": "Count"})
            for value, count in zip(values, counts, strict=True):
                stats = {"SampleCount": count, "Sum": value * count, "Minimum": value, "Maximum": value}
                data.append(
                    {
                        "MetricName": "Duration",
                        "Dimensions": dims,
                        "Timestamp": ts,
                        "StatisticValues": stats,
                        "Unit": "Milliseconds",
                    }
                )
    return data


def _seed_metrics(target: Any, env: Environment, now: datetime, out: Seeded) -> None:
    """24 h of healthy AWS/Lambda metrics per function, 5-minute points (``baseline_metrics``).

    With the fidelity extensions (the rehearsal's own moto in this process) the datapoints go straight
    into the account's CloudWatch model, as ``fidelity/lambda_telemetry`` does for invocations: the same
    objects PutMetricData would store, without the wire round trips (~40 ms of client serialization and
    parsing per 1,000 datapoints). Plain moto (``fidelity=False``) gets them through PutMetricData, 1,000
    per call (the API's limit).
    """
    if getattr(target, "extensions", None) is not None:
        put_baseline_in_process(env, now)
        # Index the baseline now (fidelity/cloudwatch_percentiles.py): the first GetMetricData of a
        # checklist then reads only what was put since, not 600,000 datapoints at N = 300.
        from moto.cloudwatch.models import cloudwatch_backends

        from harness.targets.embedded.fidelity.cloudwatch_percentiles import metric_index

        metric_index(cloudwatch_backends[env.account][env.region])
        return
    data = baseline_metrics(env, now)
    cw = target.client("cloudwatch")
    for start in range(0, len(data), PUT_METRIC_DATA_MAX):
        cw.put_metric_data(Namespace=LAMBDA_NAMESPACE, MetricData=data[start : start + PUT_METRIC_DATA_MAX])


def put_baseline_in_process(env: Environment, now: datetime) -> int:
    """The ``baseline_metrics`` datapoints appended to the account's moto CloudWatch model; returns how many.

    The objects are moto's own datapoint classes with the attributes its constructors set
    (tests/fidelity/test_moto_contract.py pins them); a function's datapoints share one dimension list
    (moto never changes a stored datapoint), which keeps N = 300 near 200 MB.
    """
    from moto.cloudwatch.models import Dimension, MetricAggregatedDatum, MetricDatum, cloudwatch_backends

    def datum(cls: Any, dims: list[Any], metric: str, ts: datetime, unit: str, **values: float) -> Any:
        md = cls.__new__(cls)  # moto's BaseModel.__new__ (tracks the instance, as its constructor does)
        md.__dict__.update(namespace=LAMBDA_NAMESPACE, name=metric, timestamp=ts, dimensions=dims, unit=unit, **values)
        return md

    values, counts = BASELINE_DURATION_MS
    points = _baseline_points(now)
    stored: list[Any] = []
    for name, _service in seeded_function_names(env):
        dims = [Dimension("FunctionName", name)]
        for ts in points:
            stored.append(datum(MetricDatum, dims, "Invocations", ts, "Count", value=float(BASELINE_INVOCATIONS)))
            stored.append(datum(MetricDatum, dims, "Errors", ts, "Count", value=0.0))
            stored.append(datum(MetricDatum, dims, "Throttles", ts, "Count", value=0.0))
            for value, count in zip(values, counts, strict=True):
                stored.append(
                    datum(
                        MetricAggregatedDatum,
                        dims,
                        "Duration",
                        ts,
                        "Milliseconds",
                        min=value,
                        max=value,
                        sample_count=count,
                        sum=value * count,
                    )
                )
    cloudwatch_backends[env.account][env.region].metric_data.extend(stored)
    return len(stored)


def _seed_alarms(target: Any, env: Environment, out: Seeded) -> None:
    cw = target.client("cloudwatch")
    for name, _service in seeded_function_names(env):
        prefix = "" if name.startswith(env.alarm_prefix) else env.alarm_prefix
        alarm = f"{prefix}{name}-errors"
        cw.put_metric_alarm(
            AlarmName=alarm,
            Namespace="AWS/Lambda",
            MetricName="Errors",
            Dimensions=[{"Name": "FunctionName", "Value": name}],
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=float(env.auto_rollback.error_spike_count),
            ComparisonOperator="GreaterThanThreshold",
        )
        # moto never evaluates alarms; a healthy rehearsal starts in OK.
        cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="rehearsal baseline")
        out.alarms.append(alarm)
