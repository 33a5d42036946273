"""Checks that cannot lie: CloudWatch answers that are not complete, errors without
invocations, health bodies that say "unhealthy", replication rules that miss the key space, Terraform
states with boolean serials and locks of unknown age, and the window every metric/log row read.

Each test seeds the state (on the embedded rehearsal where the emulator can hold it, otherwise with a
botocore Stubber or a small fake client behind ``StubTarget``) and sees the row go the right way. The
guard at the end requires a registered test (``@covers``) for every verdict path of every check.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber
from moto.cloudwatch.models import cloudwatch_backends

from harness.checks import verification_report
from harness.checks.catalogue import CATALOGUE, rows_for
from harness.checks.context import CheckContext
from harness.checks.health_body import FAILING_STATUSES, declared_unhealthy, parse_json
from harness.checks.metrics import cloudwatch_start, window_query
from harness.checks.result import CheckResult, Verdict
from harness.checks.runner import run_procedure, run_row
from harness.inventory import load_inventory
from harness.inventory.model import Environment
from harness.targets.embedded.seed import _create_bucket, _harden_bucket
from tests.checks.conftest import Rehearsal, describe
from tests.checks.emulator_state import metrics_restored
from tests.checks.test_violations import api_front
from tests.checks.verdicts import COVERED, covers, verdict_sites
from tests.stub_target import StubTarget

NOW = datetime(2025, 5, 6, 12, 35, 27, tzinfo=timezone.utc)  # seconds past the minute on purpose
SIT = load_inventory("bbws").environment("sit")
FN = SIT.functions[0].name


# -- helpers ---------------------------------------------------------------------------------------


def stub_ctx(env: Environment = SIT, now: datetime = NOW, **clients: Any) -> CheckContext:
    """A context on canned clients (no emulator), at ``now``."""
    ctx = CheckContext(target=StubTarget(env, clients), now=now)
    ctx.cache["functions"] = [FN]  # one function: the batch is Invocations, Errors, Duration p95 (m0..m2)
    return ctx


def run_slug(ctx: CheckContext, slug: str, resource: str | None = None, item: Any = None) -> CheckResult:
    """Run ``slug``'s row for ``resource`` (the first row when None; ``item`` overrides the inventory item)."""
    planned = next(p for p in rows_for(ctx.env, slugs=(slug,)) if resource is None or p.row.resource == resource)
    if item is not None:
        planned = replace(planned, row=replace(planned.row, item=item))
    return run_row(ctx, planned)


def only(r: Rehearsal, slug: str, ctx: CheckContext | None = None) -> dict[str, CheckResult]:
    """``slug``'s rows on the rehearsal, by resource."""
    ctx = ctx or r.context()
    return {res.resource: res for res in run_procedure(ctx, None, (slug,))}


def client_error(code: str, message: str = "", op: str = "Op") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message or code}}, op)


