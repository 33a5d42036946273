"""The ground the mutating half stands on: one clock per target, capabilities, fresh check contexts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from harness.checks.catalogue import rows_for
from harness.checks.context import CheckContext
from harness.checks.result import Verdict
from harness.checks.runner import run_procedure, run_row
from harness.clock import FixedClock, RehearsalClock, SystemClock
from harness.targets.aws import AwsTarget
from harness.targets.capabilities import CAPABILITIES, UnknownCapability
from harness.targets.localstack import LocalstackTarget
from tests.conftest import aws_env, run_pytest
from tests.fidelity.conftest import start_target
from tests.stub_target import StubTarget


@pytest.fixture(scope="module")
def fixed_sit():
    """A seeded SIT rehearsal on a FixedClock set to a whole minute (module-wide, read mostly)."""
    clock = FixedClock(datetime.now(timezone.utc).replace(second=0, microsecond=0))
    target = start_target("bbws", "sit", clock=clock)
    yield target
    target.close()


def test_every_target_owns_a_clock_and_only_rehearsals_move_it(fixed_sit) -> None:
    assert isinstance(fixed_sit.clock, FixedClock)
    assert isinstance(AwsTarget(fixed_sit.env).clock, SystemClock)
    from harness.targets.embedded import EmbeddedTarget

    assert isinstance(EmbeddedTarget(fixed_sit.env, seed=False).clock, RehearsalClock)
    assert fixed_sit.supports("clock-control") and not AwsTarget(fixed_sit.env).supports("clock-control")


def test_rehearsal_clock_runs_on_and_sleeps_without_waiting() -> None:
    start = datetime(2026, 11, 24, 20, 30, tzinfo=timezone.utc)
    clock = RehearsalClock(start)
    first = clock.now()
    assert start <= first < start + timedelta(seconds=5)
    clock.sleep(300)  # a 5-minute monitor window (001 §6.3.1) passes at once
    assert clock.now() - first >= timedelta(seconds=300)
    assert clock.now() <= clock.now()


def test_pitr_window_lambda_logs_and_check_windows_follow_the_targets_clock(fixed_sit) -> None:
    clock: FixedClock = fixed_sit.clock
    ddb, lam, logs = (fixed_sit.client(s) for s in ("dynamodb", "lambda", "logs"))
    table = fixed_sit.env.tables[0].name
    fn = fixed_sit.env.functions[0].name

    clock.advance(hours=2)
    pitr = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"
    ]
    assert pitr["LatestRestorableDateTime"] == clock.now() - timedelta(minutes=5)

    lam.invoke(FunctionName=f"{fn}:{fixed_sit.env.alias}", Payload=b'{"path": "/health"}')
    group = f"{fixed_sit.env.log_group_prefix}{fn}"
    stamps = [e["timestamp"] for e in logs.filter_log_events(logGroupName=group)["events"]]
    assert int(clock.now().timestamp() * 1000) in stamps

    ctx = CheckContext.for_target(fixed_sit)
    assert ctx.now == clock.now() and ctx.window[1] == clock.now()
    clock.advance(minutes=10)
    later = ctx.fresh()
    assert later.now == clock.now() and later.cache == {} and later.window[0] == clock.now() - timedelta(minutes=5)


def test_a_fresh_context_reads_current_state_after_a_change(fixed_sit) -> None:
    """A context caches (e.g. DescribeTable): after an action, only a fresh one sees the change."""
    table = fixed_sit.env.tables[0]
    row = next(
        p
        for p in rows_for(fixed_sit.env, "post-deployment")
        if p.spec.slug == "dynamodb-table-active" and p.row.resource == table.name
    )
    ctx = CheckContext.for_target(fixed_sit)
    assert run_row(ctx, row).verdict is Verdict.PASS
    ddb = fixed_sit.client("dynamodb")
    ddb.delete_table(TableName=table.name)
    try:
        assert run_row(ctx, row).verdict is Verdict.PASS  # stale: the phase's cached DescribeTable
        gone = run_row(ctx.fresh(), row)
        assert gone.verdict is Verdict.FAIL and "not found" in gone.observed
    finally:
        from harness.targets.embedded.seed import Seeded, _seed_table

        _seed_table(fixed_sit, fixed_sit.env, table, fixed_sit.clock.now(), Seeded())


def test_capabilities_are_one_vocabulary() -> None:
    target = StubTarget(
        __import__("harness.inventory", fromlist=["load_inventory"]).load_inventory("bbws").environment("sit")
    )
    assert all(target.supports(c) for c in CAPABILITIES)
    with pytest.raises(UnknownCapability):
        target.supports("ecs-tasks")  # a typo is a harness bug, never "not supported"


def test_localstack_shaped_target_skips_what_community_lacks(fixed_sit) -> None:
    """LocalStack's target (its declared gaps) against a served rehearsal: ECS and percentile rows SKIP
    with the reason instead of failing; the rest runs."""
    env = fixed_sit.env
    target = LocalstackTarget(env, clock=fixed_sit.clock)
    target._endpoint_url = lambda service: fixed_sit.server.url  # type: ignore[method-assign]
    results = {(r.slug, r.resource): r for r in run_procedure(CheckContext.for_target(target), "post-rollback")}
    ecs = [r for (slug, _), r in results.items() if slug == "ecs-tasks"]
    assert ecs and all(r.verdict is Verdict.SKIP and "LocalStack community has no ECS" in r.observed for r in ecs)
    p95 = [r for (slug, _), r in results.items() if slug == "latency-p95"]
    assert p95 and all(r.verdict is Verdict.SKIP for r in p95)
    assert all(r.verdict is Verdict.PASS for (slug, _), r in results.items() if slug == "dynamodb-pitr")
    assert not target.supports("pitr-restore") and "RestoreTableToPointInTime" in target.unsupported_reason(
        "pitr-restore"
    )


def test_stub_target_without_ecs_skips_ecs_rows(fixed_sit) -> None:
    stub = StubTarget(fixed_sit.env, missing={"ecs": "no ECS here", "pitr-restore": "no restore here"})
    rows = [p for p in rows_for(fixed_sit.env, "post-rollback") if p.spec.slug == "ecs-tasks"]
    results = [run_row(CheckContext.for_target(stub), p) for p in rows]
    assert results and all(r.verdict is Verdict.SKIP and "no ECS here" in r.observed for r in results)


CLOCK_CONFTEST = """
from datetime import datetime, timezone
from harness.clock import FixedClock

