"""Terraform state locks (000 §5.3): listed with age, owner and operation; released only with --force, ID and reason."""

from __future__ import annotations

import dataclasses
import json
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest

from harness.actions import Authority
from harness.actions.base import COMPLETE, REFUSED
from harness.actions.terraform_locks import LOCKFILE_SUFFIX, list_locks, lock_on, unlock_state
from harness.actions.terraform_state import restore_state
from harness.clock import FixedClock
from harness.faults.base import FaultRefused
from harness.faults.terraform import crashed_lock
from tests.data.conftest import ALLOW, Kept, start_lean, world

REASON = ALLOW

pytestmark = pytest.mark.xdist_group("data-terraform_state_locks")


@pytest.fixture(scope="module")
def rehearsal():
    """A seeded bbws/sit rehearsal on a fresh account and a FixedClock."""
    t = start_lean(clock=FixedClock(datetime.now(timezone.utc).replace(microsecond=0)))
    yield t
    t.close()


def _info(target, key: str, lock_id: str, minutes_old: float) -> str:
    tf = target.env.terraform
    created = target.clock.now() - timedelta(minutes=minutes_old)
    return json.dumps(
        {
            "ID": lock_id,
            "Operation": "OperationTypeApply",
            "Info": "",
            "Who": "alice@ci-runner-7",
            "Version": "1.15.5",
            "Created": created.strftime("%Y-%m-%dT%H:%M:%S.123456789Z"),
            "Path": f"{tf.state_bucket}/{key}",
        }
    )


def _lock_item(target, key: str, lock_id: str, minutes_old: float) -> None:
    tf = target.env.terraform
    target.client("dynamodb").put_item(
        TableName=tf.lock_table,
        Item={"LockID": {"S": f"{tf.state_bucket}/{key}"}, "Info": {"S": _info(target, key, lock_id, minutes_old)}},
    )


def test_stuck_lock_is_reported_and_never_released_without_the_flag(rehearsal) -> None:
    """A 90-minute-old lock: age, owner, operation listed; every release without --force/ID/reason refused; nothing
    changes."""
    target = rehearsal
    key = target.env.terraform.state_keys[0]
    _lock_item(target, key, "lock-1", 90)
    [lock] = [lk for lk in list_locks(target) if lk.key == key]
    assert (lock.kind, lock.lock_id, lock.who, lock.operation) == (
        "dynamodb",
        "lock-1",
        "alice@ci-runner-7",
        "OperationTypeApply",
    )
    assert lock.stuck and round(lock.age_minutes) == 90 and "STUCK" in lock.line() and "90 min old" in lock.line()
    before = world(target)
    refusals = {
        "--force": dict(lock_id="lock-1", force=False, authority=REASON),
        "give its ID": dict(lock_id="other", force=True, authority=REASON),
        "needs a --reason": dict(lock_id="lock-1", force=True, authority=Authority()),
    }
    for expected, kwargs in refusals.items():
        result = unlock_state(target, key, **kwargs)
        assert result.outcome == REFUSED and expected in result.message, (expected, result.message)
    kept = unlock_state(Kept(target), key, lock_id="lock-1", force=True, authority=REASON)
    assert kept.outcome == REFUSED and "--allow-mutation" in kept.message
    restore = restore_state(target, key, authority=REASON, previous=True)
    assert restore.outcome == REFUSED and "locked" in restore.message
    assert world(target) == before

    released = unlock_state(target, key, lock_id="lock-1", force=True, authority=REASON)
    assert released.outcome == COMPLETE, released.message
    assert not [lk for lk in list_locks(target) if lk.key == key]
    record = released.record
    assert record.status == COMPLETE and record.reason == REASON.reason and record.from_version == "lock-1"
    assert record.extra["lock_who"] == "alice@ci-runner-7" and record.extra["lock_age_minutes"] == 90.0


def test_a_fresh_lock_is_a_running_operation(rehearsal) -> None:
    """A lock younger than terraform.lock_max_age_minutes is not stuck and not released even with --force."""
    target = rehearsal
    key = target.env.terraform.state_keys[1]
    _lock_item(target, key, "lock-2", 5)
    try:
        [lock] = [lk for lk in list_locks(target) if lk.key == key]
        assert not lock.stuck and round(lock.age_minutes) == 5
        result = unlock_state(target, key, lock_id="lock-2", force=True, authority=REASON)
        assert result.outcome == REFUSED and "probably a running operation" in result.message
    finally:
        tf = target.env.terraform
        target.client("dynamodb").delete_item(
            TableName=tf.lock_table, Key={"LockID": {"S": f"{tf.state_bucket}/{key}"}}
        )


def test_lockfile_locks_are_listed_and_released(rehearsal) -> None:
    """S3-native <key>.tflock (use_lockfile): listed with the same fields, released with --force, ID and reason."""
    target = rehearsal
    tf = target.env.terraform
    key = tf.state_keys[2]
    target.client("s3").put_object(
        Bucket=tf.state_bucket, Key=f"{key}{LOCKFILE_SUFFIX}", Body=_info(target, key, "lock-3", 120).encode()
    )
    [lock] = [lk for lk in list_locks(target) if lk.key == key]
    assert (lock.kind, lock.lock_id, lock.who, lock.stuck) == ("lockfile", "lock-3", "alice@ci-runner-7", True)
    assert unlock_state(target, key, lock_id="lock-3", force=False, authority=REASON).outcome == REFUSED
    assert unlock_state(target, key, lock_id="lock-3", force=True, authority=REASON).outcome == COMPLETE
    assert not [lk for lk in list_locks(target) if lk.key == key]


