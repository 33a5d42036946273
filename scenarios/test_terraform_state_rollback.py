"""Terraform state rollback (000 §5.2, §5.3, §7.3), executed on the target and verified with the checklist.

1. restore the previous state version: backup, copy, the lock table's md5 Digest (000 §5.2.2 forgets it:
   seed defect 2); the ``terraform-state`` row passes; then the original content is restored again, so
   the read-only checklist in the same session sees the state as it was;
2. a stuck lock (as a crashed apply leaves it): listed with age, owner and operation, the
   ``terraform-state`` row FAILs; release refused without --force; released with --force, the lock's
   ID and a reason; the row passes again (000 §5.3);
3. the drill with real Terraform (the ``terraform`` extra): after the harness's restore
   ``plan -detailed-exitcode`` exits 0 with the good configuration and 2 with the bad one; the
   runbook's way depends on the backend's locking: with a DynamoDB lock table (bbws) the Digest is
   left stale and Terraform fails with its checksum error (seed defect 2); with S3 lockfile locking
   only (bbws-access: 002 names no lock table) Terraform keeps no Digest, the runbook's copy is
   enough and the plan exits 0 (the report says defect 2 does not apply).

    pytest scenarios/test_terraform_state_rollback.py --env sit                       # embedded rehearsal
    pytest scenarios/test_terraform_state_rollback.py --env sit --target aws --allow-mutation
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from harness.actions.base import COMPLETE, REFUSED
from harness.actions.terraform_locks import list_locks, unlock_state
from harness.actions.terraform_state import read_digest, read_version, restore_state
from harness.checks.catalogue import rows_for
from harness.checks.result import Verdict
from harness.checks.runner import run_row
from harness.drills.terraform_state import run_state_drill
from harness.recovery_report import action_section, document
from harness.terraform import unavailable

pytestmark = [pytest.mark.mutating]


@pytest.fixture
def state_key(env):
    """The first state key of the inventory (skip without a [terraform] section)."""
    if env.terraform is None or not env.terraform.state_keys:
        pytest.skip(f"{env.inventory}/{env.name} has no Terraform state in its inventory")
    return env.terraform.state_keys[0]


def _stamp(clock) -> str:
    return clock.now().astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def test_state_version_restore(target, env, clock, state_key, authority, run_action, verify_checklist, write_report):
    """000 §5.2.2: previous version restored with its Digest; terraform-state passes; original content restored
    again."""
    original = read_version(target, state_key)
    restored = run_action(lambda: restore_state(target, state_key, authority=authority, previous=True))
    if restored.outcome == REFUSED:  # e.g. a state with one version, or one a real operation holds locked
        pytest.skip(f"state restore not rehearsable here: {restored.message}")
    assert restored.outcome == COMPLETE, restored.message
    sections = [action_section(restored)]
    try:
        assert read_digest(target, state_key) in (None, restored.evidence["restored"]["md5"])
        verify_checklist(
            "post-rollback", slugs=restored.plan.verified_by, resources=[state_key], phase="after the state restore"
        )
    finally:
        # Leave the state as the session found it: the original content as the latest version, Digest matching.
        back = run_action(
            lambda: restore_state(
                target, state_key, authority=authority, version_id=restored.evidence["previous_version"]
            )
        )
        sections.append(action_section(back))
    assert back.outcome == COMPLETE, back.message
    assert read_version(target, state_key) == original
    verify_checklist(
        "post-rollback", slugs=("terraform-state",), resources=[state_key], phase="original state restored"
    )
    write_report(
        f"terraform-state-restore-{env.name}-{_stamp(clock)}.md",
        document("Terraform state restore (000 §5.2)", target, sections),
    )


def _leave_stuck_lock(target, key: str) -> str | None:
    """A lock as a crashed apply leaves it, older than lock_max_age_minutes; None when the state is really locked."""
    tf = target.env.terraform
    lock_id = str(uuid.uuid4())
    created = target.clock.now() - timedelta(minutes=tf.lock_max_age_minutes + 1)
    info = json.dumps(
        {
            "ID": lock_id,
            "Operation": "OperationTypeApply",
            "Info": "",
            "Who": "ci@crashed-runner",
            "Version": "1.15.5",
            "Created": created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "Path": f"{tf.state_bucket}/{key}",
        }
    )
    try:
        if tf.lock_table:
            target.client("dynamodb").put_item(
                TableName=tf.lock_table,
                Item={"LockID": {"S": f"{tf.state_bucket}/{key}"}, "Info": {"S": info}},
                ConditionExpression="attribute_not_exists(LockID)",
            )
        else:
            target.client("s3").put_object(
                Bucket=tf.state_bucket, Key=f"{key}.tflock", Body=info.encode(), IfNoneMatch="*"
            )
    except ClientError:
        return None  # a real operation holds the lock: never touch it
    return lock_id


def _row(checklist_context, slug: str, resource: str):
    """One checklist row on a fresh context (current state, "now" read again)."""
    ctx = checklist_context.fresh()
    planned = next(p for p in rows_for(ctx.env, None, (slug,)) if p.row.resource == resource)
    return run_row(ctx, planned)


def test_stuck_lock_release(
    target, env, clock, state_key, authority, run_action, verify_checklist, checklist_context, write_report
):
    """000 §5.3: a stuck lock is listed (age, owner, operation), refused without --force, released with --force, ID and
    reason."""
    lock_id = _leave_stuck_lock(target, state_key)
    if lock_id is None:
        pytest.skip(f"{state_key} is locked by a real operation: the drill does not touch it")
    released = None
    try:
        listed = [lk for lk in list_locks(target) if lk.key == state_key]
        assert listed and listed[0].lock_id == lock_id and listed[0].stuck, [lk.line() for lk in listed]
        assert listed[0].who == "ci@crashed-runner" and listed[0].age_minutes > env.terraform.lock_max_age_minutes
        # Detection: the row FAILs on the stuck lock (run here, not through verify_checklist: an expected FAIL is
        # the drill's detection step, not a finding for the run's verification report).
        detected = _row(checklist_context, "terraform-state", state_key)
        assert detected.verdict is Verdict.FAIL and "stuck lock" in detected.observed, detected.message()
        refused = run_action(lambda: unlock_state(target, state_key, lock_id=lock_id, force=False, authority=authority))
        assert refused.outcome == REFUSED and "--force" in refused.message
        reason = authority.reason or "game day: release the crashed apply's lock (000 §5.3)"
        released = run_action(
            lambda: unlock_state(
                target, state_key, lock_id=lock_id, force=True, authority=dataclasses.replace(authority, reason=reason)
            )
        )
        assert released.outcome == COMPLETE, released.message
        assert released.record is not None and released.record.reason == reason
    finally:
        if released is None or released.outcome != COMPLETE:  # never leave the drill's lock behind
            tf = env.terraform
            if tf.lock_table:
                target.client("dynamodb").delete_item(
                    TableName=tf.lock_table, Key={"LockID": {"S": f"{tf.state_bucket}/{state_key}"}}
                )
            else:
                target.client("s3").delete_object(Bucket=tf.state_bucket, Key=f"{state_key}.tflock")
    verify_checklist("post-rollback", slugs=("terraform-state",), resources=[state_key], phase="lock released")
    sections = [
        f"Stuck lock: `{listed[0].line()}`\n\nDetected by `terraform-state`: {detected.verdict.value.upper()} — "
        f"{detected.observed}\n",
        action_section(refused),
        action_section(released),
    ]
    write_report(
        f"terraform-state-unlock-{env.name}-{_stamp(clock)}.md",
        document("Terraform state lock release (000 §5.3)", target, sections),
    )


@pytest.mark.parametrize("mode", ["harness", "runbook"])
def test_terraform_drill(target, env, clock, state_key, authority, mode, write_report):
    """Real Terraform: the harness's restore leaves plans at exit 0 / 2. The runbook's copy: with a DynamoDB lock table
    its
    stale Digest makes plans fail (seed defect 2); with lockfile locking only there is no Digest and the plan exits
    0."""
    missing = unavailable()
    if missing:
        pytest.skip(missing)
    report = run_state_drill(target, authority=authority, mode=mode)
    write_report(
        f"terraform-drill-{mode}-{env.name}-{_stamp(clock)}.md",
        document(f"Terraform state drill ({mode})", target, [report.render()]),
    )
    assert report.ok, report.render()
    assert report.lockfile == (not env.terraform.lock_table), report.render()
    if mode == "runbook":
        after = report.plans["plan good config after the runbook's restore"]
        if report.lockfile:  # no lock table, no Digest: the copy is enough, and the report says defect 2 does not apply
            assert after.exit_code == 0 and "does not apply" in report.render(), report.render()
        else:  # seed defect 2: the Digest left stale, Terraform refuses the state
            assert after.exit_code == 1 and after.checksum_mismatch, report.render()
