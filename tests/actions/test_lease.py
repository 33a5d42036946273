"""The operation lease (harness/lease.py) on an embedded rehearsal: taken with a condition, refused naming the
holder, renewed, released on any exit, an expired one broken only by id and recorded; ``harness locks``."""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable

import pytest

from harness.actions import Authority
from harness.cli.common import held_lease, parse_duration
from harness.errors import HarnessError
from harness.lease import (
    Lease,
    LeaseError,
    LeaseHeld,
    LeaseSettings,
    acquire,
    break_lease,
    lease_key,
    operation_lease,
    read_lease,
)
from harness.records import read_records


class Wall:
    """A wall clock the test moves (the lease's expiry is wall time)."""

    def __init__(self, at: float = 1_800_000_000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


@pytest.fixture(scope="module")
def sit(make_embedded_module: Callable[..., object]):  # noqa: ANN201 (an EmbeddedTarget)
    return make_embedded_module("bbws", "sit")


@pytest.fixture(scope="module")
def make_embedded_module():  # noqa: ANN201 (a factory)
    from harness.inventory import load_inventory
    from harness.targets.embedded import EmbeddedTarget

    started = []

    def start(inventory: str, env: str):  # noqa: ANN202
        target = EmbeddedTarget(load_inventory(inventory).environment(env)).start()
        started.append(target)
        return target

    yield start
    for target in started:
        target.close()


def lease(target, wall: Wall, command: str = "harness rollback all services", actor: str = "alice") -> Lease:  # noqa: ANN001
    settings = LeaseSettings.of(target.env)
    return Lease(target.client("dynamodb"), target.env, settings, command=command, scope="all", actor=actor, wall=wall)


def clear(target) -> None:  # noqa: ANN001
    """Remove the lease a test left taken (the module's rehearsal is shared)."""
    table = LeaseSettings.of(target.env).table
    target.client("dynamodb").delete_item(TableName=table.name, Key=lease_key(table, target.env))


def test_a_second_operation_is_refused_naming_holder_command_and_age(sit) -> None:  # noqa: ANN001
    wall = Wall()
    first = lease(sit, wall)
    acquire(first)
    wall.at += 42
    with pytest.raises(LeaseHeld) as refused:
        acquire(lease(sit, wall, "harness promote", "bob"))
    text = str(refused.value)
    assert f"lease {first.lease_id} on bbws/sit (account 815856636111, af-south-1) held by alice@" in text
    assert "for `harness rollback all services`" in text and "42 s old" in text and "--lock-timeout" in text
    first.release()
    assert read_lease(sit.client("dynamodb"), LeaseSettings.of(sit.env).table, sit.env) is None
    acquire(lease(sit, wall, "harness promote", "bob"))  # free again
    read = read_lease(sit.client("dynamodb"), LeaseSettings.of(sit.env).table, sit.env)
    assert read is not None and read.actor == "bob"
    clear(sit)


def test_the_lease_is_never_a_deployment_record_and_is_released_on_an_exception(sit) -> None:  # noqa: ANN001
    with pytest.raises(RuntimeError), operation_lease(sit, command="c", scope="s", actor="a") as held:
        assert held is not None
        assert not [r for r in read_records(sit.client("dynamodb"), sit.env) if "LEASE" in r.record_id]
        raise RuntimeError("boom")
    assert read_lease(sit.client("dynamodb"), LeaseSettings.of(sit.env).table, sit.env) is None


def test_renewal_pushes_the_expiry_and_a_broken_lease_is_noticed(sit) -> None:  # noqa: ANN001
    wall = Wall()
    mine = lease(sit, wall)
    acquire(mine)
    first_expiry = mine.holder.expires
    wall.at += 30
    assert mine.renew() and mine.holder.expires == first_expiry + 30
    wall.at += 1000  # it expired (its holder stopped renewing): someone breaks it explicitly
    broken = break_lease(
        sit.client("dynamodb"),
        sit.env,
        LeaseSettings.of(sit.env),
        mine.lease_id,
        actor="bob",
        reason="stuck",
        wall=wall,
    )
    assert broken.lease_id == mine.lease_id
    assert not mine.renew() and mine.lost and "broken by someone else" in mine.lost
    records = [r for r in read_records(sit.client("dynamodb"), sit.env) if r.action == "lease-break"]
    assert records and records[0].resource == f"lease:{mine.lease_id}" and records[0].actor == "bob"
    mine.release()  # not ours any more: nothing to release, no error


def test_an_expired_lease_is_not_taken_over_and_a_live_one_cannot_be_broken(sit) -> None:  # noqa: ANN001
    wall = Wall()
    dead = lease(sit, wall)
    acquire(dead)
    with pytest.raises(LeaseError, match="refused, the lease is live"):
        break_lease(
            sit.client("dynamodb"), sit.env, LeaseSettings.of(sit.env), dead.lease_id, actor="b", reason=None, wall=wall
        )
    wall.at += 10_000
    with pytest.raises(LeaseHeld, match=f"break it with --break-lease {dead.lease_id}"):
        acquire(lease(sit, wall), timeout_s=60)
    with pytest.raises(LeaseError, match="not the lease held"):
        break_lease(
            sit.client("dynamodb"), sit.env, LeaseSettings.of(sit.env), "nope", actor="b", reason=None, wall=wall
        )
    break_lease(
        sit.client("dynamodb"), sit.env, LeaseSettings.of(sit.env), dead.lease_id, actor="b", reason="r", wall=wall
    )
    acquire(lease(sit, wall))
    clear(sit)


def test_break_lease_on_a_protected_environment_needs_the_approvals(make_embedded_module) -> None:  # noqa: ANN001
    prod = make_embedded_module("bbws", "prod")
    args = argparse.Namespace(break_lease="abc", lock_timeout="0")
    with pytest.raises(HarnessError, match="--break-lease abc refused: .*approv"):
        with held_lease(args, prod, Authority(), command="c", scope="s", rule="prod-rollback", out=io.StringIO()):
            pass


def test_lock_timeout_durations() -> None:
    assert parse_duration("90") == 90 and parse_duration("30s") == 30 and parse_duration("5m") == 300
    assert parse_duration("1h") == 3600 and parse_duration("500ms") == 0.5
    with pytest.raises(HarnessError, match="a duration like 30s"):
        parse_duration("soon")


def test_harness_locks_names_the_target_and_the_holder() -> None:
    """In a process of its own: this module's SIT target owns the account here (one owner per account)."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "locks", "--env", "sit"], capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("target: inventory=bbws env=sit") and "REHEARSAL (moto" in out
    assert "no lease held on bbws/sit (table bbws-deployments-sit)" in out


def test_two_concurrent_promotions_of_one_environment_one_acts(make_embedded_module) -> None:  # noqa: ANN001
    """Two operators promote DEV -> SIT at once (one emulator, two threads, each holding its lease as the CLI does):
    exactly one promotes; the other is refused before planning, naming the holder."""
    import threading

    from harness.actions import promote as pr
    from tests.actions.conftest import peer, start

    sit = start("bbws", "sit")
    dev = peer(sit, "bbws", "dev")
    try:
        fn, dst = "dev-bbws-sites-service", "sit-bbws-sites-service"
        who = Authority(approvers=("Dev Lead",), reason="release", actor="tests")
        inside, release = threading.Event(), threading.Event()
        results: dict[str, object] = {}

        def operator(name: str) -> None:
            try:
                with operation_lease(sit, command=f"harness promote ({name})", scope=fn, actor=name):
                    inside.set()
                    release.wait(60)  # still mid-operation while the other operator tries
                    results[name] = pr.promote(dev, sit, who, function=fn, version="2", gates=(True, "rows passed"))
            except LeaseHeld as exc:
                results[name] = exc

        first = threading.Thread(target=operator, args=("alice",))
        first.start()
        assert inside.wait(60)
        operator("bob")
        release.set()
        first.join(120)
        assert isinstance(results["bob"], LeaseHeld) and "held by alice@" in str(results["bob"])
        assert "harness promote (alice)" in str(results["bob"])
        done = results["alice"]
        assert getattr(done, "outcome", None) == "COMPLETE", getattr(done, "message", done)
        new = done.evidence["new_version"]  # type: ignore[attr-defined]  # (an ActionResult, checked above)
        assert sit.client("lambda").get_alias(FunctionName=dst, Name=sit.env.alias)["FunctionVersion"] == new
        assert read_lease(sit.client("dynamodb"), LeaseSettings.of(sit.env).table, sit.env) is None
    finally:
        dev.close()
        sit.close()


def test_a_child_of_the_holder_joins_its_lease_and_nobody_else_does(sit, monkeypatch) -> None:  # noqa: ANN001
    """A drill exports its lease id to its ``--recovery-cmd``: a ``harness`` command run by it joins the lease;
    an unrelated id (or none) is refused as usual."""
    from harness.lease import LEASE_ENV

    with operation_lease(sit, command="game day drill x", scope="x", actor="drill", export=True) as held:
        assert held is not None and __import__("os").environ[LEASE_ENV] == held.lease_id
        with operation_lease(sit, command="harness rollback", scope="all", actor="script") as joined:
            assert joined is None  # joined: nothing taken, nothing released
        monkeypatch.setenv(LEASE_ENV, "someone-else")
        with pytest.raises(LeaseHeld, match="held by drill@"):
            with operation_lease(sit, command="harness rollback", scope="all", actor="script"):
                pass
        monkeypatch.setenv(LEASE_ENV, held.lease_id)
    monkeypatch.delenv(LEASE_ENV, raising=False)
    assert read_lease(sit.client("dynamodb"), LeaseSettings.of(sit.env).table, sit.env) is None
