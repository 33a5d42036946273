"""CloudWatch percentiles (ExtendedStatistics, Stat="pNN") and exact-dimension matching."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from harness.targets.embedded.fidelity.cloudwatch_percentiles import percentile
from tests.fidelity.conftest import publish, sample_zip

NS = "Harness/FidelityTest"
HEALTHY_FN = "bbws-tenant-instance-management-sit"
FAULT_FN = "sit-bbws-async-processor"
THREE_SECONDS_MS = 3000.0


def put_values(cw, metric: str, values: list[float], counts: list[float] | None, at, dims=None) -> None:
    datum = {"MetricName": metric, "Timestamp": at, "Values": values, "Unit": "Milliseconds", "Dimensions": dims or []}
    if counts:
        datum["Counts"] = counts
    cw.put_metric_data(Namespace=NS, MetricData=[datum])


def gms(cw, metric: str, start, end, period: int, dims=None, **kwargs) -> list[dict]:
    return cw.get_metric_statistics(
        Namespace=NS, MetricName=metric, Dimensions=dims or [], StartTime=start, EndTime=end, Period=period, **kwargs
    )["Datapoints"]


def gmd(cw, namespace: str, metric: str, stat: str, start, end, period: int, dims=None) -> list[float]:
    query = {
        "Id": "q",
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dims or []},
            "Period": period,
            "Stat": stat,
        },
    }
    return cw.get_metric_data(MetricDataQueries=[query], StartTime=start, EndTime=end)["MetricDataResults"][0]["Values"]


def test_p95_of_100_known_values_is_the_nearest_rank(seeded_sit):
    cw, now = seeded_sit.client("cloudwatch"), seeded_sit.clock.now()
    values = [float(v) for v in range(1, 101)]
    random.Random(4).shuffle(values)
    put_values(cw, "Hundred", values, None, now - timedelta(minutes=30))
    # GetMetricStatistics takes Statistics or ExtendedStatistics, never both (test_gms_refuses_both below).
    [point] = gms(cw, "Hundred", now - timedelta(hours=1), now, 3600, ExtendedStatistics=["p50", "p90", "p95", "p99"])
    [count] = gms(cw, "Hundred", now - timedelta(hours=1), now, 3600, Statistics=["SampleCount"])
    expected = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0}  # nearest rank: ceil(p/100 * 100)-th value
    assert count["SampleCount"] == 100
    for stat, value in expected.items():
        # AWS documents percentiles as approximate without a bound; within 1% of the exact value here.
        assert point["ExtendedStatistics"][stat] == pytest.approx(value, rel=0.01)
    assert gmd(cw, NS, "Hundred", "p95", now - timedelta(hours=1), now, 3600) == [pytest.approx(95.0, rel=0.01)]


def test_counts_weight_the_percentile(seeded_sit):
    cw, now = seeded_sit.client("cloudwatch"), seeded_sit.clock.now()
    put_values(cw, "Weighted", [10.0, 20.0, 30.0], [50.0, 45.0, 5.0], now - timedelta(minutes=20))
    [point] = gms(cw, "Weighted", now - timedelta(hours=1), now, 3600, ExtendedStatistics=["p50", "p95", "p96"])
    assert point["ExtendedStatistics"] == {"p50": 10.0, "p95": 20.0, "p96": 30.0}


def test_healthy_baseline_p95_is_below_three_seconds(seeded_sit):
    cw, now = seeded_sit.client("cloudwatch"), seeded_sit.clock.now()
    dims = [{"Name": "FunctionName", "Value": HEALTHY_FN}]
    per_period = gmd(cw, "AWS/Lambda", "Duration", "p95", now - timedelta(hours=24), now, 300, dims)
    assert len(per_period) >= 287 and max(per_period) < THREE_SECONDS_MS
    # A 24 h window whose start is rounded down can straddle two one-day buckets (as in AWS).
    days = gmd(cw, "AWS/Lambda", "Duration", "p95", now - timedelta(hours=24), now, 86400, dims)
    assert 1 <= len(days) <= 2 and all(0 < day < THREE_SECONDS_MS for day in days)


def test_latency_fault_pushes_p95_above_three_seconds(seeded_sit):
    """A slow version behind the alias, invoked for real: its Duration metrics carry the fault."""
    target, now = seeded_sit, seeded_sit.clock.now()
    version = publish(target, FAULT_FN, sample_zip("9.9.9"), {"APP_VERSION": "9.9.9", "HARNESS_FAULT": "slow=3.1"})
    target.client("lambda").update_alias(FunctionName=FAULT_FN, Name=target.env.alias, FunctionVersion=version)
    callers = [
        threading.Thread(
            target=target.client("lambda").invoke, kwargs={"FunctionName": f"{FAULT_FN}:{target.env.alias}"}
        )
        for _ in range(3)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    dims = [{"Name": "FunctionName", "Value": FAULT_FN}]
    [p95] = gmd(
        target.client("cloudwatch"),
        "AWS/Lambda",
        "Duration",
        "p95",
        now - timedelta(minutes=1),
        now + timedelta(minutes=4),
        300,
        dims,
    )
    assert p95 > THREE_SECONDS_MS


def test_dimensions_match_exactly_in_both_apis(seeded_sit):
    cw, now = seeded_sit.client("cloudwatch"), seeded_sit.clock.now()
    both = [{"Name": "FunctionName", "Value": "fn-x"}, {"Name": "Resource", "Value": "fn-x:live"}]
    put_values(cw, "ByResource", [5.0, 7.0], None, now - timedelta(minutes=10), dims=both)
    start, end = now - timedelta(hours=1), now
    assert gms(cw, "ByResource", start, end, 3600, dims=both[:1], Statistics=["Sum"]) == []
    assert gmd(cw, NS, "ByResource", "Sum", start, end, 3600, both[:1]) == []
    assert gms(cw, "ByResource", start, end, 3600, dims=list(reversed(both)), Statistics=["Sum"])[0]["Sum"] == 12.0
    assert gmd(cw, NS, "ByResource", "p50", start, end, 3600, both) == [5.0]


def test_percentiles_need_raw_non_negative_values(seeded_sit):
    cw, now = seeded_sit.client("cloudwatch"), seeded_sit.clock.now()
    at, start = now - timedelta(minutes=10), now - timedelta(hours=1)
    stat_set = {"SampleCount": 10, "Sum": 100, "Minimum": 1, "Maximum": 30}
    cw.put_metric_data(Namespace=NS, MetricData=[{"MetricName": "Set", "Timestamp": at, "StatisticValues": stat_set}])
    cw.put_metric_data(
        Namespace=NS,
        MetricData=[
            {
                "MetricName": "Single",
                "Timestamp": at,
                "StatisticValues": {"SampleCount": 1, "Sum": 7, "Minimum": 7, "Maximum": 7},
            }
        ],
    )
    put_values(cw, "Negative", [-1.0, 4.0], None, at)
    assert "ExtendedStatistics" not in gms(cw, "Set", start, now, 3600, ExtendedStatistics=["p95"])[0]
    assert gms(cw, "Single", start, now, 3600, ExtendedStatistics=["p95"])[0]["ExtendedStatistics"] == {"p95": 7.0}
    assert gmd(cw, NS, "Negative", "p95", start, now, 3600) == []
    assert gmd(cw, NS, "Negative", "Average", start, now, 3600) == [1.5]


def test_refusals(seeded_sit):
    cw, now = seeded_sit.client("cloudwatch"), seeded_sit.clock.now()
    with pytest.raises(ClientError) as too_many:
        gms(cw, "Hundred", now - timedelta(days=2), now, 60, Statistics=["Sum"])
    assert too_many.value.response["Error"]["Code"] == "InvalidParameterCombination"
    with pytest.raises(ClientError) as unknown:
        gmd(cw, NS, "Hundred", "tm99", now - timedelta(hours=1), now, 60)
    assert unknown.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_moto_alone_has_no_percentiles(make_target):
    target = make_target(seed=False, fidelity=False)
    cw = target.client("cloudwatch")
    now = target.clock.now()
    put_values(cw, "Hundred", [float(v) for v in range(1, 101)], None, now - timedelta(minutes=5))
    points = gms(cw, "Hundred", now - timedelta(hours=1), now, 3600, ExtendedStatistics=["p95"])
    assert all("ExtendedStatistics" not in p for p in points)


@pytest.mark.parametrize(("p", "expected"), [(0.1, 1.0), (50, 2.0), (75, 3.0), (100, 4.0)])
def test_nearest_rank(p, expected):
    assert percentile([(4.0, 1), (1.0, 1), (3.0, 1), (2.0, 1)], p) == expected


def _stat_query(qid: str, metric: str, period: int = 60, **extra) -> dict:
    return {
        "Id": qid,
        "MetricStat": {
            "Metric": {"Namespace": NS, "MetricName": metric, "Dimensions": []},
            "Period": period,
            "Stat": "Sum",
        },
        **extra,
    }


def _refused(call) -> tuple[str, int, str]:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Message"]


@pytest.mark.parametrize(
    "queries",
    [
        [_stat_query("Errors", "Math")],
        [_stat_query("a", "Math"), _stat_query("a", "Math")],
        [_stat_query("a", "Math", period=45)],
    ],
    ids=["id-starts-upper-case", "duplicate-ids", "period-45"],
)
def test_get_metric_data_refuses_what_cloudwatch_refuses(seeded_sit, queries):
    """https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html (Id: unique,
    "the first character must be a lowercase letter"), https://docs.aws.amazon.com/AmazonCloudWatch/latest/
    APIReference/API_MetricStat.html (Period: a multiple of 60 for regular resolution): ValidationError, 400."""
    cw, now = seeded_sit.client("cloudwatch"), seeded_sit.clock.now()
    code, status, _ = _refused(
        lambda: cw.get_metric_data(MetricDataQueries=queries, StartTime=now - timedelta(hours=1), EndTime=now)
    )
    assert (code, status) == ("ValidationError", 400)


def test_get_metric_statistics_refuses_statistics_with_extended_statistics(seeded_sit):
    """https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html: "you must
    specify either Statistics or ExtendedStatistics, but not both" (InvalidParameterCombination, 400)."""
    cw, now = seeded_sit.client("cloudwatch"), seeded_sit.clock.now()
    code, status, _ = _refused(
        lambda: gms(cw, "Hundred", now - timedelta(hours=1), now, 3600, Statistics=["Sum"], ExtendedStatistics=["p95"])
    )
    assert (code, status) == ("InvalidParameterCombination", 400)