class _WithEnv:
    """A target seen with another environment (an inventory variant), everything else delegated."""

    def __init__(self, target: Any, env: Environment) -> None:
        self._target, self.env = target, env

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class FakeCloudWatch:
    """GetMetricData from ``series`` ((metric, stat) -> values; absent: no datapoint) and ``status``
    ((metric, stat) -> StatusCode, default Complete), for every function and window."""

    def __init__(
        self, series: dict[tuple[str, str], list[float]] | None = None, status: dict[tuple[str, str], str] | None = None
    ) -> None:
        self.series, self.status = dict(series or {}), dict(status or {})
        self.calls: list[dict[str, Any]] = []

    def get_metric_data(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        out = []
        for q in kwargs["MetricDataQueries"]:
            key = (q["MetricStat"]["Metric"]["MetricName"], q["MetricStat"]["Stat"])
            values = self.series.get(key, [])
            out.append(
                {
                    "Id": q["Id"],
                    "Values": values,
                    "Timestamps": [kwargs["StartTime"]] * len(values),
                    "StatusCode": self.status.get(key, "Complete"),
                }
            )
        return {"MetricDataResults": out, "Messages": []}


HEALTHY = {
    ("Invocations", "Sum"): [100.0],
    ("Errors", "Sum"): [0.0],
    ("Duration", "p95"): [120.0],
    ("Throttles", "Sum"): [0.0],
}


def metric_row(
    slug: str, series: dict[tuple[str, str], list[float]], status: dict[tuple[str, str], str] | None = None
) -> CheckResult:
    return run_slug(stub_ctx(cloudwatch=FakeCloudWatch(series, status)), slug, FN)


# -- 1. GetMetricData status codes, pages and messages (botocore Stubber) -------------------------


def _stubbed() -> tuple[Any, Stubber]:
    client = boto3.client("cloudwatch", region_name=SIT.region, aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def _result(
    qid: str, values: list[float], status: str = "Complete", messages: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    r: dict[str, Any] = {
        "Id": qid,
        "Label": qid,
        "Values": values,
        "Timestamps": [NOW - timedelta(minutes=5)] * len(values),
        "StatusCode": status,
    }
    if messages:
        r["Messages"] = messages
    return r


PAGE_PARAMS = {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY, "ScanBy": ANY}


@covers("error-rate", Verdict.PASS, "PartialData followed by NextToken: the values of all pages count")
def test_partial_data_pages_are_followed_and_summed() -> None:
    client, stub = _stubbed()
    stub.add_response(
        "get_metric_data",
        {
            "MetricDataResults": [
                _result("m0", [10.0], "PartialData"),
                _result("m1", [0.0], "PartialData"),
                _result("m2", [100.0], "PartialData"),
            ],
            "NextToken": "t1",
        },
        PAGE_PARAMS,
    )
    stub.add_response(
        "get_metric_data",
        {"MetricDataResults": [_result("m0", [5.0]), _result("m1", [0.0]), _result("m2", [120.0])]},
        {**PAGE_PARAMS, "NextToken": "t1"},
    )
    with stub:
        ctx = stub_ctx(cloudwatch=client)
        res = run_slug(ctx, "error-rate", FN)
        lat = run_slug(ctx, "latency-p95", FN)
    stub.assert_no_pending_responses()
    assert res.verdict is Verdict.PASS and "15 invocations" in res.observed, res.message()
    assert lat.verdict is Verdict.PASS and "p95 0.120 s" in lat.observed, lat.message()
    assert ctx.metrics.round_trips == 2


@covers("error-rate", Verdict.ERROR, "the last page says InternalError for the Errors query")
def test_final_page_status_counts_internal_error_is_error() -> None:
    """Complete on page 1 but InternalError on the last page: the final status counts."""
    client, stub = _stubbed()
    stub.add_response(
        "get_metric_data",
        {"MetricDataResults": [_result("m0", [10.0]), _result("m1", [0.0]), _result("m2", [100.0])], "NextToken": "t1"},
        PAGE_PARAMS,
    )
    stub.add_response(
        "get_metric_data",
        {
            "MetricDataResults": [
                _result("m0", []),
                _result("m1", [], "InternalError", [{"Code": "InternalError", "Value": "try again later"}]),
                _result("m2", []),
            ]
        },
        {**PAGE_PARAMS, "NextToken": "t1"},
    )
    with stub:
        ctx = stub_ctx(cloudwatch=client)
        res = run_slug(ctx, "error-rate", FN)
        lat = run_slug(ctx, "latency-p95", FN)
    assert res.verdict is Verdict.ERROR, res.message()
    assert (
        f"Errors Sum of {FN}" in res.observed and "InternalError" in res.observed and "try again later" in res.observed
    )
    assert res.evidence["metrics_error"]["status"] == "InternalError"
    assert res.evidence["metrics_error"]["messages"] == [{"Code": "InternalError", "Value": "try again later"}]
    assert lat.verdict is Verdict.PASS, lat.message()  # rows that do not use the query are unaffected


@covers("latency-p95", Verdict.ERROR, "PartialData on the last page (no NextToken left)")
def test_partial_data_without_next_token_is_error() -> None:
    client, stub = _stubbed()
    stub.add_response(
        "get_metric_data",
        {"MetricDataResults": [_result("m0", [10.0]), _result("m1", [0.0]), _result("m2", [100.0], "PartialData")]},
        PAGE_PARAMS,
    )
    with stub:
        ctx = stub_ctx(cloudwatch=client)
        lat = run_slug(ctx, "latency-p95", FN)
        res = run_slug(ctx, "error-rate", FN)
    assert lat.verdict is Verdict.ERROR and f"Duration p95 of {FN}" in lat.observed and "PartialData" in lat.observed, (
        lat.message()
    )
    assert res.verdict is Verdict.PASS, res.message()


def test_forbidden_invocations_errors_every_row_that_uses_it() -> None:
    client, stub = _stubbed()
    stub.add_response(
        "get_metric_data",
        {"MetricDataResults": [_result("m0", [], "Forbidden"), _result("m1", [0.0]), _result("m2", [100.0])]},
        PAGE_PARAMS,
    )
    with stub:
        ctx = stub_ctx(cloudwatch=client)
        rows = [run_slug(ctx, "error-rate", FN), run_slug(ctx, "latency-p95", FN)]
    for r in rows:
        assert r.verdict is Verdict.ERROR and f"Invocations Sum of {FN}" in r.observed and "Forbidden" in r.observed, (
            r.message()
        )


def test_query_without_result_or_status_is_error_not_zero() -> None:
    client, stub = _stubbed()
    no_status = {"Id": "m2", "Values": [100.0], "Timestamps": [NOW]}
    stub.add_response("get_metric_data", {"MetricDataResults": [_result("m0", [10.0]), no_status]}, PAGE_PARAMS)
    with stub:
        ctx = stub_ctx(cloudwatch=client)
        res, lat = run_slug(ctx, "error-rate", FN), run_slug(ctx, "latency-p95", FN)
    assert res.verdict is Verdict.ERROR and "no result" in res.observed and f"Errors Sum of {FN}" in res.observed, (
        res.message()
    )
    assert lat.verdict is Verdict.ERROR and "no StatusCode" in lat.observed, lat.message()


def test_repeated_next_token_does_not_hang() -> None:
    client, stub = _stubbed()
    page = {
        "MetricDataResults": [
            _result("m0", [1.0], "PartialData"),
            _result("m1", [0.0], "PartialData"),
            _result("m2", [1.0], "PartialData"),
        ],
        "NextToken": "same",
    }
    stub.add_response("get_metric_data", page, PAGE_PARAMS)
    stub.add_response("get_metric_data", page, {**PAGE_PARAMS, "NextToken": "same"})
    with stub:
        res = run_slug(stub_ctx(cloudwatch=client), "error-rate", FN)
    assert res.verdict is Verdict.ERROR and "NextToken" in res.observed, res.message()


@covers("source-throttles", Verdict.ERROR, "GetMetricData refused (AccessDenied)")
def test_api_error_names_the_code_on_every_row() -> None:
    client, stub = _stubbed()
    for _ in range(3):  # the whole window's batch, then one retry per statistic (Sum, p95)
        stub.add_client_error("get_metric_data", "AccessDenied", "not authorized to perform cloudwatch:GetMetricData")
    with stub:
        ctx = stub_ctx(cloudwatch=client)
        rows = [run_slug(ctx, "error-rate", FN), run_slug(ctx, "latency-p95", FN)]
    for r in rows:
        assert r.verdict is Verdict.ERROR and "AccessDenied" in r.observed and "not authorized" in r.observed, (
            r.message()
        )
    gate_client, gate_stub = _stubbed()
    gate_stub.add_client_error("get_metric_data", "AccessDenied", "denied")
    with gate_stub:
        thr = run_slug(stub_ctx(cloudwatch=gate_client), "source-throttles", FN)
    assert (
        thr.verdict is Verdict.ERROR and f"Throttles Sum of {FN}" in thr.observed and "AccessDenied" in thr.observed
    ), thr.message()


@covers("source-errors", Verdict.ERROR, "a non-Complete status on the gate's Errors query")
def test_gate_row_with_internal_error_is_error() -> None:
    res = metric_row("source-errors", HEALTHY, {("Errors", "Sum"): "InternalError"})
    assert res.verdict is Verdict.ERROR and f"Errors Sum of {FN}" in res.observed and "InternalError" in res.observed, (
        res.message()
    )


def test_message_of_a_complete_result_is_kept_as_evidence() -> None:
    client, stub = _stubbed()
    note = [{"Code": "Info", "Value": "Maximum number of allowed metrics exceeded"}]
    stub.add_response(
        "get_metric_data",
        {"MetricDataResults": [_result("m0", [10.0], messages=note), _result("m1", [0.0]), _result("m2", [1.0])]},
        PAGE_PARAMS,
    )
    with stub:
        res = run_slug(stub_ctx(cloudwatch=client), "error-rate", FN)
    assert res.verdict is Verdict.PASS and res.evidence["invocations"]["messages"] == note


# -- 1b. the judgement: errors without invocations, missing series, idle functions ----------------


@covers("error-rate", Verdict.FAIL, "errors with no invocations recorded")
def test_errors_without_invocations_fail() -> None:
    res = metric_row("error-rate", {("Errors", "Sum"): [3.0]})
    assert res.verdict is Verdict.FAIL and "3 errors but no invocations" in res.observed, res.message()
    zero = metric_row("error-rate", {("Invocations", "Sum"): [0.0], ("Errors", "Sum"): [2.0]})
    assert zero.verdict is Verdict.FAIL and "2 errors but no invocations" in zero.observed, zero.message()


@covers("error-rate", Verdict.FAIL, "rate above the limit (fake client)")
def test_error_rate_above_limit_fails() -> None:
    res = metric_row("error-rate", {("Invocations", "Sum"): [100.0], ("Errors", "Sum"): [5.0]})
    assert res.verdict is Verdict.FAIL and "5.00%" in res.observed, res.message()


@covers("error-rate", Verdict.WARN, "idle function: no datapoints (fake client)")
def test_error_rate_idle_function_warns_and_says_why() -> None:
    res = metric_row("error-rate", {})
    assert res.verdict is Verdict.WARN and "not measurable" in res.observed
    assert "only for invocations" in res.evidence["note"]


@covers("error-rate", Verdict.ERROR, "Invocations without an Errors datapoint: count unknown, not 0")
def test_invocations_without_errors_series_is_error_not_pass() -> None:
    res = metric_row("error-rate", {("Invocations", "Sum"): [40.0]})
    assert res.verdict is Verdict.ERROR and "no Errors datapoint" in res.observed, res.message()


@covers("latency-p95", Verdict.FAIL, "p95 above the limit (fake client)")
@covers("latency-p95", Verdict.PASS, "p95 below the limit (fake client)")
def test_latency_pass_and_fail() -> None:
    assert metric_row("latency-p95", HEALTHY).verdict is Verdict.PASS
    slow = metric_row("latency-p95", {**HEALTHY, ("Duration", "p95"): [4000.0]})
    assert slow.verdict is Verdict.FAIL and "p95 4.000 s" in slow.observed


@covers("latency-p95", Verdict.ERROR, "Invocations without a Duration p95 datapoint")
def test_invocations_without_duration_is_error() -> None:
    res = metric_row("latency-p95", {("Invocations", "Sum"): [40.0]})
    assert res.verdict is Verdict.ERROR and "no Duration p95 datapoint" in res.observed, res.message()


@covers("latency-p95", Verdict.WARN, "idle function: no datapoints (fake client)")
def test_latency_idle_function_warns() -> None:
    res = metric_row("latency-p95", {})
    assert (
        res.verdict is Verdict.WARN
        and "not measurable" in res.observed
        and "only for invocations" in res.evidence["note"]
    )


@covers("source-errors", Verdict.FAIL, "errors with no invocations in the gate's lookback")
@covers("source-errors", Verdict.FAIL, "errors above the gate (fake client)")
@covers("source-errors", Verdict.PASS, "errors within the gate (fake client)")
def test_source_errors_judgement() -> None:
    gate = SIT.gates["sit"]
    ok = metric_row("source-errors", {**HEALTHY, ("Errors", "Sum"): [float(gate.max_errors)]})
    assert ok.verdict is Verdict.PASS, ok.message()
    over = metric_row("source-errors", {**HEALTHY, ("Errors", "Sum"): [float(gate.max_errors + 1)]})
    assert over.verdict is Verdict.FAIL and f"{gate.max_errors + 1} errors" in over.observed
    ghost = metric_row("source-errors", {("Errors", "Sum"): [1.0]})  # within the count, but no invocations at all
    assert ghost.verdict is Verdict.FAIL and "no invocations" in ghost.observed, ghost.message()


@covers("source-errors", Verdict.WARN, "idle function in the lookback (fake client)")
@covers("source-errors", Verdict.ERROR, "Invocations in the lookback without an Errors datapoint")
def test_source_errors_missing_data() -> None:
    idle = metric_row("source-errors", {})
    assert (
        idle.verdict is Verdict.WARN
        and "not measurable" in idle.observed
        and "only for invocations" in idle.evidence["note"]
    )
    missing = metric_row("source-errors", {("Invocations", "Sum"): [50.0]})
    assert missing.verdict is Verdict.ERROR and "no Errors datapoint" in missing.observed, missing.message()


@covers("source-throttles", Verdict.PASS, "no throttles (fake client)")
@covers("source-throttles", Verdict.FAIL, "throttles above the gate (fake client)")
@covers("source-throttles", Verdict.WARN, "no Throttles datapoint while invoked: not measured")
def test_source_throttles_judgement() -> None:
    assert metric_row("source-throttles", HEALTHY).verdict is Verdict.PASS
    # Throttled requests are not Invocations: throttles count even when nothing was invoked.
    res = metric_row("source-throttles", {("Throttles", "Sum"): [3.0]})
    assert res.verdict is Verdict.FAIL and "3 throttles" in res.observed
    unmeasured = metric_row("source-throttles", {("Invocations", "Sum"): [50.0]})
    assert (
        unmeasured.verdict is Verdict.WARN
        and "not measurable" in unmeasured.observed
        and "not read as 0" in unmeasured.evidence["note"]
    )


# -- 1c. the same on the embedded rehearsal ----------------------------------------------------------


def _put(r: Rehearsal, fn: str, at: datetime, **values: float) -> None:
    data = [
        {"MetricName": k, "Dimensions": [{"Name": "FunctionName", "Value": fn}], "Timestamp": at, "Value": v}
        for k, v in values.items()
    ]
    r.target.client("cloudwatch").put_metric_data(Namespace="AWS/Lambda", MetricData=data)


@covers("error-rate", Verdict.FAIL, "embedded: Errors datapoints in a window with no invocations")
@covers("source-errors", Verdict.FAIL, "embedded: errors within the count but no invocations in the lookback")
def test_errors_without_invocations_fail_on_embedded(sit: Rehearsal) -> None:
    """Three days before the seeded traffic: 2 errors and no invocation. Today's code says WARN
    ("not measurable") for the error rate and PASS (2 <= 5) for the gate."""
    fn = FN
    past = sit.clock.now() - timedelta(days=3)
    with metrics_restored(sit.env.account, sit.env.region):
        _put(sit, fn, past - timedelta(minutes=2), Errors=2.0)
        ctx = sit.context(now=past)
        rate = only(sit, "error-rate", ctx)
        gate = only(sit, "source-errors", ctx)
    assert rate[fn].verdict is Verdict.FAIL and "2 errors but no invocations" in rate[fn].observed, rate[fn].message()
    assert gate[fn].verdict is Verdict.FAIL and "no invocations" in gate[fn].observed, gate[fn].message()
    others = {k: v for k, v in rate.items() if k != fn}
    assert all(v.verdict is Verdict.WARN for v in others.values()), describe(
        {("error-rate", k): v for k, v in others.items()}
    )


@contextmanager
def metric_status(r: Rehearsal, fn: str, metric: str, status: str, message: str) -> Iterator[None]:
    """CloudWatch answers ``metric`` of ``fn`` with ``status`` (moto always says Complete)."""
    backend: Any = cloudwatch_backends[r.env.account][r.env.region]
    original = backend.get_metric_data

    def get_metric_data(
        queries: list[dict], start_time: datetime, end_time: datetime, scan_by: str = "TimestampAscending"
    ) -> list[dict]:
        results = original(queries=queries, start_time=start_time, end_time=end_time, scan_by=scan_by)
        hit = {
            q["Id"]
            for q in queries
            if q.get("MetricStat", {}).get("Metric", {}).get("MetricName") == metric
            and any(d.get("Value") == fn for d in q["MetricStat"]["Metric"].get("Dimensions") or [])
        }
        for res in results:
            if res.get("id") in hit:
                res["status_code"] = status
                res["messages"] = [{"code": status, "value": message}]
        return results

    backend.get_metric_data = get_metric_data
    try:
        yield
    finally:
        del backend.get_metric_data


@covers("latency-p95", Verdict.ERROR, "embedded: PartialData on the Invocations query")
def test_internal_error_on_embedded_errors_only_the_rows_that_use_it(sit: Rehearsal) -> None:
    fn = FN
    with metric_status(sit, fn, "Errors", "InternalError", "CloudWatch had an internal error"):
        rate = only(sit, "error-rate")
        lat = only(sit, "latency-p95")
    assert rate[fn].verdict is Verdict.ERROR, rate[fn].message()
    assert (
        f"Errors Sum of {fn}" in rate[fn].observed
        and "InternalError" in rate[fn].observed
        and "internal error" in rate[fn].observed
    )
    assert all(v.verdict is Verdict.PASS for k, v in rate.items() if k != fn), describe(
        {("error-rate", k): v for k, v in rate.items()}
    )
    assert lat[fn].verdict is Verdict.PASS, lat[fn].message()
    with metric_status(sit, fn, "Invocations", "PartialData", "more data available"):
        lat = only(sit, "latency-p95")
    assert lat[fn].verdict is Verdict.ERROR and "PartialData" in lat[fn].observed, lat[fn].message()


# -- 5. windows --------------------------------------------------------------------------------------


def test_metric_and_log_rows_state_their_windows(sit: Rehearsal) -> None:
    """At 27 s past the minute the metric rows read from the minute (CloudWatch rounds StartTime
    down) and the log rows from the second: both say so."""
    now = sit.clock.now() + timedelta(seconds=27)
    ctx = sit.context(now=now)
    minutes = sit.env.thresholds.verification_window_minutes
    start = now - timedelta(minutes=minutes)
    rows = run_procedure(ctx, "post-rollback", ("error-rate", "latency-p95", "log-errors"))
    start_s = start.strftime("%H:%M:%S")
    for r in rows:
        assert r.window, r.message()
        if r.slug == "log-errors":
            assert (
                r.window.startswith("logs [")
                and f"{start_s}.000Z" in r.window
                and f"endTime {int(now.timestamp() * 1000) - 1}" in r.window
            ), r.window
        else:
            assert (
                r.window.startswith(f"metrics [{start.strftime('%Y-%m-%dT%H:%M')}:00Z")
                and f"period {minutes * 60} s" in r.window
            ), r.window
            assert f"StartTime {start.strftime('%Y-%m-%dT%H:%M:%S')}Z rounded down" in r.window, r.window
    ev = next(r for r in rows if r.slug == "error-rate").evidence["invocations"]
    assert ev["effective_start"] == cloudwatch_start(start, now).isoformat() and ev["start"] == start.isoformat()
    gate = run_procedure(ctx, "pre-promotion", ("source-errors",))[0]
    assert f"period {sit.env.gates['sit'].lookback_hours * 3600} s" in gate.window


def test_cloudwatch_start_rounding() -> None:
    at = datetime(2025, 5, 6, 12, 37, 27, tzinfo=timezone.utc)
    assert cloudwatch_start(at, at + timedelta(minutes=5)) == at.replace(second=0)
    assert cloudwatch_start(at, at + timedelta(days=20)) == at.replace(minute=35, second=0)
    assert cloudwatch_start(at, at + timedelta(days=70)) == at.replace(minute=0, second=0)


def test_window_travels_in_the_result_and_the_report() -> None:
    q = window_query("Errors", FN, "Sum", NOW - timedelta(minutes=5), NOW)
    res = CheckResult("error-rate", FN, "e", "o", Verdict.PASS, "000 §7.4", window="metrics [x, y), period 300 s")
    assert res.to_dict()["window"] == "metrics [x, y), period 300 s"
    rows = [
        {
            "slug": "error-rate",
            "resource": "a",
            "verdict": "pass",
            "observed": "0.00%",
            "procedure": "post-rollback",
            "window": "metrics [12:30, 12:35), period 300 s",
        },
        {
            "slug": "latency-p95",
            "resource": "a",
            "verdict": "pass",
            "observed": "p95 0.1 s",
            "procedure": "post-rollback",
            "window": "metrics [12:30, 12:35), period 300 s",
        },
        {
            "slug": "log-errors",
            "resource": "a",
            "verdict": "fail",
            "observed": "1 ERROR line",
            "procedure": "post-rollback",
            "window": "logs [12:30:27, 12:35:27)",
        },
        {"slug": "ecs-tasks", "resource": "s", "verdict": "pass", "observed": "ACTIVE", "procedure": "post-rollback"},
    ]
    md = verification_report.render(rows, {"title": "t"})
    assert "| 1 ERROR line [W1] |" in md and "| 0.00% [W2] |" in md and "| ACTIVE |" in md
    assert "- [W1] logs [12:30:27, 12:35:27) (log-errors)" in md
    assert "- [W2] metrics [12:30, 12:35), period 300 s (error-rate, latency-p95)" in md
    assert len([line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| Check")]) == len(
        rows
    )
    assert q.period_s == 300


# -- 2. health bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"status": "unhealthy"},
        {"status": "DOWN"},
        {"status": " Fail "},
        {"status": "error", "version": "1.0.3"},
        '{"status": "Unhealthy"}',
        b'{"status": "down"}',
        {"statusCode": 200, "body": json.dumps({"status": "unhealthy"})},  # a Lambda proxy payload
        json.dumps({"statusCode": 200, "body": json.dumps({"status": "ERROR"})}),
    ],
)
def test_declared_unhealthy(body: Any) -> None:
    found = declared_unhealthy(body)
    assert found and any(s in found.lower() for s in FAILING_STATUSES), found


@pytest.mark.parametrize(
    "body",
    [
        {"status": "healthy"},
        {"status": "ok"},
        {"status": 500},
        {"healthy": False},
        [{"status": "down"}],
        None,
        "null",
        "not json",
        b"\xff",
        "",
        {"statusCode": 500, "body": "plain text"},
        {"statusCode": 200, "body": "null"},
    ],
)
def test_not_declared_unhealthy(body: Any) -> None:
    assert declared_unhealthy(body) is None


def test_json_null_is_json() -> None:
    assert parse_json("null") == (True, None)
    assert parse_json("<html>") == (False, None)
    assert parse_json(None) == (False, None)


def _api(url: str | None) -> CheckContext:
    return CheckContext(target=StubTarget(SIT), now=NOW, api_base_url=url)


HEALTH, OTHER = "/v1/health", "/v1/tenants"


@covers("api-health", Verdict.FAIL, "HTTP 200 with a body that declares status unhealthy")
def test_api_health_200_but_unhealthy_fails() -> None:
    with api_front({HEALTH: (200, json.dumps({"status": "unhealthy", "db": "down"}))}) as url:
        res = run_slug(_api(url), "api-health", HEALTH)
    assert res.verdict is Verdict.FAIL and 'status "unhealthy"' in res.observed and '"db": "down"' in res.observed, (
        res.message()
    )
    assert res.evidence["status"] == 200


@covers("api-health", Verdict.PASS, "HTTP 200, JSON null body")
@covers("api-responses", Verdict.PASS, "HTTP 200, JSON null body")
def test_json_null_body_is_valid_json() -> None:
    with api_front({HEALTH: (200, "null"), OTHER: (200, "null")}) as url:
        health, other = run_slug(_api(url), "api-health", HEALTH), run_slug(_api(url), "api-responses", OTHER)
    assert health.verdict is Verdict.PASS and "null" in health.observed, health.message()
    assert other.verdict is Verdict.PASS and "null" in other.observed, other.message()


@covers("api-health", Verdict.SKIP, "no HTTP front on this target")
@covers("api-responses", Verdict.SKIP, "no HTTP front on this target")
def test_api_rows_skip_without_http_front() -> None:
    for slug, path in (("api-health", HEALTH), ("api-responses", OTHER)):
        res = run_slug(_api(None), slug, path)
        assert res.verdict is Verdict.SKIP and "no HTTP front" in res.observed


@covers("api-health", Verdict.FAIL, "connection refused")
@covers("api-responses", Verdict.FAIL, "connection refused")
def test_api_unreachable_fails() -> None:
    with api_front({}) as url:
        pass  # the server is gone: its port refuses connections
    for slug, path in (("api-health", HEALTH), ("api-responses", OTHER)):
        res = run_slug(_api(url), slug, path)
        assert res.verdict is Verdict.FAIL and "failed: ConnectionError" in res.observed, res.message()


@covers("api-health", Verdict.FAIL, "HTTP 200, body not JSON")
@covers("api-responses", Verdict.FAIL, "HTTP 503")
def test_api_status_and_json_failures() -> None:
    with api_front(
        {HEALTH: (200, "<html>ok</html>"), OTHER: (503, json.dumps({"message": "Service Unavailable"}))}
    ) as url:
        health, other = run_slug(_api(url), "api-health", HEALTH), run_slug(_api(url), "api-responses", OTHER)
    assert health.verdict is Verdict.FAIL and "not JSON" in health.observed
    assert other.verdict is Verdict.FAIL and "HTTP 503" in other.observed


# -- 3. s3-replication covers what the inventory says should replicate (PROD) -------------------------


def _repl_bucket(r: Rehearsal) -> Any:
    return next(b for b in r.env.buckets if b.replication_destination)


def _rule(dest: str, **extra: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "ID": "failover",
        "Status": "Enabled",
        "Priority": 1,
        "Filter": {"Prefix": ""},
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "Destination": {"Bucket": f"arn:aws:s3:::{dest}"},
    }
    rule.update(extra)
    return {k: v for k, v in rule.items() if v is not None}


@contextmanager
def replication_rules(r: Rehearsal, *rules: dict[str, Any]) -> Iterator[None]:
    s3, b = r.target.client("s3"), _repl_bucket(r).name
    saved = s3.get_bucket_replication(Bucket=b)["ReplicationConfiguration"]
    s3.put_bucket_replication(Bucket=b, ReplicationConfiguration={"Role": saved["Role"], "Rules": list(rules)})
    try:
        yield
    finally:
        s3.put_bucket_replication(Bucket=b, ReplicationConfiguration=saved)


def _replication(r: Rehearsal, bucket: Any = None) -> CheckResult:
    b = bucket or _repl_bucket(r)
    return run_slug(r.context(), "s3-replication", b.name, item=b)


LEGACY = {"Filter": None, "Priority": None, "DeleteMarkerReplication": None}
PROD = load_inventory("bbws").environment("prod")
PROD_BUCKET = next(b for b in PROD.buckets if b.replication_destination)


def _replication_read(rules: list[dict[str, Any]], bucket: Any = PROD_BUCKET) -> CheckResult:
    """s3-replication on a canned configuration: moto 5.2 answers every rule's Filter as
    ``{"Prefix": ""}`` whatever was put (responses.get_bucket_replication), so the emulator cannot
    hold a filtered rule; a fake client returns the configuration as AWS does."""
    s3 = FakeClient(
        get_bucket_replication={"ReplicationConfiguration": {"Role": "arn:aws:iam::1:role/r", "Rules": rules}},
        get_bucket_versioning={"Status": "Enabled"},
    )
    ctx = CheckContext(target=StubTarget(PROD, {"s3": s3}), now=NOW)
    return run_slug(ctx, "s3-replication", bucket.name, item=bucket)


@covers(
    "s3-replication",
    Verdict.FAIL,
    "the only rule is filtered to another prefix (Filter.Prefix, Filter.And.Prefix, legacy Prefix) or to tags",
)
@pytest.mark.parametrize(
    "scope",
    [
        {"Filter": {"Prefix": "logs/"}},
        {"Filter": {"And": {"Prefix": "logs/", "Tags": [{"Key": "replicate", "Value": "yes"}]}}},
        {"Filter": {"And": {"Prefix": "", "Tags": [{"Key": "replicate", "Value": "yes"}]}}},
        {**LEGACY, "Prefix": "logs/"},
        {"Filter": {"Tag": {"Key": "replicate", "Value": "yes"}}},
    ],
    ids=["filter-prefix", "filter-and-prefix", "filter-and-tags", "legacy-prefix", "tag-only"],
)
def test_replication_rule_for_another_key_space_fails(scope: dict[str, Any]) -> None:
    res = _replication_read([_rule(PROD_BUCKET.replication_destination, **scope)])
    assert res.verdict is Verdict.FAIL and "covers the whole bucket" in res.observed, res.message()
    assert _replication_read([_rule(PROD_BUCKET.replication_destination)]).verdict is Verdict.PASS


def test_one_covering_rule_among_others_passes() -> None:
    dest = PROD_BUCKET.replication_destination
    rules = [
        _rule(dest, ID="logs", Filter={"Prefix": "logs/"}),
        _rule("elsewhere", ID="other"),
        _rule(dest, ID="all", Priority=2),
    ]
    res = _replication_read(rules)
    assert res.verdict is Verdict.PASS and "all: Enabled" in res.observed, res.message()


@covers("s3-replication", Verdict.FAIL, "the rule to the failover bucket is Disabled")
def test_disabled_replication_rule_fails(prod: Rehearsal) -> None:
    b = _repl_bucket(prod)
    with replication_rules(prod, _rule(b.replication_destination, Status="Disabled")):
        res = _replication(prod)
    assert res.verdict is Verdict.FAIL and "no Enabled rule" in res.observed and "Disabled" in res.observed, (
        res.message()
    )


def test_replication_of_the_inventory_prefix() -> None:
    """An inventory that names a prefix accepts a rule for that prefix (or a broader one) only."""
    b = replace(PROD_BUCKET, replication_prefix="sites/")
    dest = b.replication_destination
    for scope, verdict in (
        ({"Filter": {"Prefix": "sites/"}}, Verdict.PASS),
        ({"Filter": {"Prefix": "sit"}}, Verdict.PASS),
        ({"Filter": {"Prefix": ""}}, Verdict.PASS),
        ({**LEGACY, "Prefix": "sites/"}, Verdict.PASS),
        ({"Filter": {"And": {"Prefix": "sites/"}}}, Verdict.PASS),
        ({"Filter": {"Prefix": "sites/eu/"}}, Verdict.FAIL),
        ({"Filter": {"Prefix": "logs/"}}, Verdict.FAIL),
    ):
        res = _replication_read([_rule(dest, **scope)], b)
        assert res.verdict is verdict, (scope, res.message())
    assert "keys under 'sites/'" in res.expected


@covers("s3-replication", Verdict.FAIL, "the destination bucket does not exist")
def test_replication_to_missing_destination_fails(prod: Rehearsal) -> None:
    b = _repl_bucket(prod)
    dest = prod.target.client("s3", b.replication_region)
    dest.delete_bucket(Bucket=b.replication_destination)
    try:
        res = _replication(prod)
        assert res.verdict is Verdict.FAIL and "does not exist" in res.observed, res.message()
    finally:
        s3 = _create_bucket(prod.target, b.replication_destination, b.replication_region)
        _harden_bucket(s3, b.replication_destination, True, True, b.encryption)
    assert _replication(prod).verdict is Verdict.PASS


@covers("s3-replication", Verdict.FAIL, "the destination bucket is not versioned")
@covers("s3-replication", Verdict.FAIL, "no replication configuration (embedded)")
def test_replication_to_unversioned_destination_fails(prod: Rehearsal) -> None:
    b = _repl_bucket(prod)
    dest = prod.target.client("s3", b.replication_region)
    dest.put_bucket_versioning(Bucket=b.replication_destination, VersioningConfiguration={"Status": "Suspended"})
    try:
        res = _replication(prod)
        assert res.verdict is Verdict.FAIL and "destination versioning Suspended" in res.observed, res.message()
    finally:
        dest.put_bucket_versioning(Bucket=b.replication_destination, VersioningConfiguration={"Status": "Enabled"})
    s3 = prod.target.client("s3")
    saved = s3.get_bucket_replication(Bucket=b.name)["ReplicationConfiguration"]
    s3.delete_bucket_replication(Bucket=b.name)
    try:
        assert "no replication configuration" in _replication(prod).observed
    finally:
        s3.put_bucket_replication(Bucket=b.name, ReplicationConfiguration=saved)


# -- 4. terraform-state ------------------------------------------------------------------------------


@contextmanager
def state_document(r: Rehearsal, key: str, change: dict[str, Any]) -> Iterator[None]:
    """The state object with ``change`` applied, and its md5 Digest updated to match (so only the
    document's content can fail the row)."""
    tf = r.env.terraform
    s3, ddb = r.target.client("s3"), r.target.client("dynamodb")
    good = s3.get_object(Bucket=tf.state_bucket, Key=key)["Body"].read()
    digest_key = {"LockID": {"S": f"{tf.state_bucket}/{key}-md5"}}
    saved = ddb.get_item(TableName=tf.lock_table, Key=digest_key)["Item"]
    body = json.dumps({**json.loads(good), **change}).encode()
    s3.put_object(Bucket=tf.state_bucket, Key=key, Body=body)
    ddb.put_item(TableName=tf.lock_table, Item={**digest_key, "Digest": {"S": hashlib.md5(body).hexdigest()}})
    try:
        yield
    finally:
        s3.put_object(Bucket=tf.state_bucket, Key=key, Body=good)
        ddb.put_item(TableName=tf.lock_table, Item=saved)


@covers("terraform-state", Verdict.FAIL, "version/serial booleans, empty or non-string lineage")
@pytest.mark.parametrize(
    "change, named",
    [
        ({"serial": True}, "serial=true"),
        ({"version": True}, "version=true"),
        ({"serial": 3.0}, "serial=3.0"),
        ({"lineage": ""}, 'lineage=""'),
        ({"lineage": 42}, "lineage=42"),
        ({"version": "4"}, 'version="4"'),
        ({"version": None}, "version=null"),
    ],
    ids=[
        "serial-true",
        "version-true",
        "serial-float",
        "lineage-empty",
        "lineage-number",
        "version-string",
        "version-null",
    ],
)
def test_state_with_mistyped_fields_fails(sit: Rehearsal, change: dict[str, Any], named: str) -> None:
    key = sit.env.terraform.state_keys[0]
    with state_document(sit, key, change):
        res = only(sit, "terraform-state")[key]
    assert res.verdict is Verdict.FAIL and named in res.observed and "not a Terraform state" in res.observed, (
        res.message()
    )


@covers("terraform-state", Verdict.FAIL, "the state object does not exist")
def test_missing_state_object_fails(sit: Rehearsal) -> None:
    res = run_slug(
        sit.context(),
        "terraform-state",
        sit.env.terraform.state_keys[0],
        item="tenants/no-such-tenant/terraform.tfstate",
    )
    assert res.verdict is Verdict.FAIL and "not found" in res.observed


@contextmanager
def lock_item(r: Rehearsal, key: str, info: Any) -> Iterator[None]:
    tf = r.env.terraform
    ddb = r.target.client("dynamodb")
    lock_id = {"LockID": {"S": f"{tf.state_bucket}/{key}"}}
    ddb.put_item(
        TableName=tf.lock_table, Item={**lock_id, "Info": {"S": info if isinstance(info, str) else json.dumps(info)}}
    )
    try:
        yield
    finally:
        ddb.delete_item(TableName=tf.lock_table, Key=lock_id)


def _forbidding(r: Rehearsal) -> CheckContext:
    env = replace(r.env, terraform=replace(r.env.terraform, forbid_lock_during_verification=True))
    return CheckContext(target=_WithEnv(r.target, env), now=r.clock.now())  # type: ignore[arg-type]


@covers("terraform-state", Verdict.WARN, "a lock without a parseable Created: age unknown (locks allowed)")
@covers("terraform-state", Verdict.FAIL, "a lock of unknown age when the inventory forbids locks during verification")
@pytest.mark.parametrize(
    "info",
    [
        {"ID": "x1", "Who": "ci@runner", "Operation": "OperationTypeApply"},
        {"ID": "x2", "Who": "ci@runner", "Created": "yesterday"},
        "not json",
    ],
    ids=["no-created", "bad-created", "info-not-json"],
)
def test_lock_of_unknown_age(sit: Rehearsal, info: Any) -> None:
    key = sit.env.terraform.state_keys[1]
    with lock_item(sit, key, info):
        warned = only(sit, "terraform-state")[key]
        failed = only(sit, "terraform-state", _forbidding(sit))[key]
    assert warned.verdict is Verdict.WARN and "lock age unknown" in warned.observed, warned.message()
    assert (
        failed.verdict is Verdict.FAIL
        and "lock age unknown" in failed.observed
        and "forbid_lock_during_verification" in failed.observed
    ), failed.message()


@covers("terraform-state", Verdict.FAIL, "a fresh lock when the inventory forbids locks during verification")
def test_fresh_lock_fails_when_inventory_forbids_locks(sit: Rehearsal) -> None:
    key = sit.env.terraform.state_keys[1]
    with lock_item(
        sit, key, {"ID": "x3", "Who": "dev@laptop", "Created": (sit.clock.now() - timedelta(minutes=2)).isoformat()}
    ):
        assert only(sit, "terraform-state")[key].verdict is Verdict.WARN
        res = only(sit, "terraform-state", _forbidding(sit))[key]
    assert res.verdict is Verdict.FAIL and "operation in progress" in res.observed, res.message()


@contextmanager
def lockfile(r: Rehearsal, key: str, body: str | bytes) -> Iterator[CheckContext]:
    """An S3-native ``<key>.tflock`` (use_lockfile, Terraform >= 1.10) with ``body``, and a context on the same
    rehearsal whose inventory has no lock table (as bbws-access: the check reads the lockfile then)."""
    tf = r.env.terraform
    s3 = r.target.client("s3")
    s3.put_object(Bucket=tf.state_bucket, Key=f"{key}.tflock", Body=body if isinstance(body, bytes) else body.encode())
    env = replace(r.env, terraform=replace(tf, lock_table=None))
    try:
        yield CheckContext(target=_WithEnv(r.target, env), now=r.clock.now())  # type: ignore[arg-type]
    finally:
        s3.delete_object(Bucket=tf.state_bucket, Key=f"{key}.tflock")


def _lock_json(r: Rehearsal, key: str, created: datetime, who: str = "ci@crashed-runner") -> str:
    """The LockInfo JSON Terraform 1.15.5 writes into ``<key>.tflock`` (the same shape as a lock item's Info)."""
    return json.dumps(
        {
            "ID": "6f1c2d3e-0000-4000-8000-000000000001",
            "Operation": "OperationTypeApply",
            "Info": "",
            "Who": who,
            "Version": "1.15.5",
            "Created": created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f123Z"),
            "Path": f"{r.env.terraform.state_bucket}/{key}",
        },
        separators=(",", ":"),
    )


@covers(
    "terraform-state", Verdict.FAIL, "a .tflock lockfile whose body's Created is older than the limit (use_lockfile)"
)
@covers("terraform-state", Verdict.WARN, "a .tflock lockfile whose body's Created is fresh: operation in progress")
def test_lockfile_is_aged_by_the_created_in_its_body(sit: Rehearsal) -> None:
    """The lockfile's age is its body's Created on the row's clock, not the object's LastModified (the emulator's
    wall clock, which a rehearsal clock need not follow): a crashed apply's 90-minute-old lock FAILs as stuck
    although the object was written just now, and a 2-minute-old one is an operation in progress (WARN)."""
    key = sit.env.terraform.state_keys[1]
    limit = sit.env.terraform.lock_max_age_minutes
    with lockfile(sit, key, _lock_json(sit, key, sit.clock.now() - timedelta(minutes=limit + 30))) as ctx:
        stuck = run_slug(ctx, "terraform-state", key)
    assert (
        stuck.verdict is Verdict.FAIL and f"stuck lock by ci@crashed-runner, {limit + 30} min old" in stuck.observed
    ), stuck.message()
    assert (
        stuck.evidence["lock"]["ID"] == "6f1c2d3e-0000-4000-8000-000000000001"
        and stuck.evidence["lock"]["lockfile"] == f"{key}.tflock"
    )
    with lockfile(sit, key, _lock_json(sit, key, sit.clock.now() - timedelta(minutes=2), who="dev@laptop")) as ctx:
        fresh = run_slug(ctx, "terraform-state", key)
        # The same fresh lock, seen from a "now" far past the object's LastModified: still its body's 2 minutes.
        later = run_slug(ctx.fresh(now=sit.clock.now() + timedelta(hours=3)), "terraform-state", key)
    assert (
        fresh.verdict is Verdict.WARN and "locked by dev@laptop for 2 min (operation in progress)" in fresh.observed
    ), fresh.message()
    assert later.verdict is Verdict.FAIL and "stuck lock by dev@laptop, 182 min old" in later.observed, later.message()


@covers(
    "terraform-state",
    Verdict.FAIL,
    "a .tflock lockfile without Created in its body, older than the limit by LastModified",
)
def test_lockfile_without_created_is_aged_by_last_modified(sit: Rehearsal) -> None:
    """A lockfile body that is not Terraform's LockInfo JSON: aged by the object's LastModified (never "not locked")."""
    key = sit.env.terraform.state_keys[1]
    with lockfile(sit, key, "not json") as ctx:
        written = ctx.client("s3").head_object(Bucket=sit.env.terraform.state_bucket, Key=f"{key}.tflock")[
            "LastModified"
        ]
        limit = sit.env.terraform.lock_max_age_minutes
        res = run_slug(ctx.fresh(now=written + timedelta(minutes=limit + 5)), "terraform-state", key)
    assert res.verdict is Verdict.FAIL and f"stuck lock by {key}.tflock, {limit + 5} min old" in res.observed, (
        res.message()
    )
    assert res.evidence["lock"]["Info"] == "not json"


def test_forbid_lock_field_defaults_off_in_bundled_inventories() -> None:
    for name in ("bbws", "bbws-access"):
        inv = load_inventory(name)
        for env_name in inv.env_names:
            tf = inv.environment(env_name).terraform
            assert tf is not None and tf.forbid_lock_during_verification is False
    assert all(not b.replication_prefix for b in load_inventory("bbws").environment("prod").buckets)


# -- logs ----------------------------------------------------------------------------------------------


@contextmanager
def no_log_group(r: Rehearsal, fn: str) -> Iterator[str]:
    logs, group = r.target.client("logs"), f"{r.env.log_group_prefix}{fn}"
    logs.delete_log_group(logGroupName=group)
    try:
        yield group
    finally:
        logs.create_log_group(logGroupName=group)


@covers("log-errors", Verdict.FAIL, "no log group although the window's metrics show invocations")
@covers("log-errors", Verdict.WARN, "no log group and no invocations: nothing to read")
def test_missing_log_group(sit: Rehearsal) -> None:
    fn = FN
    with no_log_group(sit, fn) as group:
        now_rows = only(sit, "log-errors")
        idle_rows = only(sit, "log-errors", sit.context(now=sit.clock.now() - timedelta(days=3)))
    res = now_rows[fn]
    assert res.verdict is Verdict.FAIL and group in res.observed and "invocations ran" in res.observed, res.message()
    idle = idle_rows[fn]
    assert (
        idle.verdict is Verdict.WARN
        and "not measurable" in idle.observed
        and "first invocation" in idle.evidence["note"]
    ), idle.message()


# -- the other verdict paths (fake clients where the emulator cannot hold the state) -----------------


class FakeClient:
    """Methods answer from ``answers`` (a value, or an exception to raise); calls are recorded."""

    def __init__(self, **answers: Any) -> None:
        self.answers, self.calls = answers, []

    def __getattr__(self, name: str) -> Any:
        if name not in self.answers:
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            answer = self.answers[name]
            if isinstance(answer, BaseException):
                raise answer
            return answer(*args, **kwargs) if callable(answer) else answer

        return call


TABLE = SIT.tables[0]
NOT_FOUND = client_error("ResourceNotFoundException", "Requested resource not found")


@covers("dynamodb-reads", Verdict.FAIL, "table not found")
@covers("dynamodb-table-active", Verdict.FAIL, "table not found")
@covers("dynamodb-billing-mode", Verdict.FAIL, "table not found")
@covers("dynamodb-pitr", Verdict.FAIL, "table not found")
def test_missing_table_fails_every_table_row(sit: Rehearsal) -> None:
    gone = replace(TABLE, name="no-such-table-sit")
    for slug in ("dynamodb-reads", "dynamodb-table-active", "dynamodb-billing-mode", "dynamodb-pitr"):
        res = run_slug(sit.context(), slug, TABLE.name, item=gone)
        assert res.verdict is Verdict.FAIL and "no-such-table-sit not found" in res.observed, res.message()


@covers("dynamodb-reads", Verdict.FAIL, "the sampled item's key query returns nothing")
def test_reads_key_query_returning_nothing_fails() -> None:
    key = TABLE.hash_key.name
    ddb = FakeClient(
        describe_table={"Table": {"TableStatus": "ACTIVE", "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}]}},
        scan={"Items": [{key: {"S": "t-1"}}], "ScannedCount": 1},
        query={"Count": 0, "Items": []},
    )
    res = run_slug(stub_ctx(dynamodb=ddb), "dynamodb-reads", TABLE.name)
    assert (
        res.verdict is Verdict.FAIL
        and "returned nothing" in res.observed
        and res.evidence["sample_key"] == {key: "t-1"}
    ), res.message()


WRITE_TABLE = next(t for t in SIT.tables if t.purpose != "deployments")


@covers("dynamodb-write-read", Verdict.FAIL, "the item read back is not the one written")
@covers("dynamodb-write-read", Verdict.FAIL, "the test item cannot be deleted")
def test_dynamodb_write_read_failures() -> None:
    other = FakeClient(put_item={}, get_item={"Item": {"harness_write_read": {"S": "someone else's"}}}, delete_item={})
    res = run_slug(stub_ctx(dynamodb=other), "dynamodb-write-read", WRITE_TABLE.name)
    assert (
        res.verdict is Verdict.FAIL
        and "instead of the written marker" in res.observed
        and res.evidence["deleted"] is True
    ), res.message()
    stuck = FakeClient(
        put_item={},
        get_item=lambda **kw: {
            "Item": kw["Key"] | {"harness_write_read": stuck.calls[0][1]["Item"]["harness_write_read"]}
        },
        delete_item=client_error("AccessDeniedException", "no dynamodb:DeleteItem"),
    )
    res = run_slug(stub_ctx(dynamodb=stuck), "dynamodb-write-read", WRITE_TABLE.name)
    assert (
        res.verdict is Verdict.FAIL
        and "could not be deleted: AccessDeniedException" in res.observed
        and res.evidence["deleted"] is False
    ), res.message()


BUCKET = SIT.buckets[0]


@covers("s3-write-read", Verdict.FAIL, "the object read back differs")
@covers("s3-write-read", Verdict.FAIL, "the write is refused")
def test_s3_write_read_failures() -> None:
    class Body:
        def read(self) -> bytes:
            return b"tampered"

    differ = FakeClient(put_object={"VersionId": "v1"}, get_object={"Body": Body()}, delete_object={})
    res = run_slug(stub_ctx(s3=differ), "s3-write-read", BUCKET.name)
    assert res.verdict is Verdict.FAIL and "differ" in res.observed and res.evidence["deleted"] is True, res.message()
    refused = FakeClient(put_object=client_error("AccessDenied", "no s3:PutObject"))
    res = run_slug(stub_ctx(s3=refused), "s3-write-read", BUCKET.name)
    assert res.verdict is Verdict.FAIL and "write failed: AccessDenied: no s3:PutObject" in res.observed, res.message()
    assert [c[0] for c in refused.calls] == ["put_object"]  # nothing written, nothing to delete


@covers("s3-write-read", Verdict.ERROR, "the write is throttled after botocore's retries")
@covers("dynamodb-write-read", Verdict.ERROR, "the read is throttled after botocore's retries")
def test_throttled_write_read_is_error_not_fail() -> None:
    """A throttle still there after botocore's retries says nothing about the bucket or table: ERROR (not measured),
    never FAIL; a test item already written is still deleted, and a refusal that is not a throttle stays FAIL."""
    throttled_put = FakeClient(put_object=client_error("SlowDown", "Please reduce your request rate."))
    res = run_slug(stub_ctx(s3=throttled_put), "s3-write-read", BUCKET.name)
    assert (
        res.verdict is Verdict.ERROR
        and "write failed: SlowDown" in res.observed
        and "throttled after retries" in res.observed
    ), res.message()
    assert [c[0] for c in throttled_put.calls] == ["put_object"]
    throttled_get = FakeClient(
        put_item={},
        get_item=client_error("ThrottlingException", "Rate of requests exceeds the allowed throughput."),
        delete_item={},
    )
    res = run_slug(stub_ctx(dynamodb=throttled_get), "dynamodb-write-read", WRITE_TABLE.name)
    assert (
        res.verdict is Verdict.ERROR
        and "read failed: ThrottlingException" in res.observed
        and res.evidence["deleted"] is True
    ), res.message()
    assert [c[0] for c in throttled_get.calls] == ["put_item", "get_item", "delete_item"]
    denied = FakeClient(put_item=client_error("AccessDeniedException", "no dynamodb:PutItem"))
    assert run_slug(stub_ctx(dynamodb=denied), "dynamodb-write-read", WRITE_TABLE.name).verdict is Verdict.FAIL


class _NoSuchFunctions:
    """A Lambda client whose ListFunctions lists only a function no discovery prefix matches."""

    def get_paginator(self, operation: str) -> Any:
        assert operation == "list_functions", operation
        return type(
            "Pages",
            (),
            {"paginate": lambda self, **kw: iter([{"Functions": [{"FunctionName": "someone-elses-function"}]}])},
        )()


@covers("health-endpoint", Verdict.FAIL, "a discovery prefix (002 §1) that finds no function")
@covers("log-errors", Verdict.FAIL, "a discovery prefix (002 §1) that finds no function")
@covers("source-health", Verdict.FAIL, "a discovery prefix (002 §1) that finds no function")
def test_a_discovery_prefix_that_finds_nothing_fails() -> None:
    """bbws-access names no function: its rows carry a prefix. A prefix that ListFunctions matches to nothing is a
    FAIL naming the prefix (the service is gone), never a PASS over zero functions."""
    access = load_inventory("bbws-access").environment("sit")
    prefix = access.discovery[0].prefix
    ctx = CheckContext(target=StubTarget(access, {"lambda": _NoSuchFunctions()}), now=NOW)
    for slug in ("health-endpoint", "log-errors", "source-health"):
        planned = next(
            p for p in rows_for(SIT, slugs=(slug,))
        )  # bbws-access has no source rows: the row shape, on a prefix
        planned = replace(planned, row=replace(planned.row, resource=prefix, item=prefix))
        res = run_row(ctx, planned)
        assert res.verdict is Verdict.FAIL and res.observed == f"no function whose name starts with {prefix}", (
            slug,
            res.message(),
        )


@covers("s3-encryption", Verdict.FAIL, "default encryption with another algorithm")
def test_encryption_with_another_algorithm_fails(sit: Rehearsal) -> None:
    s3, b = sit.target.client("s3"), BUCKET.name
    saved = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]
    s3.put_bucket_encryption(
        Bucket=b,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    try:
        res = only(sit, "s3-encryption")[b]
    finally:
        s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=saved)
    assert res.verdict is Verdict.FAIL and "aws:kms" in res.observed, res.message()


@covers("cloudwatch-alarms", Verdict.WARN, "no alarm with the prefix exists: nothing watched")
def test_no_alarm_with_the_prefix_warns(sit: Rehearsal) -> None:
    """Today's code says "none in ALARM" (PASS) when there is no alarm at all."""
    env = replace(sit.env, alarm_prefix="nothing-matches-")
    ctx = CheckContext(target=_WithEnv(sit.target, env), now=sit.clock.now())  # type: ignore[arg-type]
    res = run_slug(ctx, "cloudwatch-alarms")
    assert res.verdict is Verdict.WARN and "no alarm named nothing-matches-* exists" in res.observed, res.message()
    healthy = run_slug(sit.context(), "cloudwatch-alarms")
    assert healthy.verdict is Verdict.PASS and f"{len(sit.env.functions)} OK" in healthy.observed, healthy.message()


@covers("ecs-tasks", Verdict.FAIL, "the service is missing from the cluster")
def test_missing_ecs_service_fails() -> None:
    service = SIT.ecs.services[0]
    ecs = FakeClient(
        describe_services={
            "services": [],
            "failures": [
                {
                    "arn": f"arn:aws:ecs:{SIT.region}:{SIT.account}:service/{SIT.ecs.cluster}/{service}",
                    "reason": "MISSING",
                }
            ],
        }
    )
    res = run_slug(stub_ctx(ecs=ecs), "ecs-tasks", service)
    assert res.verdict is Verdict.FAIL and "not found" in res.observed and "MISSING" in res.observed, res.message()


class _Payload:
    """An Invoke response's streaming Payload."""

    def __init__(self, doc: Any) -> None:
        self.doc = doc

    def read(self) -> bytes:
        return json.dumps(self.doc).encode()


class _Pages:
    def __init__(self, *pages: dict[str, Any]) -> None:
        self.pages = pages

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return list(self.pages)


def _lambda(get_alias: Any = None, get_function: Any = None, invoke: Any = None) -> FakeClient:
    """A Lambda client whose alias serves published version 3 and answers /health with 200 "healthy";
    ``invoke`` is an exception or ``{"Payload": doc, "FunctionError": ...}``."""
    if isinstance(invoke, dict):
        invoke = {"ExecutedVersion": "3", **invoke, "Payload": _Payload(invoke.get("Payload"))}
    client = FakeClient(
        get_alias=get_alias or {"FunctionVersion": "3"},
        get_function=get_function
        or {"Configuration": {"State": "Active", "LastUpdateStatus": "Successful", "Version": "3"}},
        invoke=invoke
        or {
            "ExecutedVersion": "3",
            "Payload": _Payload({"statusCode": 200, "body": json.dumps({"status": "healthy"})}),
        },
        get_paginator=lambda op: _Pages({"Versions": [{"Version": "3", "Description": "1.0.3"}]}),
    )
    return client


def _lambda_ctx(client: FakeClient) -> CheckContext:
    ctx = stub_ctx(**{"lambda": client})
    ctx.expect_versions[FN] = "3"  # no deployment-record read
    return ctx


@covers("lambda-alias-version", Verdict.FAIL, "alias not found")
@covers("lambda-alias-version", Verdict.PASS, "alias on the expected published version (fake client)")
def test_alias_not_found_fails() -> None:
    res = run_slug(_lambda_ctx(_lambda(get_alias=NOT_FOUND)), "lambda-alias-version", FN)
    assert res.verdict is Verdict.FAIL and "not found" in res.observed, res.message()
    assert run_slug(_lambda_ctx(_lambda()), "lambda-alias-version", FN).verdict is Verdict.PASS


@covers("health-endpoint", Verdict.FAIL, "fn:alias not found")
@covers("health-endpoint", Verdict.FAIL, "invoke returns a FunctionError")
@covers("health-endpoint", Verdict.PASS, "statusCode 200 (fake client)")
@covers("source-health", Verdict.FAIL, "fn:alias not found on invoke")
@covers("source-health", Verdict.FAIL, "invoke returns a FunctionError")
@covers("source-health", Verdict.PASS, "Active, Successful, statusCode 200 (fake client)")
def test_health_invoke_failures() -> None:
    error = {"FunctionError": "Unhandled", "Payload": {"errorMessage": "boom", "errorType": "RuntimeError"}}
    for slug in ("health-endpoint", "source-health"):
        gone = run_slug(_lambda_ctx(_lambda(invoke=NOT_FOUND)), slug, FN)
        assert gone.verdict is Verdict.FAIL and "not found" in gone.observed, gone.message()
        crashed = run_slug(_lambda_ctx(_lambda(invoke=error)), slug, FN)
        assert crashed.verdict is Verdict.FAIL and "function error Unhandled" in crashed.observed, crashed.message()
        assert run_slug(_lambda_ctx(_lambda()), slug, FN).verdict is Verdict.PASS


@covers("health-endpoint", Verdict.FAIL, "statusCode 200 but the proxy body declares status unhealthy")
@covers("source-health", Verdict.FAIL, "statusCode 200 but the proxy body declares status unhealthy")
def test_lambda_health_200_with_unhealthy_body_fails() -> None:
    payload = {"statusCode": 200, "headers": {}, "body": json.dumps({"status": "unhealthy", "db": "down"})}
    for slug in ("health-endpoint", "source-health"):
        res = run_slug(_lambda_ctx(_lambda(invoke={"Payload": payload})), slug, FN)
        assert res.verdict is Verdict.FAIL and "unhealthy" in res.observed, res.message()


@covers("source-health", Verdict.FAIL, "get_function: fn:alias not found")
@covers("source-health", Verdict.FAIL, "State not Active / last update Failed")
def test_source_health_configuration_failures() -> None:
    gone = run_slug(_lambda_ctx(_lambda(get_function=NOT_FOUND)), "source-health", FN)
    assert gone.verdict is Verdict.FAIL and "not found" in gone.observed, gone.message()
    failed = {"Configuration": {"State": "Active", "LastUpdateStatus": "Failed", "Version": "3"}}
    res = run_slug(_lambda_ctx(_lambda(get_function=failed)), "source-health", FN)
    assert res.verdict is Verdict.FAIL and "last update Failed" in res.observed, res.message()


@pytest.mark.parametrize(
    "slug, env_name, clients",
    [
        ("s3-versioning", "sit", {"s3": FakeClient(get_bucket_versioning=client_error("AccessDenied"))}),
        ("s3-replication", "prod", {"s3": FakeClient(get_bucket_replication=client_error("AccessDenied"))}),
        (
            "dynamodb-pitr",
            "sit",
            {"dynamodb": FakeClient(describe_continuous_backups=client_error("AccessDeniedException"))},
        ),
        ("cloudwatch-alarms", "sit", {"cloudwatch": FakeClient(get_paginator=client_error("AccessDenied"))}),
        ("log-errors", "sit", {"logs": FakeClient(get_paginator=client_error("AccessDeniedException"))}),
        ("terraform-state", "sit", {"s3": FakeClient(get_object=client_error("AccessDenied"))}),
    ],
)
def test_permission_errors_are_error_rows_never_pass_or_fail(slug: str, env_name: str, clients: dict[str, Any]) -> None:
    """A refused read is the harness not knowing (ERROR), not a finding and not a pass."""
    env = load_inventory("bbws").environment(env_name)
    res = run_slug(CheckContext(target=StubTarget(env, clients), now=NOW), slug)
    assert res.verdict is Verdict.ERROR and "Access" in res.observed, res.message()


# -- 6. the guard: every verdict path has a test -----------------------------------------------------


def test_verdict_sites_are_found() -> None:
    sites = verdict_sites()
    assert len(sites[("s3-replication", Verdict.FAIL)]) >= 4
    assert ("error-rate", Verdict.ERROR) in sites and ("terraform-state", Verdict.WARN) in sites
    assert {slug for slug, _ in sites} == {c.slug for c in CATALOGUE}


def test_every_verdict_path_has_a_test() -> None:
    """Each (slug, verdict) needs as many registered test paths (``@covers``) as it has return sites.
    A new ``Verdict.X`` in a check (or a helper it calls) needs a test that shows it."""
    import tests.checks.test_healthy
    import tests.checks.test_violations
    import tests.propie.test_checks  # noqa: F401 (the 004 slugs (propie-rollback procedure))

    sites = verdict_sites()
    missing = []
    for (slug, verdict), where in sorted(sites.items(), key=lambda kv: (kv[0][0], kv[0][1].value)):
        shown = sorted(set(COVERED.get((slug, verdict), [])))
        if len(shown) < len(where):
            missing.append(
                f"{slug} {verdict.name}: {len(where)} return site(s) {sorted(where)}; {len(shown)} test path(s) {shown}"
            )
    assert not missing, "verdict paths without a test (add a test with @covers(slug, Verdict.X, 'why')):\n" + "\n".join(
        missing
    )
    phantom = sorted(f"{s} {v.name}" for s, v in COVERED if (s, v) not in sites)
    assert not phantom, f"tests registered for verdicts the checks cannot return: {phantom}"
