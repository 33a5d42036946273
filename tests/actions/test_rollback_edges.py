"""Edges of the Lambda actions the main tests leave out: leftover weighted routing is cleared (001 §6.2.2),
a refusal on bbws-access (002: SSM deployed-version) leaves SSM as it was, a failed function makes the
CLI exit 1, and a Ctrl-C during a promotion's monitor window still ends its audit record FAILED."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.actions import COMPLETE, FAILED, REFUSED, Authority, promote_apply
from harness.actions import promote as pr
from harness.actions import rollback as rb
from harness.actions.rollback import RollbackTo, rollback
from harness.records import IN_PROGRESS, read_records
from harness.targets.embedded import EmbeddedTarget
from tests.actions.conftest import REHEARSAL, KeptTarget, alias_version, peer, snapshot, start, tick

FN = "bbws-site-management-sit"


@pytest.fixture(scope="module")
def sit() -> Iterator[EmbeddedTarget]:
    """bbws/sit, seeded, on a fresh account (this module's own)."""
    target = start("bbws", "sit")
    yield target
    target.close()


def test_rollback_clears_leftover_weighted_routing_and_describes_the_alias(sit: EmbeddedTarget) -> None:
    """An alias left mid-canary (RoutingConfig weights) is rolled back to one version with no weights."""
    lam = sit.client("lambda")
    serving = alias_version(sit, FN)
    other = "1" if serving != "1" else "2"
    lam.update_alias(FunctionName=FN, Name=sit.env.alias, RoutingConfig={"AdditionalVersionWeights": {other: 0.2}})
    tick(sit)
    result = rollback(sit, FN, REHEARSAL, RollbackTo.version(other))
    assert result.outcome == COMPLETE, result.message
    alias = lam.get_alias(FunctionName=FN, Name=sit.env.alias)
    assert alias["FunctionVersion"] == other
    assert not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights"), alias.get("RoutingConfig")
    assert alias.get("Description"), "the alias says why it moved"


@pytest.fixture(scope="module")
def access_prod() -> Iterator[EmbeddedTarget]:
    """bbws-access/prod (protected; SSM deployed-version, PK/SK records) on a fresh account."""
    target = start("bbws-access", "prod")
    yield target
    target.close()


@pytest.mark.parametrize("case", ["missing-approvers", "no-mutation-permission", "deployed-previous-without-approvers"])
def test_refusal_on_bbws_access_leaves_aliases_records_and_ssm_unchanged(
    case: str, access_prod: EmbeddedTarget
) -> None:
    """002's environment keeps its deployed-version history in SSM: a refused rollback changes none of it."""
    assert access_prod.env.ssm_deployed_version, "bbws-access names an SSM deployed-version parameter (002)"
    where: Any = access_prod
    who = Authority(reason="x")  # 002's prod-approval job: one approver needed, none given
    to = RollbackTo.previous()
    if case == "no-mutation-permission":
        where, who = KeptTarget(access_prod), Authority(reason="x", approvers=("prod-approver",))
    elif case == "deployed-previous-without-approvers":
        to = RollbackTo.deployed_previous()
    before = snapshot(where)
    assert before["ssm"], "the seeded SSM history is what must stay"
    result = rb.rollback_all(where, who, to)
    assert result.outcome == REFUSED, result.message
    assert result.message and "\n" not in result.message
    assert snapshot(where) == before


def test_cli_exits_1_when_a_function_fails(
    sit: EmbeddedTarget, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`harness rollback` exit status: 1 when a function's rollback FAILED (the line names it)."""
    from harness.cli import main

    def broken(*_: Any, **__: Any) -> str:
        raise RuntimeError("injected: alias verification failed")

    monkeypatch.setattr(rb, "_verify_alias", broken)
    code = main(
        ["rollback", "--env", "sit", "--function", FN, "--reason", "exit status test", "--reports-dir", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert code == 1, out
    assert f"{FN}:" in out and "FAILED" in out


def test_keyboard_interrupt_during_the_monitor_ends_the_promotion_record_failed(
    sit: EmbeddedTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the monitor watches the new version: the record in SIT's table is FAILED, never IN_PROGRESS."""
    dev = peer(sit, "bbws", "dev")
    try:

        def interrupted(*_: Any, **__: Any) -> Any:
            raise KeyboardInterrupt

        monkeypatch.setattr(promote_apply, "watch", interrupted)
        tick(sit)
        with pytest.raises(KeyboardInterrupt):
            pr.promote(
                dev,
                sit,
                Authority(approvers=("Dev Lead",), reason="release", actor="tests"),
                function="dev-bbws-sites-service",
                version="2",
                gates=(True, "rows passed"),
            )
        records = [r for r in read_records(sit.client("dynamodb"), sit.env) if r.action == "promote"]
        assert records and records[0].status == FAILED and all(r.status != IN_PROGRESS for r in records), [
            (r.record_id, r.status) for r in records
        ]
    finally:
        dev.close()
