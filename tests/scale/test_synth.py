"""Synthetic inventories (harness/inventory/synth.py, ``harness inventory synth``): valid at any size,
seeded by the embedded target, every function read back, the checklist's calls per function bounded.

N = 300 is validated here (no seeding: it takes ~20 s, benchmarks/bench_verify.py measures it); N = 60
is seeded and read back in full."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from harness import aws
from harness.checks.context import CheckContext
from harness.checks.result import Verdict
from harness.checks.runner import run_procedure
from harness.cli import main as cli_main
from harness.errors import InventoryError
from harness.inventory.synth import Size, render, synthesize
from harness.targets.embedded import EmbeddedTarget

PER_FUNCTION = ("GetAlias", "GetFunction", "Invoke")  # alias version, its release label, /health


def test_three_hundred_functions_validate(tmp_path: Path) -> None:
    inventory = synthesize(Size(functions=300, tables=30, services=30), tmp_path / "synth-300.toml")
    env = inventory.environment("sit")
    assert len(env.functions) == 300 and len(env.tables) == 30 and env.ecs is not None and len(env.ecs.services) == 30
    assert env.deployments_table is not None and len({f.name for f in env.functions}) == 300
    assert (
        env.gates["sit"].lookback_hours == 24 and env.thresholds.verification_window_minutes == 5
    )  # bbws's runbook values


def test_sizes_the_format_cannot_hold_are_one_error() -> None:
    with pytest.raises(InventoryError, match="not a multiple of --tenants"):
        render(Size(functions=3, tables=1, services=4, tenants=3))
    with pytest.raises(InventoryError, match="--functions 0"):
        render(Size(functions=0, tables=1, services=1))


def test_cli_writes_a_valid_inventory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.toml"
    assert (
        cli_main(
            [
                "inventory",
                "synth",
                "--functions",
                "12",
                "--tables",
                "2",
                "--services",
                "4",
                "--tenants",
                "2",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert "12 functions, 2 tables, 4 ECS services, 2 tenants" in capsys.readouterr().out
    assert cli_main(["inventory", "synth", "--functions", "1", "--tables", "0", "--services", "1", "-o", str(out)]) == 2
    assert capsys.readouterr().err.startswith("harness: --tables 0")


@pytest.mark.timeout(240)
def test_sixty_functions_seed_read_back_and_verify(tmp_path: Path) -> None:
    env = synthesize(Size(functions=60, tables=6, services=6), tmp_path / "synth-60.toml").environment("sit")
    target = EmbeddedTarget(env).start()
    try:
        lam = target.client("lambda")
        listed = {f["FunctionName"] for f in aws.paginate(lam, "list_functions", "Functions")}
        assert listed == {f.name for f in env.functions}
        for fn in env.functions:  # every function: its alias on the newest published version, its log group
            assert (
                lam.get_alias(FunctionName=fn.name, Name=env.alias)["FunctionVersion"]
                == target.seeded.functions[fn.name][-1]
            )
        groups = {g["logGroupName"] for g in aws.paginate(target.client("logs"), "describe_log_groups", "logGroups")}
        assert {f"{env.log_group_prefix}{fn.name}" for fn in env.functions} <= groups
        calls: collections.Counter[str] = collections.Counter()
        target.add_call_listener(lambda service, operation, params: calls.update([operation]))
        rows = run_procedure(CheckContext.for_target(target, api_base_url=target.api_base_url), "post-rollback")
        assert {r.verdict for r in rows} == {Verdict.PASS}, [
            r.message() for r in rows if r.verdict is not Verdict.PASS
        ][:5]
        assert all(calls[op] == len(env.functions) for op in PER_FUNCTION), calls
        assert calls["FilterLogEvents"] == 0 and calls["StartQuery"] == 2, (
            calls
        )  # 60 log groups: two Insights queries of <= 50
        assert calls["GetMetricData"] == 1 and calls["DescribeServices"] == 1, calls
    finally:
        target.close()
