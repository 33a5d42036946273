"""The inventory's 004 fields (triggers and their sources, blue/green, backup files) and the ``harness``
commands for 004 on the embedded target (in this process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import InventoryError
from harness.inventory import load_inventory
from harness.inventory.loader import BUNDLED_DIR


def test_propie_declares_004s_triggers_with_their_sources() -> None:
    env = load_inventory("propie").environment("production")
    rate, latency, auth, memory = (env.trigger(k) for k in ("error_rate_5xx", "latency_p99", "auth_failures", "memory"))
    assert (rate.namespace, rate.metric, rate.total_metric, rate.threshold, rate.action) == (
        "AWS/ApiGateway",
        "5XXError",
        "Count",
        5.0,
        "rollback",
    )
    assert dict(rate.dimensions) == {"ApiName": "prop-ie-production-api", "Stage": "production"}
    assert (latency.statistic, latency.threshold, latency.action) == ("p99", 3000.0, "alert")
    assert (auth.threshold, memory.threshold, memory.namespace) == (20.0, 85.0, "LambdaInsights")
    assert {t.window_minutes for t in env.triggers} == {5}
    amp = env.amplify
    assert (amp.branch, amp.green_branch, amp.domain_prefix, amp.other_prefixes) == (
        "production",
        "green",
        "",
        ("www",),
    )
    assert (env.cfn_previous_template, env.cfn_previous_parameters) == (
        "backup/appsync-previous.yml",
        "backup/appsync-parameters-previous.json",
    )
    assert load_inventory("bbws").environment("sit").triggers == ()


@pytest.mark.parametrize(
    "change,message",
    [
        (
            "[auto_rollback.sources.error_rate_5xx]",
            "auto_rollback.sources.error_rate_5xx needs auto_rollback.error_rate_5xx_pct",
        ),
        ("[auto_rollback.sources.cpu]", "unknown trigger 'cpu'"),
    ],
)
def test_a_trigger_source_needs_a_known_trigger_and_its_threshold(tmp_path: Path, change: str, message: str) -> None:
    text = (BUNDLED_DIR / "bbws.toml").read_text() + f'\n{change}\nnamespace = "X"\nmetric = "Y"\naction = "alert"\n'
    path = tmp_path / "mine.toml"
    path.write_text(text)
    with pytest.raises(InventoryError, match=message):
        load_inventory(path)


def test_harness_commands_plan_and_apply_on_the_embedded_rehearsal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HARNESS_INVENTORY", raising=False)
    signed = ["--approved-by", "DevOps Lead", "--reason", "cli test"]
    assert main(["stack-rollback", "--env", "production", *signed]) == 0
    out = capsys.readouterr().out
    assert (
        "update-stack with the previous template" in out
        and "seed defect 6" in out
        and "COMPLETE: cloudformation-rollback" in out
    )
