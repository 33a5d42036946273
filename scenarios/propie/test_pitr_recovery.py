"""004 Database Rollback Procedures, DynamoDB Rollback: restore the table to a new ``<table>-recovery`` table at
the latest restorable time with the SSE override, verify the restored data, swap the application's table
variable to it — with the Terraform/PITR actions (harness/actions/pitr.py, table_switch.py, harness/data_verify.py).

004 says "identify the rollback point" and then restores ``--use-latest-restorable-time``: that is only the
point before the damage when the damage is younger than the restore lag (AWS: LatestRestorableDateTime is
"typically 5 minutes before the current time"). The rehearsal stages exactly that case — the data was good
until a moment ago — and the report says so. Afterwards the application is switched back and the recovery
table dropped, so the rehearsal ends as it began.

    pytest scenarios/propie/test_pitr_recovery.py --inventory propie --env production
"""

import uuid

import pytest

from harness.actions.base import COMPLETE, Event
from harness.actions.pitr import drop_table, restore_table, wait_restorable
from harness.actions.table_switch import switch_table, tables_served
from harness.checks.result import Verdict
from harness.data_verify import table_digests, verify_against_snapshot, verify_tables

pytestmark = [pytest.mark.mutating]
ITEMS, DAMAGED = 6, 3


def test_restore_latest_to_recovery_table_verify_and_swap(
    env, target, clock, require, propie_authority, run_action, verify_checklist, incident_report
):
    """Good data, then damage younger than the restore lag -> restore latest into -recovery (SSE) -> verified -> swap ->
    back."""
    require("pitr-restore", "lambda-invoke")
    table = next(t for t in env.tables if t.pitr == "required" and t.functions)
    ddb = target.client("dynamodb")
    run = uuid.uuid4().hex[:8]
    keys = [{table.hash_key.name: {"S": f"harness-004-{run}-{i}"}} for i in range(ITEMS)]
    for key in keys:
        ddb.put_item(TableName=table.name, Item={**key, "status": {"S": "GOOD"}})
    snapshot = table_digests(ddb, table.name, taken_at=clock.now())
    wait_restorable(target, table.name, clock.now())  # the good data is restorable (the lag has passed)
    verify_checklist(None, slugs=("dynamodb-pitr",), resources=[table.name], phase="prerequisites")
    timeline = [Event(clock.now(), f"{table.name}: {len(snapshot)} items known good, restorable")]
    for key in keys[:DAMAGED]:
        ddb.put_item(TableName=table.name, Item={**key, "status": {"S": "CORRUPTED"}})
    detected_at = clock.now()
    timeline.append(Event(detected_at, f"damage: {DAMAGED} items overwritten (younger than the restore lag)"))

    recovery = switched = None
    try:
        restored = run_action(
            lambda: restore_table(target, table.name, authority=propie_authority)
        )  # no time: the latest restorable
        assert restored.outcome == COMPLETE, restored.message
        recovery = restored.evidence["restored_table"]
        assert recovery == f"{table.name}{table.restore_suffix}" and restored.evidence["sse"] is True
        assert ddb.describe_table(TableName=recovery)["Table"]["SSEDescription"]["Status"] in ("ENABLED", "ENABLING")
        good = verify_against_snapshot(ddb, recovery, snapshot)
        assert good.equal, good.line()
        against = verify_tables(ddb, recovery, table.name)
        assert len(against.differing_keys) == DAMAGED, against.line()
        timeline += [
            *restored.timeline,
            Event(clock.now(), f"verified: {recovery} equals the data before the damage ({good.line()})"),
        ]

        swap = run_action(lambda: switch_table(target, table.name, recovery, authority=propie_authority))
        assert swap.outcome == COMPLETE, swap.message
        switched = True
        assert all(tables_served(target)[fn] == recovery for fn in table.functions)
        timeline += swap.timeline
        verified = verify_checklist(
            "post-rollback",
            slugs=("lambda-alias-version", "health-endpoint"),
            resources=list(table.functions),
            phase="application on the recovery table",
        )
        assert all(r.verdict is not Verdict.FAIL for r in verified)
    finally:
        if switched:
            back = switch_table(target, table.name, table.name, authority=propie_authority)
            assert back.outcome == COMPLETE, back.message
        if recovery:
            assert drop_table(target, recovery, authority=propie_authority).outcome == COMPLETE
        for key in keys:
            ddb.delete_item(TableName=table.name, Key=key)
    incident_report(
        "dynamodb-recovery",
        swap,
        fault=timeline,
        verified=verified,
        detected=detected_at,
        root_cause=f"{DAMAGED} items of {table.name} overwritten (rehearsal fault)",
        affected=[
            (f"DynamoDB {table.name}", True),
            (f"Amplify {env.amplify.domain}", False),
            (f"CloudFormation {env.cfn_stacks[0]}", False),
        ],
        changes=[
            {
                "function": fn,
                "from": table.name,
                "to": recovery,
                "final": f"{recovery} (then switched back and dropped: rehearsal cleanup)",
                "health": "-",
                "outcome": swap.outcome,
            }
            for fn in table.functions
        ],
        extra=[
            "004 restores --use-latest-restorable-time: that is the point before the damage only when the damage is "
            "younger than the "
            "restore lag (about 5 minutes); for older damage restore at the rollback point (harness restore-table "
            "--at)",
            *restored.plan.notes,
        ],
    )
