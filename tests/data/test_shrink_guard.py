"""A recovery must not make the incident worse: a restore taken too early is empty, and switching to it
or copying it back would empty the live table. Refused (one line, exit 3, nothing changed) unless
``--allow-shrink``; with it, a backup exists before the first delete and the record names it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from harness import aws
from harness.actions.base import COMPLETE, REFUSED
from harness.actions.copy_back import apply_copy_back, copy_back, plan_copy_back
from harness.actions.pitr import restore_table
from harness.actions.table_switch import served_table, switch_table
from harness.clock import FixedClock
from harness.records import read_records
from tests.data.conftest import ALLOW, start_lean, world

pytestmark = pytest.mark.xdist_group("data-shrink")
TABLE = "tenants-sit"


def _items(ddb, table: str) -> dict[str, str]:
    from harness.data_verify import table_digests

    return table_digests(ddb, table, segments=1).items


@pytest.fixture(scope="module")
def early():
    """tenants-sit emptied, 10 minutes pass, refilled with 6 items, then restored --latest at once: an EMPTY restore
    (the latest restorable time, 5 minutes back, precedes the fill)."""
    t = start_lean(functions=True, clock=FixedClock(datetime.now(timezone.utc).replace(microsecond=0)))
    ddb = t.client("dynamodb")
    t.clock.advance(minutes=10)
    for item in list(aws.scan_items(ddb, TABLE)):
        ddb.delete_item(TableName=TABLE, Key={"id": item["id"]})
    t.clock.advance(minutes=10)
    for i in range(6):
        ddb.put_item(TableName=TABLE, Item={"id": {"S": f"tenant-{i}"}, "n": {"N": str(i)}})
    result = restore_table(t, TABLE, authority=ALLOW, name=f"{TABLE}-restored-early")
    assert result.outcome == COMPLETE, result.message
    assert result.evidence["restored_items"] == 0 and result.evidence["source_items"] == 6, result.message
    assert "0 items restored, 6 in tenants-sit when planned" in result.message and "EMPTY" in result.message
    yield t, result.evidence["restored_table"]
    t.close()


def test_switch_and_copy_back_refuse_the_empty_restore_and_change_nothing(early) -> None:
    """Both refuse in one line naming --allow-shrink, the counts and the tables; the world is unchanged."""
    target, restored = early
    before = world(target)
    switched = switch_table(target, TABLE, restored, authority=ALLOW)
    assert switched.outcome == REFUSED and "\n" not in switched.message, switched.message
    assert f"{restored} is EMPTY while {TABLE} has 6 items" in switched.message and "--allow-shrink" in switched.message
    copied = copy_back(target, TABLE, source=restored, authority=ALLOW)
    assert copied.outcome == REFUSED and "\n" not in copied.message, copied.message
    assert "would delete 6 and put 0" in copied.message and "--allow-shrink" in copied.message
    assert world(target) == before


def test_a_copy_that_shrinks_past_the_threshold_is_refused_and_one_within_it_passes(early) -> None:
    """Source 4 of 6 items (33 % fewer): refused naming the inventory threshold; with a threshold of 50 % the shrink
    passes the size guard but its deletes still need consent."""
    import dataclasses

    target, _ = early
    ddb = target.client("dynamodb")
    ddb.create_table(
        TableName="tenants-partial",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for item in list(aws.scan_items(ddb, TABLE))[:4]:
        ddb.put_item(TableName="tenants-partial", Item=item)
    plan = plan_copy_back(target, TABLE, source="tenants-partial", authority=ALLOW)
    assert plan.refused and "33 % fewer than tenants-sit's 6" in (plan.refusal or "")
    assert "dynamodb.shrink_refusal_percent 10 %" in (plan.refusal or "")
    tables = tuple(dataclasses.replace(t, shrink_refusal_percent=50.0) for t in target.env.tables)
    target.env = dataclasses.replace(target.env, tables=tables)
    try:
        plan = plan_copy_back(target, TABLE, source="tenants-partial", authority=ALLOW)
        assert plan.refused and "lacks 2 of tenants-sit's 6 items" in (plan.refusal or ""), plan.refusal
        assert not plan_copy_back(target, TABLE, source="tenants-partial", authority=ALLOW, allow_shrink=True).refused
    finally:
        tables = tuple(dataclasses.replace(t, shrink_refusal_percent=10.0) for t in target.env.tables)
        target.env = dataclasses.replace(target.env, tables=tables)
        ddb.delete_table(TableName="tenants-partial")


def test_with_consent_the_backup_exists_before_the_first_delete(early) -> None:
    """--allow-shrink: the plan states 0 put / 6 deleted and the apply does exactly that; ListBackups shows the backup
    when the first DeleteRequest goes out; the audit record and the message name its ARN and the way back."""
    target, restored = early
    ddb = target.client("dynamodb")
    plan = plan_copy_back(target, TABLE, source=restored, authority=ALLOW, allow_shrink=True)
    assert plan.spec is not None and (len(plan.spec.diff.puts), len(plan.spec.diff.deletes)) == (0, 6)
    text = plan.render()
    assert "0 put from" in text and "6 deleted: id=tenant-0" in text and "(6 items)" in text, text
    seen: list[list[str]] = []

    def first_delete(params, **_):
        requests = next(iter(params["RequestItems"].values()))
        if any("DeleteRequest" in r for r in requests) and not seen:
            seen.append([b["BackupArn"] for b in ddb.list_backups(TableName=TABLE)["BackupSummaries"]])

    ddb.meta.events.register("provide-client-params.dynamodb.BatchWriteItem", first_delete)
    try:
        result = apply_copy_back(target, plan)
    finally:
        ddb.meta.events.unregister("provide-client-params.dynamodb.BatchWriteItem", first_delete)
    assert result.outcome == COMPLETE, result.message
    arn = result.record.extra["backup_arn"]
    assert seen and arn in seen[0]
    assert (result.record.extra["items_put"], result.record.extra["items_deleted"]) == (0, 6)
    assert arn in result.message and f"--backup-arn {arn}" in result.message
    stored = [r for r in read_records(ddb, target.env) if r.action == "copy-back" and r.status == COMPLETE]
    assert any(r.extra.get("backup_arn") == arn for r in stored)
    assert _items(ddb, TABLE) == {}


def test_switch_with_consent_backs_up_the_table_it_leaves(early) -> None:
    """--allow-shrink on switch-table: a backup of the table the functions leave, then the move; both named."""
    target, restored = early
    ddb = target.client("dynamodb")
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "tenant-x"}})
    result = switch_table(target, TABLE, restored, authority=ALLOW, allow_shrink=True)
    try:
        assert result.outcome == COMPLETE, result.message
        (backup,) = result.evidence["backups"]
        assert backup["backup_name"].startswith(f"{TABLE}-before-switch-")
        assert backup["backup_arn"] in [b["BackupArn"] for b in ddb.list_backups(TableName=TABLE)["BackupSummaries"]]
        assert result.record.extra["backup_arn"] == backup["backup_arn"] and backup["backup_arn"] in result.message
        spec = target.env.table(TABLE)
        assert {served_table(target, fn, spec.env_var).table for fn in spec.functions} == {restored}
    finally:
        assert switch_table(target, TABLE, TABLE, authority=ALLOW, allow_shrink=True).outcome == COMPLETE


def test_the_copy_fails_and_copies_nothing_when_the_table_changed_since_the_plan(early) -> None:
    """The apply re-reads the difference with the writers frozen: not the planned one, nothing is copied."""
    target, restored = early
    ddb = target.client("dynamodb")
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "tenant-y"}})
    plan = plan_copy_back(target, TABLE, source=restored, authority=ALLOW, allow_shrink=True)
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "tenant-z"}})  # written after the plan
    before = _items(ddb, TABLE)
    with pytest.raises(RuntimeError, match="changed since the plan"):
        apply_copy_back(target, plan)
    assert _items(ddb, TABLE) == before
    records = [r for r in read_records(ddb, target.env) if r.action == "copy-back"]
    assert all(r.status != "IN_PROGRESS" for r in records)