def test_digest_items_are_not_locks(rehearsal) -> None:
    """The <bucket>/<key>-md5 Digest items in the lock table are never listed as locks."""
    assert all(not lk.where.endswith("-md5") for lk in list_locks(rehearsal))


@contextmanager
def _api_calls(target) -> Iterator[list[tuple[str, str, dict]]]:
    """Every API call the target makes inside the block: (service, operation, params)."""
    calls: list[tuple[str, str, dict]] = []

    def record(service: str, op: str, params: dict) -> None:
        calls.append((service, op, params))

    target.add_call_listener(record)
    try:
        yield calls
    finally:
        target.remove_call_listener(record)


def test_lock_on_reads_one_item_and_one_lockfile(rehearsal) -> None:
    """lock_on(key): one consistent GetItem on <bucket>/<key> and one GetObject of <key>.tflock; no scan, no listing.
    The DynamoDB lock wins over a lockfile, and each is the lock list_locks reports for that key."""
    target = rehearsal
    tf = target.env.terraform
    key = tf.state_keys[1]
    lockfile = f"{key}{LOCKFILE_SUFFIX}"
    with _api_calls(target) as calls:
        assert lock_on(target, key) is None
    assert [(s, op) for s, op, _ in calls] == [("dynamodb", "GetItem"), ("s3", "GetObject")]
    get_item = json.loads(calls[0][2]["body"])  # the listener sees the serialized request
    assert get_item == {
        "TableName": tf.lock_table,
        "Key": {"LockID": {"S": f"{tf.state_bucket}/{key}"}},
        "ConsistentRead": True,
    }
    assert calls[1][2]["url"].endswith(f"/{lockfile}") and tf.state_bucket in calls[1][2]["url"]

    s3 = target.client("s3")
    s3.put_object(Bucket=tf.state_bucket, Key=lockfile, Body=_info(target, key, "lock-file", 120).encode())
    try:
        lock = lock_on(target, key)
        assert lock == next(lk for lk in list_locks(target) if lk.key == key)
        assert (lock.kind, lock.lock_id, lock.stuck, lock.where) == (
            "lockfile",
            "lock-file",
            True,
            f"s3://{tf.state_bucket}/{lockfile}",
        )
        _lock_item(target, key, "lock-item", 90)
        with _api_calls(target) as calls:
            lock = lock_on(target, key)
        assert [op for _, op, _ in calls] == ["GetItem"]  # the item answers: the lockfile is not read
        assert lock == [lk for lk in list_locks(target) if lk.key == key][0]
        assert (lock.kind, lock.lock_id, lock.who, round(lock.age_minutes)) == (
            "dynamodb",
            "lock-item",
            "alice@ci-runner-7",
            90,
        )
    finally:
        s3.delete_object(Bucket=tf.state_bucket, Key=lockfile)
        target.client("dynamodb").delete_item(
            TableName=tf.lock_table, Key={"LockID": {"S": f"{tf.state_bucket}/{key}"}}
        )
    assert lock_on(target, key) is None


@pytest.mark.parametrize("lockfile", [False, True], ids=["lock-table", "use_lockfile"])
def test_a_crashed_lock_is_terraform_lock_info_and_never_overwrites(rehearsal, lockfile: bool) -> None:
    """crashed_lock (the stuck-lock fault's and the state drill's writer): Terraform's LockInfo from lock_info, Who
    verbatim, one minute past lock_max_age_minutes; a second one is refused and the first lock stays as it was."""
    target = (
        rehearsal
        if not lockfile
        else Kept(rehearsal, terraform=dataclasses.replace(rehearsal.env.terraform, lock_table=None))
    )
    tf = target.env.terraform
    key = tf.state_keys[2]
    written = crashed_lock(target, key, who="ci@crashed-runner")
    try:
        info = json.loads(written.info)
        assert set(info) == {"ID", "Operation", "Info", "Who", "Version", "Created", "Path"}
        assert (info["ID"], info["Who"], info["Operation"], info["Path"]) == (
            written.lock_id,
            "ci@crashed-runner",
            "OperationTypeApply",
            f"{tf.state_bucket}/{key}",
        )
        lock = lock_on(target, key)
        assert (lock.kind, lock.lock_id, lock.who, lock.info) == (
            "lockfile" if lockfile else "dynamodb",
            written.lock_id,
            "ci@crashed-runner",
            written.info,
        )
        assert lock.stuck and round(lock.age_minutes) == tf.lock_max_age_minutes + 1 and lock.where == written.where
        with pytest.raises(FaultRefused, match="a lock is held already"):
            crashed_lock(target, key)
        assert lock_on(target, key) == lock
    finally:
        if lockfile:
            target.client("s3").delete_object(Bucket=tf.state_bucket, Key=f"{key}{LOCKFILE_SUFFIX}")
        else:
            target.client("dynamodb").delete_item(
                TableName=tf.lock_table, Key={"LockID": {"S": f"{tf.state_bucket}/{key}"}}
            )
    assert lock_on(target, key) is None