AT = datetime(2026, 11, 24, 20, 30, tzinfo=timezone.utc)

def pytest_harness_clock(config, env, target_name):
    return FixedClock(AT)
"""
CLOCK_SCENARIO = """
def test_clock_is_the_targets(clock, target):
    assert clock is target.clock
    assert clock.now().isoformat() == "2026-11-24T20:30:00+00:00"
"""


def test_a_conftest_starts_the_target_on_its_own_clock(tmp_path) -> None:
    (tmp_path / "conftest.py").write_text(CLOCK_CONFTEST)
    (tmp_path / "test_clock_hook.py").write_text(CLOCK_SCENARIO)
    proc = run_pytest(
        str(tmp_path), "--env", "sit", "--rootdir", str(tmp_path), "--reports-dir", str(tmp_path / "reports"), "-q"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_rehearsal_start_is_refused_on_a_real_account(tmp_path) -> None:
    proc = run_pytest(
        "scenarios/test_smoke.py",
        "--env",
        "sit",
        "--target",
        "aws",
        "--rehearsal-start",
        "2026-11-24T20:30:00Z",
        "--reports-dir",
        str(tmp_path),
        env=aws_env("http://127.0.0.1:9"),
    )
    assert proc.returncode != 0
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("ERROR:")]
    assert len(lines) == 1 and "clock-control" in lines[0] and "Traceback" not in proc.stderr
