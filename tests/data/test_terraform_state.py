"""Terraform state version restore (000 §5.2): byte-exact restore, backup, no version deleted, md5 Digest."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest

from harness.actions import Authority
from harness.actions.base import COMPLETE, FAILED, REFUSED
from harness.actions.terraform_state import (
    backup_key,
    choose_version,
    list_versions,
    plan_state_restore,
    read_digest,
    read_version,
    restore_state,
    summarize_state,
)
from harness.checks.catalogue import rows_for
from harness.checks.context import CheckContext
from harness.checks.runner import run_row
from harness.clock import FixedClock
from harness.records import read_records
from harness.tf_state_format import parse_state
from tests.data.conftest import ALLOW, Kept, start_lean, world

pytestmark = pytest.mark.xdist_group("data-terraform_state")


@pytest.fixture(scope="module")
def rehearsal():
    """A seeded bbws/sit rehearsal on a fresh account and a FixedClock: three state versions per key."""
    t = start_lean(clock=FixedClock(datetime.now(timezone.utc).replace(microsecond=0)))
    yield t
    t.close()


def _terraform_row(target, key: str):
    ctx = CheckContext.for_target(target)
    return run_row(ctx, next(p for p in rows_for(target.env, None, ("terraform-state",)) if p.row.resource == key))


def test_restoring_a_makes_latest_a_byte_for_byte(rehearsal) -> None:
    """Versions A, B, C: restoring A makes the latest equal A, backs C up, deletes no version, Digest = md5(A)."""
    target = rehearsal
    key = target.env.terraform.state_keys[0]
    bucket = target.env.terraform.state_bucket
    versions, _ = list_versions(target, key)
    c, b, a = versions[:3]
    body_a, body_c = read_version(target, key, a.version_id), read_version(target, key, c.version_id)
    assert c.is_latest and body_a != body_c

    result = restore_state(target, key, authority=ALLOW, version_id=a.version_id)

    assert result.outcome == COMPLETE, result.message
    assert read_version(target, key) == body_a
    after, _ = list_versions(target, key)
    assert {v.version_id for v in versions} <= {v.version_id for v in after} and len(after) == len(versions) + 1
    backup = result.evidence["backup_key"]
    assert backup == backup_key(key, target.clock.now())
    assert target.client("s3").get_object(Bucket=bucket, Key=backup)["Body"].read() == body_c
    assert read_digest(target, key) == hashlib.md5(body_a).hexdigest()
    assert "seed defect 2" in result.message and "Digest" in result.message
    record = result.record
    assert record is not None and record.status == COMPLETE and record.resource == f"s3://{bucket}/{key}"
    assert (record.from_version, record.to_version) == (c.version_id, a.version_id)
    assert _terraform_row(target, key).verdict.value == "pass"


def test_choose_previous_and_by_time() -> None:
    """'previous' is the version before the current latest; by time, the newest at or before it."""
    from harness.actions.terraform_state import StateVersion

    t0 = datetime(2026, 1, 25, 10, tzinfo=timezone.utc)
    vs = [
        StateVersion("c", t0 + timedelta(minutes=2), True, 1, ""),
        StateVersion("b", t0 + timedelta(minutes=1), False, 1, ""),
        StateVersion("a", t0, False, 1, ""),
    ]
    assert choose_version(vs, previous=True).version_id == "b"
    assert choose_version(vs, at=t0 + timedelta(seconds=90)).version_id == "b"
    assert choose_version(vs, version_id="a").version_id == "a"
    with pytest.raises(ValueError, match="no version written at or before"):
        choose_version(vs, at=t0 - timedelta(seconds=1))
    with pytest.raises(ValueError, match="exactly one"):
        choose_version(vs, previous=True, version_id="a")


def test_state_summary_lists_what_is_wrong() -> None:
    """The restored state is validated: parses, serial, lineage, resources."""
    assert summarize_state(b"{not json").problem.startswith("not JSON")
    assert "serial" in summarize_state(b'{"version": 4, "serial": true, "lineage": "x", "resources": []}').problem
    ok = summarize_state(
        b'{"version": 4, "serial": 7, "lineage": "l", "resources": [{"type": "t", "name": "n", "module": "module.m"}]}'
    )
    assert ok.problem is None and ok.serial == 7 and ok.resources == ("module.m.t.n",)


@pytest.mark.parametrize(
    "body, named",
    [
        (b'{"version": "4", "serial": 1, "lineage": "l", "resources": []}', 'version="4"'),
        (b'{"version": null, "serial": 1, "lineage": "l", "resources": []}', "version=null"),
        (b'{"version": 4, "serial": 1, "lineage": "l"}', "format 4 state without a resources list"),
        (b'{"version": 4, "serial": 1, "lineage": "l", "resources": 5}', "format 4 state without a resources list"),
        (b'{"version": 3, "serial": 1, "lineage": "l", "resources": 5}', None),  # format 3 needs no resources list
        (b"\x80\xff not text", "not JSON"),
        (b"[1, 2]", "JSON list, not a state document"),
    ],
    ids=["version-string", "version-null", "no-resources", "resources-number", "format-3", "not-utf8", "json-list"],
)
def test_the_action_and_the_check_share_one_validator(body: bytes, named: str | None) -> None:
    """summarize_state never raises on a state's content and names exactly the terraform-state check's problem."""
    summary = summarize_state(body)
    assert summary.problem == parse_state(body)[1]
    if named is None:
        assert summary.problem is None and summary.resources == ()
    else:
        assert named in summary.problem and "\n" not in summary.line()


def test_refusals_change_nothing(rehearsal) -> None:
    """Unknown key, unknown version, already latest, bad body, other lineage, no permission, no approvals: nothing
    changes."""
    target = rehearsal
    tf = target.env.terraform
    key = tf.state_keys[1]
    s3 = target.client("s3")
    versions, _ = list_versions(target, key)
    # a version that is not a state, and one of another lineage, written below the latest and then hidden again
    s3.put_object(Bucket=tf.state_bucket, Key=key, Body=b"garbage")
    junk = list_versions(target, key)[0][0].version_id
    foreign = b'{"version": 4, "serial": 1, "lineage": "someone-else", "resources": []}'
    s3.put_object(Bucket=tf.state_bucket, Key=key, Body=foreign)
    other = list_versions(target, key)[0][0].version_id
    s3.copy_object(
        Bucket=tf.state_bucket,
        Key=key,
        CopySource={"Bucket": tf.state_bucket, "Key": key, "VersionId": versions[0].version_id},
    )
    target.client("dynamodb").put_item(
        TableName=tf.lock_table,
        Item={
            "LockID": {"S": f"{tf.state_bucket}/{key}-md5"},
            "Digest": {"S": hashlib.md5(read_version(target, key)).hexdigest()},
        },
    )
    latest = list_versions(target, key)[0][0].version_id
    before = world(target)
    cases = {
        "is not a state key": dict(key="nope.tfstate", previous=True),
        "no version 'missing'": dict(key=key, version_id="missing"),
        "already the latest": dict(key=key, version_id=latest),
        "not a valid state": dict(key=key, version_id=junk),
        "lineage someone-else": dict(key=key, version_id=other),
    }
    for expected, kwargs in cases.items():
        result = restore_state(target, authority=ALLOW, **kwargs)
        assert result.outcome == REFUSED and expected in result.message, (expected, result.message)
    kept = restore_state(Kept(target), key, authority=ALLOW, previous=True)
    assert kept.outcome == REFUSED and "--allow-mutation" in kept.message
    prod = restore_state(Kept(target, protected=True), key, authority=Authority(allow_mutation=True), previous=True)
    assert prod.outcome == REFUSED and "distinct approvers" in prod.message
    assert world(target) == before


@pytest.mark.parametrize("version, named", [("4", 'version="4"'), (None, "version=null")], ids=["string", "null"])
def test_a_mistyped_format_version_is_refused_not_a_crash(rehearsal, version, named: str) -> None:
    """A chosen version whose "version" is "4" or null: the plan REFUSES in one line naming it (no TypeError); nothing
    changes."""
    target = rehearsal
    tf = target.env.terraform
    key = tf.state_keys[1]
    s3 = target.client("s3")
    latest = list_versions(target, key)[0][0]
    current = json.loads(read_version(target, key))
    s3.put_object(Bucket=tf.state_bucket, Key=key, Body=json.dumps({**current, "version": version}).encode())
    mistyped = list_versions(target, key)[0][0].version_id
    # hidden again below a byte copy of the previous latest; the Digest follows, so only the chosen version is wrong
    s3.copy_object(
        Bucket=tf.state_bucket,
        Key=key,
        CopySource={"Bucket": tf.state_bucket, "Key": key, "VersionId": latest.version_id},
    )
    target.client("dynamodb").put_item(
        TableName=tf.lock_table,
        Item={
            "LockID": {"S": f"{tf.state_bucket}/{key}-md5"},
            "Digest": {"S": hashlib.md5(read_version(target, key)).hexdigest()},
        },
    )
    before = world(target)

    plan = plan_state_restore(target, key, authority=ALLOW, version_id=mistyped)
    result = restore_state(target, key, authority=ALLOW, version_id=mistyped)

    for refused in (plan.refusal, result.message):
        assert refused and named in refused and "not a valid state" in refused and "\n" not in refused, refused
    assert plan.refused and not plan.changes and result.outcome == REFUSED
    assert world(target) == before


def test_a_failed_digest_write_puts_the_state_back(rehearsal) -> None:
    """Digest write fails after the copy: the previous version is copied back, the record is FAILED, the row still
    passes."""
    target = rehearsal
    key = target.env.terraform.state_keys[2]
    original = read_version(target, key)
    ddb = target.client("dynamodb")

    def fail_digest(params, **_):
        if "Digest" in params.get("Item", {}):
            raise RuntimeError("injected: DynamoDB unavailable")

    ddb.meta.events.register("provide-client-params.dynamodb.PutItem", fail_digest)
    try:
        with pytest.raises(RuntimeError, match="injected"):
            restore_state(target, key, authority=ALLOW, previous=True)
    finally:
        ddb.meta.events.unregister("provide-client-params.dynamodb.PutItem", fail_digest)
    assert read_version(target, key) == original
    assert read_digest(target, key) == hashlib.md5(original).hexdigest()
    [record] = [r for r in read_records(ddb, target.env) if r.action == "state-restore" and r.resource.endswith(key)]
    assert record.status == FAILED
    assert all(r.status in (COMPLETE, FAILED) for r in read_records(ddb, target.env) if r.resource)
    assert _terraform_row(target, key).verdict.value == "pass"


def test_plan_reads_only(rehearsal) -> None:
    """A plan (and a dry run) changes nothing and lists backup, copy and Digest."""
    target = rehearsal
    key = target.env.terraform.state_keys[0]
    before = world(target)
    plan = plan_state_restore(target, key, authority=ALLOW, previous=True)
    dry = restore_state(target, key, authority=ALLOW, previous=True, dry_run=True)
    assert world(target) == before
    assert [c.attribute for c in plan.changes] == ["object", "latest version", "Digest"]
    assert dry.outcome == "DRY_RUN"
