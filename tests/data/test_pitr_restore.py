"""PITR restore (000 §6.2-§6.5, 004): the past restored and verified; refusals change nothing; cleanup."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from harness.actions.base import COMPLETE, REFUSED
from harness.actions.pitr import digests_at, drop_table, pitr_status, restore_table, restored_name
from harness.clock import FixedClock
from harness.data_verify import (
    compare,
    read_snapshot,
    table_digests,
    verify_against_snapshot,
    verify_tables,
    write_snapshot,
)
from harness.inventory import load_inventory
from harness.records import read_records
from harness.targets.embedded import EmbeddedTarget
from tests.data.conftest import ALLOW, Kept, start_lean, world
from tests.fidelity.conftest import fresh_account, isolated

pytestmark = pytest.mark.xdist_group("data-pitr-restore")
TABLE = "users-sit"  # PITR required (000 §6.7), read by no function in the inventory


@dataclasses.dataclass
class History:
    """Data at T0 (snapshot file), corrupted at T1 (updates and deletes), clock then well past the lag."""

    t0: datetime
    t1: datetime
    snapshot: object
    corrupted: set[str]


@pytest.fixture(scope="module")
def rehearsal():
    """A seeded bbws/sit rehearsal on a fresh account and a FixedClock (the PITR window follows it)."""
    t = start_lean(clock=FixedClock(datetime.now(timezone.utc).replace(microsecond=0)))
    yield t
    t.close()


@pytest.fixture(scope="module")
def history(rehearsal, tmp_path_factory) -> History:
    """20 items written, snapshot at T0; at T1 three updated, one overwritten, two deleted."""
    target, clock = rehearsal, rehearsal.clock
    ddb = target.client("dynamodb")
    clock.advance(minutes=1)
    for i in range(20):
        ddb.put_item(TableName=TABLE, Item={"id": {"S": f"u-{i:03d}"}, "status": {"S": "GOOD"}, "n": {"N": str(i)}})
    t0 = clock.advance(minutes=1)
    path = write_snapshot(table_digests(ddb, TABLE, taken_at=t0), tmp_path_factory.mktemp("snap") / "users.jsonl")
    t1 = clock.advance(minutes=1)
    for i in range(3):
        ddb.update_item(
            TableName=TABLE,
            Key={"id": {"S": f"u-{i:03d}"}},
            UpdateExpression="SET #s = :v",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":v": {"S": "CORRUPTED"}},
        )
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "u-003"}, "status": {"S": "OVERWRITTEN"}})
    ddb.delete_item(TableName=TABLE, Key={"id": {"S": "u-004"}})
    ddb.delete_item(TableName=TABLE, Key={"id": {"S": "sample-001"}})
    clock.advance(minutes=10)
    corrupted = {f"id=u-00{i}" for i in range(5)} | {"id=sample-001"}
    return History(t0, t1, read_snapshot(path), corrupted)


def test_restore_between_t0_and_t1_equals_the_snapshot(rehearsal, history) -> None:
    """Restored between T0 and T1: zero differences with the T0 snapshot; against the source exactly the corrupted
    keys."""
    target = rehearsal
    lines: list[str] = []
    at = history.t0 + timedelta(seconds=30)
    describes: list[str] = []
    counter = lambda **_: describes.append("DescribeTable")  # noqa: E731 (a botocore event handler)
    target.client("dynamodb").meta.events.register("before-call.dynamodb.DescribeTable", counter)
    try:
        result = restore_table(target, TABLE, authority=ALLOW, at=at, progress=lines.append)
    finally:
        target.client("dynamodb").meta.events.unregister("before-call.dynamodb.DescribeTable", counter)
    assert result.outcome == COMPLETE, result.message
    name = result.evidence["restored_table"]
    try:
        # Few calls: the restore is CREATING for 20 rehearsal minutes, polled at AWS's 20 s (60 polls), not at the
        # emulator's waiter delay (12,000); plus the plan's and the result's reads.
        assert 60 <= len(describes) <= 70, len(describes)
        assert name == restored_name(target.env.table(TABLE), result.plan.planned_at)
        assert any("ACTIVE" in line for line in lines), lines
        ddb = target.client("dynamodb")
        good = verify_against_snapshot(ddb, name, history.snapshot)
        assert good.equal and good.expected_count == good.actual_count == 25, good.line()
        bad = verify_tables(ddb, name, TABLE)
        assert bad.differing_keys == history.corrupted, bad.line()
        assert (len(bad.added), len(bad.removed), len(bad.changed)) == (2, 0, 4)
        assert "status" in bad.details[bad.changed[0]]
        record = result.record
        assert record.status == COMPLETE and record.resource == f"dynamodb:{TABLE}" and record.to_version == name
    finally:
        assert drop_table(target, name, authority=ALLOW).outcome == COMPLETE


def test_the_source_at_a_time_through_a_scratch_restore(rehearsal, history) -> None:
    """digests_at: the source as it was between T0 and T1 equals the snapshot; the scratch table is gone afterwards."""
    target = rehearsal
    before = set(target.client("dynamodb").list_tables()["TableNames"])
    then = digests_at(target, TABLE, history.t0 + timedelta(seconds=30), authority=ALLOW)
    assert compare(history.snapshot, then).equal
    assert set(target.client("dynamodb").list_tables()["TableNames"]) == before


def test_latest_restorable_time_sse_and_reapply(rehearsal, history) -> None:
    """--use-latest-restorable-time (004), SSE override, and PITR/TTL/tags/streams re-applied from the source."""
    target = rehearsal
    ddb = target.client("dynamodb")
    arn = ddb.describe_table(TableName=TABLE)["Table"]["TableArn"]
    ddb.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "owner", "Value": "bbws"}])
    ddb.update_table(
        TableName=TABLE, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    )
    plain = restore_table(target, TABLE, authority=ALLOW, name=f"{TABLE}-plain")
    full = restore_table(target, TABLE, authority=ALLOW, name=f"{TABLE}-full", sse=True, reapply=True)
    try:
        assert plain.outcome == full.outcome == COMPLETE, (plain.message, full.message)
        assert "lack" in " ".join(plain.plan.notes) and "--reapply" in " ".join(plain.plan.notes)
        assert pitr_status(target, f"{TABLE}-plain").status == "DISABLED"
        assert pitr_status(target, f"{TABLE}-full").status == "ENABLED"
        desc = ddb.describe_table(TableName=f"{TABLE}-full")["Table"]
        assert desc["SSEDescription"]["Status"] == "ENABLED"
        assert desc["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        assert (
            ddb.describe_time_to_live(TableName=f"{TABLE}-full")["TimeToLiveDescription"]["AttributeName"] == "expires"
        )
        assert ddb.list_tags_of_resource(ResourceArn=desc["TableArn"])["Tags"] == [{"Key": "owner", "Value": "bbws"}]
        assert sorted(full.evidence["settings"]) == ["PointInTimeRecovery", "StreamSpecification", "Tags", "TimeToLive"]
    finally:
        for name in (f"{TABLE}-plain", f"{TABLE}-full"):
            drop_table(target, name, authority=ALLOW)


def test_refusals_are_one_line_and_create_nothing(rehearsal, history) -> None:
    """PITR disabled, time outside the window, name taken, unknown table, no permission: one line each, nothing
    created."""
    target = rehearsal
    status = pitr_status(target, TABLE)
    before = world(target)
    cases = {
        "PITR DISABLED": dict(table="Site-Generation-State"),
        "outside users-sit's restorable window": dict(table=TABLE, at=status.latest + timedelta(minutes=1)),
        "outside": dict(table=TABLE, at=status.earliest - timedelta(seconds=1)),
        "already exists": dict(table=TABLE, name="tenants-sit"),
        "no table 'nope'": dict(table="nope"),
    }
    for expected, kwargs in cases.items():
        result = restore_table(target, authority=ALLOW, **kwargs)
        assert result.outcome == REFUSED and expected in result.message and "\n" not in result.message, (
            expected,
            result.message,
        )
    kept = restore_table(Kept(target), TABLE, authority=ALLOW)
    assert kept.outcome == REFUSED and "--allow-mutation" in kept.message
    for name, expected in (("tenants-sit", "inventory table"), ("nope", "does not exist")):
        dropped = drop_table(target, name, authority=ALLOW)
        assert dropped.outcome == REFUSED and expected in dropped.message
    assert world(target) == before


def test_without_the_capability_the_restore_is_refused_with_the_targets_reason() -> None:
    """A target that cannot rehearse pitr-restore (plain moto, LocalStack): refused with its reason, nothing created."""
    env = isolated(load_inventory("bbws").environment("sit"), fresh_account())
    target = EmbeddedTarget(env, seed=False, fidelity=False).start()
    try:
        result = restore_table(target, TABLE, authority=ALLOW)
        assert result.outcome == REFUSED and any(n.startswith("skip:") for n in result.plan.notes)
        assert result.message == target.unsupported_reason("pitr-restore")
        assert target.client("dynamodb").list_tables()["TableNames"] == []
    finally:
        target.close()


def test_restored_table_names_follow_the_inventory() -> None:
    """000 §6.4 <table>-restored-<UTC ts>; 004 <table>-recovery (propie inventory)."""
    at = datetime(2026, 1, 25, 10, 0, 5, tzinfo=timezone.utc)
    assert (
        restored_name(load_inventory("bbws").environment("sit").table("tenants-sit"), at)
        == "tenants-sit-restored-20260125100005"
    )
    propie = load_inventory("propie").environment("production").table("prop-ie-production-data")
    assert restored_name(propie, at) == "prop-ie-production-data-recovery" and propie.restore_sse


def test_audit_records_are_never_left_in_progress(rehearsal, history) -> None:
    """Every data action's record in the deployments table ended COMPLETE or FAILED.

    Self-contained: it restores and drops a table of its own, whatever other tests of this module ran on this
    worker (under ``pytest -n 2`` without ``--dist loadgroup`` they may run on another one, with their own rehearsal).
    """
    restored = restore_table(rehearsal, TABLE, authority=ALLOW, name=f"{TABLE}-audit")
    assert restored.outcome == COMPLETE, restored.message
    assert drop_table(rehearsal, f"{TABLE}-audit", authority=ALLOW).outcome == COMPLETE
    records = [r for r in read_records(rehearsal.client("dynamodb"), rehearsal.env) if r.resource]
    assert records and {r.status for r in records} <= {"COMPLETE", "FAILED"}
    assert {r.action for r in records} >= {"pitr-restore", "table-cleanup"}


def test_inventory_table_functions_must_be_the_inventorys(tmp_path) -> None:
    """dynamodb.tables[].functions names functions of the inventory; a typo is one error with the key path."""
    from harness.errors import InventoryError
    from harness.inventory.loader import inventory_path

    text = (
        inventory_path("bbws")
        .read_text()
        .replace('"bbws-site-management-{env}"]   # 000 §6.6', '"bbws-site-managment-{env}"]   # 000 §6.6')
    )
    (tmp_path / "typo.toml").write_text(text)
    with pytest.raises(
        InventoryError, match=r"dynamodb\.tables\[0\]\.functions\[1\]: 'bbws-site-managment-dev' is not one of"
    ):
        load_inventory(tmp_path / "typo.toml")


class _Creating:
    """A DynamoDB client whose restored table is CREATING until the clock reaches ``ready`` (a restore takes time)."""

    def __init__(self, clock: FixedClock, ready: datetime) -> None:
        self.clock, self.ready = clock, ready

    def describe_table(self, TableName: str) -> dict:  # noqa: N803 (boto3's parameter name)
        status = "ACTIVE" if self.clock.now() >= self.ready else "CREATING"
        return {"Table": {"TableName": TableName, "TableStatus": status}}


class _Target:
    def __init__(self, client: _Creating, clock: FixedClock) -> None:
        self._client, self.clock, self.waiter_config = client, clock, {"Delay": 20}

    def client(self, service: str) -> _Creating:
        return self._client


def test_the_wait_for_active_polls_on_the_targets_clock_with_progress() -> None:
    """CREATING for 5 minutes of the target's clock: one line per state change and every 10 s of waiting; ACTIVE
    returns the seconds waited on that clock; a wait shorter than the restore fails with the last state seen."""
    from harness.actions.pitr import wait_active

    clock = FixedClock(datetime(2026, 1, 25, 10, 0, tzinfo=timezone.utc))
    target = _Target(_Creating(clock, clock.now() + timedelta(minutes=5)), clock)
    said: list[str] = []
    waited = wait_active(target, "t-restored", minutes=60, progress=said.append)
    assert (
        waited == 300.0
        and said[0] == "restore t-restored: CREATING after 0 s"
        and said[-1].endswith("ACTIVE after 300 s")
    )
    assert len(said) == 1 + 300 // 20  # a line per poll: every 20 s is at least every 10 s
    target = _Target(_Creating(clock, clock.now() + timedelta(minutes=5)), clock)
    with pytest.raises(TimeoutError, match="still CREATING after 120 s"):
        wait_active(target, "t-restored", minutes=2)
