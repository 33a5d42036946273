"""DynamoDB point-in-time recovery (000 §6, 004 "DynamoDB Rollback"), executed on the target and verified.

The game day, on the first inventory table that requires PITR (000 §6.7):

1. prerequisites: PITR enabled and its window (000 §6.2, §6.3; ``dynamodb-pitr`` row);
2. known-good data: the drill writes its own uniquely keyed items and snapshots the table (key ->
   digest) — the fault never touches the application's items;
3. the fault: some drill items updated, some deleted; time passes until the moment before the fault
   is restorable (on the embedded rehearsal the clock moves; on AWS about 5 minutes pass);
4. restore to a new table at that moment, PITR/TTL/tags/streams re-applied (000 §6.4, 004);
5. verify (000 §6.5): the restored table equals the snapshot; against the corrupted source it differs
   in exactly the corrupted keys;
6. switch (000 §6.6 option A, done so traffic follows: publish + alias) and back, verified from the
   configuration and by the functions' checklist rows;
7. copy the restored data back into the original table with writers frozen (000 §6.6 option B);
   the table equals the snapshot again;
8. cleanup (restored table, the switch's versions, drill items, checkpoint backup) and the table's
   checklist rows: ``dynamodb-pitr``, ``dynamodb-reads``, ``dynamodb-table-active``.

    pytest scenarios/test_pitr_restore.py --env sit                                   # embedded rehearsal
    pytest scenarios/test_pitr_restore.py --env sit --target aws --allow-mutation     # real SIT (about 6 minutes)
"""

from __future__ import annotations

import uuid
from datetime import timezone

import pytest

from harness.actions.base import COMPLETE
from harness.actions.copy_back import copy_back
from harness.actions.pitr import drop_table, pitr_status, restore_table, wait_restorable
from harness.actions.table_switch import switch_table, tables_served
from harness.data_verify import (
    read_snapshot,
    readable_key,
    table_digests,
    verify_against_snapshot,
    verify_tables,
    write_snapshot,
)
from harness.recovery_report import action_section, document

pytestmark = [pytest.mark.mutating]
DRILL_ITEMS, UPDATED, DELETED = 10, 3, 2


@pytest.fixture
def table(env):
    """The first table whose PITR is required (000 §6.7), preferring one the inventory's functions read."""
    required = [t for t in env.tables if t.pitr == "required" and t.purpose == "data"]
    if not required:
        pytest.skip(f"{env.inventory}/{env.name} has no table with PITR required")
    return next((t for t in required if t.functions), required[0])


def _value(kind: str, text: str, n: int) -> dict:
    return {"S": {"S": text}, "N": {"N": str(n)}, "B": {"B": text.encode()}}[kind]


def _drill_keys(table, run: str) -> list[dict]:
    """Uniquely keyed items of the drill, in the table's key schema."""
    base = int(run, 16) % 10**9 * 1000
    keys = []
    for i in range(DRILL_ITEMS):
        key = {table.hash_key.name: _value(table.hash_key.type, f"harness-pitr-{run}-{i:03d}", base + i)}
        if table.range_key:
            key[table.range_key.name] = _value(table.range_key.type, "harness-pitr", 0)
        keys.append(key)
    return keys


