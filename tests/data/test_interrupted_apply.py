"""A stop request (SIGINT/SIGTERM or a lost lease, harness/actions/interrupt.py) during copy-back and state restore,
on the embedded target: nothing new starts, what is in flight finishes, the real state is read back into the
result (INTERRUPTED) and the record (FAILED); the counts are what a scan shows, never the plan's."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from harness.actions.base import COMPLETE
from harness.actions.copy_back import apply_copy_back, plan_copy_back
from harness.actions.terraform_state import apply_state_restore, list_versions, plan_state_restore, read_digest
from harness.clock import FixedClock
from harness.outcome import Outcome
from harness.records import IN_PROGRESS, read_records
from tests.data.conftest import ALLOW, start_lean

TABLE, SOURCE, ITEMS = "tenants-sit", "tenants-sit-bulk", 200
KEY = "tenants/tenant-001/terraform.tfstate"


@pytest.fixture
def rehearsal():
    """bbws/sit tables, their writer functions and Terraform state, on a fresh account and a FixedClock."""
    t = start_lean(functions=True, clock=FixedClock(datetime.now(timezone.utc).replace(microsecond=0)))
    yield t
    t.close()


def _bulk_source(target) -> None:  # noqa: ANN001
    ddb = target.client("dynamodb")
    ddb.create_table(
        TableName=SOURCE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    rows = [{"id": {"S": f"bulk-{i:04d}"}, "n": {"N": str(i)}} for i in range(ITEMS)]
    for i in range(0, ITEMS, 25):
        ddb.batch_write_item(RequestItems={SOURCE: [{"PutRequest": {"Item": r}} for r in rows[i : i + 25]]})


def _after_calls(target, operation: str, n: int) -> list[str | None]:  # noqa: ANN001
    """A stop request raised once ``operation`` has been sent ``n`` times (a signal landing mid-batch)."""
    stop: list[str | None] = [None]
    sent = [0]

    def count(**_: object) -> None:
        sent[0] += 1
        if sent[0] >= n:
            stop[0] = "SIGINT"

    target.client("dynamodb" if operation == "BatchWriteItem" else "s3").meta.events.register(
        f"before-call.*.{operation}", count
    )
    return stop


def _ids(target) -> set[str]:  # noqa: ANN001
    ddb = target.client("dynamodb")
    return {i["id"]["S"] for p in ddb.get_paginator("scan").paginate(TableName=TABLE) for i in p["Items"]}


def test_copy_back_stopped_after_two_batches_counts_what_the_table_holds(rehearsal) -> None:
    target = rehearsal
    _bulk_source(target)
    lam = target.client("lambda")
    writers = target.env.table(TABLE).functions
    before = {fn: lam.get_function_concurrency(FunctionName=fn).get("ReservedConcurrentExecutions") for fn in writers}
    seeded = len(_ids(target))
    plan = plan_copy_back(target, TABLE, source=SOURCE, authority=ALLOW, allow_shrink=True)
    assert not plan.refused, plan.refusal
    stop = _after_calls(target, "BatchWriteItem", 2)
    result = apply_copy_back(target, plan, should_stop=lambda: stop[0])
    ids = _ids(target)
    put, kept = sum(1 for i in ids if i.startswith("bulk-")), sum(1 for i in ids if not i.startswith("bulk-"))
    assert put == 50 and kept == seeded  # the batch in flight finished; no third one started; no delete
    counts = f"{put} of {ITEMS} put; 0 of {seeded} deleted; {ITEMS - put + seeded} not started"
    assert result.outcome == Outcome.INTERRUPTED and result.message.startswith(f"INTERRUPTED (SIGINT): {counts}")
    assert "checkpoint backup" in result.message  # the way back is still named
    record = next(r for r in read_records(target.client("dynamodb"), target.env) if r.action == "copy-back")
    assert record.status == "FAILED" and record.status != IN_PROGRESS
    assert (int(record.extra["items_put"]), int(record.extra["items_not_started"])) == (put, ITEMS - put + seeded)
    assert {
        fn: lam.get_function_concurrency(FunctionName=fn).get("ReservedConcurrentExecutions") for fn in writers
    } == (before)


def test_copy_back_stopped_before_the_freeze_copies_nothing(rehearsal) -> None:
    target = rehearsal
    _bulk_source(target)
    seeded = _ids(target)
    plan = plan_copy_back(target, TABLE, source=SOURCE, authority=ALLOW, allow_shrink=True)
    result = apply_copy_back(target, plan, should_stop=lambda: "SIGTERM")
    assert _ids(target) == seeded
    assert result.message.startswith(f"INTERRUPTED (SIGTERM): 0 of {ITEMS} put; 0 of {len(seeded)} deleted")
    assert not [c for c in result.applied if c[1].attribute == "ReservedConcurrentExecutions"]  # never frozen


def test_copy_back_without_a_stop_request_is_complete(rehearsal) -> None:
    target = rehearsal
    _bulk_source(target)
    plan = plan_copy_back(target, TABLE, source=SOURCE, authority=ALLOW, allow_shrink=True)
    result = apply_copy_back(target, plan, should_stop=lambda: None)
    assert result.outcome == COMPLETE and f"({ITEMS} put, " in result.message, result.message
    assert _ids(target) == {f"bulk-{i:04d}" for i in range(ITEMS)}


def test_state_restore_stopped_before_the_write_writes_nothing_and_reads_back(rehearsal) -> None:
    target = rehearsal
    plan = plan_state_restore(target, KEY, authority=ALLOW, previous=True)
    versions_before, digest_before = list_versions(target, KEY), read_digest(target, KEY)
    result = apply_state_restore(target, plan, should_stop=lambda: "SIGINT")
    assert list_versions(target, KEY) == versions_before and read_digest(target, KEY) == digest_before
    latest = next(v for v in versions_before[0] if v.is_latest)
    assert result.outcome == Outcome.INTERRUPTED
    assert result.message.startswith("INTERRUPTED (SIGINT): 0 of 1 restored; 1 not started; read back: ")
    assert f"latest version {latest.version_id}" in result.message and f"Digest {digest_before}" in result.message
    record = next(r for r in read_records(target.client("dynamodb"), target.env) if r.action == "state-restore")
    assert record.status == "FAILED" and record.extra["latest_version"] == latest.version_id


def test_state_restore_a_stop_during_the_write_lets_the_step_finish(rehearsal) -> None:
    """The signal lands after the backup copy: the copy and the Digest still follow (one step), COMPLETE."""
    target = rehearsal
    plan = plan_state_restore(target, KEY, authority=ALLOW, previous=True)
    stop = _after_calls(target, "CopyObject", 1)
    result = apply_state_restore(target, plan, should_stop=lambda: stop[0])
    assert stop[0] == "SIGINT" and result.outcome == COMPLETE, result.message
    assert read_digest(target, KEY) == plan.spec.restored.md5  # the Digest matches the restored state
