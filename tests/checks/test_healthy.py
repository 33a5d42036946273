"""Green tests: every row passes on the healthy embedded SIT (and PROD replication), no datapoints is
a WARN rather than a silent pass, and metrics/ECS reads are batched."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from harness.checks.catalogue import CATALOGUE, rows_for
from harness.checks.context import CheckContext
from harness.checks.metrics import MAX_QUERIES_PER_CALL, MetricsReader, window_query
from harness.checks.result import Verdict
from harness.checks.runner import run_procedure
from harness.clock import FixedClock
from harness.inventory import load_inventory
from tests.checks.conftest import Rehearsal, describe, fidelity_installed, local_api_url
from tests.checks.verdicts import covers, covers_all
from tests.stub_target import StubTarget

SIT_SLUGS = {c.slug for c in CATALOGUE if c.rows(load_inventory("bbws").environment("sit"))}


@covers_all(sorted(SIT_SLUGS), Verdict.PASS, "healthy embedded SIT")
def test_every_row_passes_on_healthy_sit(sit: Rehearsal) -> None:
    results = sit.run()
    expected_slugs = SIT_SLUGS  # e.g. no s3-replication (PROD only, 003 §5), no 004 rows (propie only)
    assert "s3-replication" not in expected_slugs and "lambda-alias-version" in expected_slugs
    assert {slug for slug, _ in results} == expected_slugs
    if local_api_url(sit.target) is None:
        # Without the emulator's HTTP front the api-* rows are SKIP, and say so.
        api = {k: r for k, r in results.items() if k[0].startswith("api-")}
        assert all(r.verdict is Verdict.SKIP and "no HTTP front" in r.observed for r in api.values())
        results = {k: r for k, r in results.items() if k not in api}
    not_passing = {k: r for k, r in results.items() if r.verdict is not Verdict.PASS}
    assert not not_passing, describe(not_passing)


def test_fidelity_rows_pass_on_healthy_sit(sit: Rehearsal) -> None:
    """health-endpoint, latency-p95 and api-* depend on the fidelity extensions."""
    if not fidelity_installed():
        import pytest

        pytest.skip("needs the embedded fidelity extensions")
    results = sit.run("post-rollback")
    for slug in ("health-endpoint", "latency-p95", "api-health", "api-responses", "ecs-tasks"):
        rows = [r for (s, _), r in results.items() if s == slug]
        assert rows and all(r.verdict is Verdict.PASS for r in rows), describe({(r.slug, r.resource): r for r in rows})


@covers("s3-replication", Verdict.PASS, "healthy embedded PROD")
def test_replication_passes_on_healthy_prod(prod: Rehearsal) -> None:
    results = prod.run("post-deployment")
    repl = [r for (s, _), r in results.items() if s == "s3-replication"]
    assert len(repl) == 1 and repl[0].verdict is Verdict.PASS, repl


@covers_all(
    ["error-rate", "latency-p95", "source-errors", "source-throttles"],
    Verdict.WARN,
    "idle window: no datapoints at all",
)
def test_no_datapoints_is_a_warning_not_a_pass(sit: Rehearsal) -> None:
    """Three days before the seeded metrics there is no datapoint: the metric rows say so (WARN)."""
    past = FixedClock(sit.clock.now() - timedelta(days=3))
    ctx = CheckContext.for_target(sit.target, now=past.now())
    results = {(r.slug, r.resource): r for r in run_procedure(ctx, "post-rollback", ("error-rate", "latency-p95"))}
    results.update(
        {(r.slug, r.resource): r for r in run_procedure(ctx, "pre-promotion", ("source-errors", "source-throttles"))}
    )
    assert results and all(r.verdict is Verdict.WARN for r in results.values()), describe(results)
    assert all(("not measurable" in r.observed or "not shown" in r.observed) for r in results.values())


def test_post_rollback_run_makes_one_metrics_round_trip(sit: Rehearsal) -> None:
    """All functions' window queries go out in one GetMetricData call; ECS in ceil(n/10) calls."""
    ops: list[str] = []

    def record(service: str, operation: str, params: dict) -> None:
        ops.append(f"{service}.{operation}")

    ctx = sit.context()
    sit.target.add_call_listener(record)
    try:
        results = run_procedure(ctx, "post-rollback")
    finally:
        sit.target.remove_call_listener(record)
    n_functions = len(sit.env.functions)
    assert ops.count("cloudwatch.GetMetricData") == 1
    assert ctx.metrics.round_trips == 1 and ctx.metrics.queries_sent == 3 * n_functions
    assert ops.count("ecs.DescribeServices") == -(-len(sit.env.ecs.services) // 10)
    # every row lists the calls it made; the batched read is listed by the first metric row only
    first_metric = next(r for r in results if r.slug == "error-rate")
    assert any("GetMetricData" in c and f"queries={3 * n_functions}" in c for c in first_metric.calls)


class _FakeCloudWatch:
    """Counts GetMetricData calls and their query counts (a unit double for the batching rule)."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def get_metric_data(self, **kwargs: Any) -> dict:
        self.calls.append(len(kwargs["MetricDataQueries"]))
        return {
            "MetricDataResults": [
                {"Id": q["Id"], "Values": [1.0], "Timestamps": [kwargs["StartTime"]], "StatusCode": "Complete"}
                for q in kwargs["MetricDataQueries"]
            ]
        }


def test_metric_queries_are_batched_500_per_call(sit: Rehearsal) -> None:
    fake = _FakeCloudWatch()
    ctx = CheckContext(target=StubTarget(sit.env, {"cloudwatch": fake}), now=datetime.now(timezone.utc))
    ctx.cache["functions"] = [f"fn-{i:04d}" for i in range(400)]  # 400 functions x 3 window queries
    reader = MetricsReader(ctx)
    start, end = ctx.window
    reader.get(window_query("Errors", "fn-0000", "Sum", start, end))
    assert fake.calls == [MAX_QUERIES_PER_CALL, MAX_QUERIES_PER_CALL, 200]
    for i in range(400):  # every other row is served from the batch
        reader.get(window_query("Duration", f"fn-{i:04d}", "p95", start, end))
    assert reader.round_trips == 3


def test_rows_are_named_slug_resource(sit: Rehearsal) -> None:
    ids = [p.id for p in rows_for(sit.env)]
    assert "error-rate-bbws-tenant-instance-management-sit" in ids
    assert len(ids) == len(set(ids))