def test_pitr_restore_verify_switch_copy_back(
    target, env, clock, table, authority, run_action, verify_checklist, write_report, require, tmp_path
):
    """Fault, restore, verify, switch and back, copy back, clean up; the table's checklist rows pass."""
    require("pitr-restore")
    ddb = target.client("dynamodb")
    say = lambda line: sections.append(f"- {line}\n")  # noqa: E731 (progress lines into the report)
    sections: list[str] = []
    status = pitr_status(target, table.name)
    sections.append(f"Prerequisites (000 §6.2, §6.3): {status.line()}\n")
    verify_checklist("post-rollback", slugs=("dynamodb-pitr",), resources=[table.name], phase="prerequisites")

    run = uuid.uuid4().hex[:8]
    keys = _drill_keys(table, run)
    for key in keys:
        ddb.put_item(TableName=table.name, Item={**key, "status": {"S": "GOOD"}, "drill": {"S": run}})
    snapshot_file = write_snapshot(
        table_digests(ddb, table.name, taken_at=clock.now()), tmp_path / f"{table.name}-before-fault.jsonl"
    )
    snapshot = read_snapshot(snapshot_file)  # what a game day keeps: the file, written before the fault
    restore_point = clock.now()
    clock.sleep(1)  # the fault comes after the restore point
    corrupted = keys[:UPDATED] + keys[UPDATED : UPDATED + DELETED]
    for key in keys[:UPDATED]:
        ddb.put_item(TableName=table.name, Item={**key, "status": {"S": "CORRUPTED"}, "drill": {"S": run}})
    for key in keys[UPDATED : UPDATED + DELETED]:
        ddb.delete_item(TableName=table.name, Key=key)
    sections.append(
        f"Fault: {UPDATED} drill item(s) overwritten, {DELETED} deleted after "
        f"{restore_point.isoformat(timespec='seconds')}; "
        f"snapshot of {len(snapshot)} items before it (`{snapshot_file.name}`).\n"
    )

    restored_name = None
    switched = False
    copied = None
    backups: list[str] = []  # the switches' and the copy's checkpoint backups, deleted once the drill is verified
    try:
        wait_restorable(target, table.name, restore_point, progress=say)
        restored = run_action(
            lambda: restore_table(target, table.name, authority=authority, at=restore_point, reapply=True, progress=say)
        )
        sections.append(action_section(restored))
        assert restored.outcome == COMPLETE, restored.message
        restored_name = restored.evidence["restored_table"]

        # 000 §6.5: the restored table is the data as it was; the source differs in exactly the corrupted keys.
        good = verify_against_snapshot(ddb, restored_name, snapshot)
        against_source = verify_tables(ddb, restored_name, table.name)
        sections += [
            "#### Restored table vs the snapshot before the fault\n",
            good.render(),
            "#### Restored table vs the corrupted source\n",
            against_source.render(),
        ]
        assert good.equal, good.line()
        assert against_source.differing_keys == {readable_key(_key_text(k, table)) for k in corrupted}, (
            against_source.line()
        )

        if table.functions:
            there = run_action(lambda: switch_table(target, table.name, restored_name, authority=authority))
            sections.append(action_section(there))
            backups += [b["backup_arn"] for b in there.evidence.get("backups", [])]
            assert there.outcome == COMPLETE, there.message
            switched = True
            assert all(tables_served(target)[fn] == restored_name for fn in table.functions)
            verify_checklist(
                "post-rollback",
                slugs=("lambda-alias-version", "health-endpoint"),
                resources=list(table.functions),
                phase="switched to the restored table",
            )
            back = run_action(lambda: switch_table(target, table.name, table.name, authority=authority))
            sections.append(action_section(back))
            backups += [b["backup_arn"] for b in back.evidence.get("backups", [])]
            assert back.outcome == COMPLETE, back.message
            switched = False
            assert all(tables_served(target)[fn] == table.name for fn in table.functions)

        copied = run_action(lambda: copy_back(target, table.name, source=restored_name, authority=authority))
        sections.append(action_section(copied))
        assert copied.outcome == COMPLETE, copied.message
        repaired = verify_against_snapshot(ddb, table.name, snapshot)
        sections += ["#### Original table after the copy back vs the snapshot\n", repaired.render()]
        assert repaired.equal, repaired.line()
    finally:
        if switched:
            switch_table(target, table.name, table.name, authority=authority)
        if restored_name:
            dropped = run_action(lambda: drop_table(target, restored_name, authority=authority))
            sections.append(action_section(dropped))
        for key in keys:
            ddb.delete_item(TableName=table.name, Key=key)
        if copied is not None and copied.outcome == COMPLETE:
            backups.append(copied.evidence["backup"]["backup_arn"])
        for arn in backups:
            ddb.delete_backup(BackupArn=arn)
        write_report(
            f"pitr-restore-{env.name}-{clock.now().astimezone(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.md",
            document(f"DynamoDB PITR restore of {table.name} (000 §6, 004)", target, sections),
        )
    verify_checklist(
        None,
        slugs=("dynamodb-pitr", "dynamodb-reads", "dynamodb-table-active"),
        resources=[table.name],
        phase="after the recovery",
    )


def _key_text(key: dict, table) -> str:
    from harness.data_verify import key_text

    names = (table.hash_key.name,) + ((table.range_key.name,) if table.range_key else ())
    return key_text(key, names)