def test_metric_math_is_evaluated_or_refused_never_empty(seeded_sit):
    """https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html: arithmetic on
    series (values paired by timestamp, a zero divisor gives no value) is evaluated; a function the emulator
    does not evaluate is refused, never "Complete" with no values (moto's answer to ``a*100/a``)."""
    cw, now = seeded_sit.client("cloudwatch"), seeded_sit.clock.now()
    at = (now - timedelta(minutes=30)).replace(second=0, microsecond=0)
    cw.put_metric_data(Namespace=NS, MetricData=[{"MetricName": "MathErrors", "Timestamp": at, "Value": 5.0}])
    cw.put_metric_data(Namespace=NS, MetricData=[{"MetricName": "MathCalls", "Timestamp": at, "Value": 20.0}])
    window = {"StartTime": now - timedelta(hours=1), "EndTime": now}
    queries = [
        _stat_query("e", "MathErrors", ReturnData=False),
        _stat_query("c", "MathCalls", ReturnData=False),
        {"Id": "rate", "Expression": "e*100/c", "Label": "error rate"},
        {"Id": "same", "Expression": "e*100/e"},
    ]
    results = {r["Id"]: r for r in cw.get_metric_data(MetricDataQueries=queries, **window)["MetricDataResults"]}
    assert set(results) == {"rate", "same"}
    assert results["rate"]["Values"] == [25.0] and results["rate"]["StatusCode"] == "Complete"
    assert results["same"]["Values"] == [100.0]
    refused = [_stat_query("e", "MathErrors"), {"Id": "f", "Expression": "FILL(e, 0)"}]
    code, status, message = _refused(lambda: cw.get_metric_data(MetricDataQueries=refused, **window))
    assert (code, status) == ("InvalidParameterValue", 400) and "not emulated" in message
