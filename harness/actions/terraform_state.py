"""Terraform state version restore (000 §5.2): list versions, choose one, back up, restore, fix the Digest.

000 §5.2.1 lists the state object's S3 versions; §5.2.2 downloads one, backs the current state up to
``<key>.backup-<ts>`` and copies the old one over the key. What the harness adds, and why:

- the copy is server-side from the chosen *version* (``CopySource.VersionId``): a new latest version
  byte-identical to the chosen one; no version is ever deleted, so the restore itself is undoable;
- the lock table's ``<bucket>/<key>-md5`` Digest item is set to the restored bytes' md5. 000 §5.2.2
  forgets it (seed defect 2): Terraform's S3 backend compares that Digest with the state it reads and
  every later plan fails with "state data in S3 does not have the expected content";
- the chosen version is validated before anything is written (parses as Terraform state, same
  lineage as the current one, its serial and resources listed) and the state is locked while written
  (Terraform's own lock, so no apply writes in between); a state locked by someone else is refused;
- "previous" is the version before the current latest (not the second-newest by some other order),
  and a version can also be chosen by time (the newest written at or before it).

The plan names the current and the chosen versions with their md5 digests, sizes and serials, the
Digest before and after, the backup copy's key and the command that undoes the restore (in the
record and the report too). Reading versions: harness.actions.terraform_versions (re-exported here).

Interrupted (000 §8): a stop request (SIGINT/SIGTERM or a lost lease, harness/actions/interrupt.py) seen before
the write begins writes nothing; once begun, the backup, the copy and the Digest are one step and finish (a copy
without its Digest would leave every later plan failing). The state is then read back (latest version, its md5,
the Digest) into the result (INTERRUPTED) and the record (FAILED).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Callable

from harness.actions.audit_record import audit, plan_authority
from harness.actions.base import COMPLETE, ActionResult, Change, Plan, execute
from harness.actions.guards import Authority
from harness.actions.interrupt import tally
from harness.actions.terraform_locks import holding_lock, lock_on, state_plan, terraform_of
from harness.actions.terraform_versions import (
    BACKUP_INFIX,
    BACKUP_STAMP,
    StateSummary,
    StateVersion,
    backup_key,
    choose_version,
    digest_item_id,
    list_versions,
    read_digest,
    read_version,
    summarize_state,
)
from harness.errors import HarnessError
from harness.inventory.model import Terraform
from harness.outcome import Outcome
from harness.records import FAILED
from harness.targets.base import TargetLike

__all__ = [
    "BACKUP_INFIX",
    "BACKUP_STAMP",
    "StateChanged",
    "StateRestoreSpec",
    "StateSummary",
    "StateVersion",
    "apply_state_restore",
    "backup_key",
    "choose_version",
    "digest_item_id",
    "list_versions",
    "plan_state_restore",
    "read_digest",
    "read_version",
    "restore_state",
    "summarize_state",
    "way_back",
]


class StateChanged(HarnessError):
    """The state's latest version is not the one the plan read: someone wrote it meanwhile."""


# -- plan -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StateRestoreSpec:
    """What a state-restore plan read and will do: versions, digests, summaries, the backup copy and the way back."""

    key: str
    current: StateVersion | None  # None: the latest version is a delete marker
    chosen: StateVersion
    digest_before: str | None
    backup_key: str | None
    restored: StateSummary
    now: StateSummary | None
    versions: tuple[str, ...]  # every version's line, newest first (for the report)
    way_back: str  # the exact command that undoes the restore


def way_back(target: TargetLike, key: str, current: StateVersion | None) -> str:
    """The command that puts the current state back (its version is never deleted; the backup copy holds it too)."""
    env = target.env
    if current is None:
        return "none needed: there was no current state (a delete marker)"
    return (
        f"harness state-restore --inventory {env.inventory} --env {env.name} --key {key} --version-id "
        f"{current.version_id} --allow-mutation"
    )


def _describe(v: StateVersion, summary: StateSummary | None) -> str:
    """``version X (md5 ..., 1234 bytes, serial 7)``."""
    serial = f", serial {summary.serial}" if summary is not None and summary.serial is not None else ""
    md5 = f"md5 {summary.md5}, " if summary is not None else ""
    return f"version {v.version_id} ({md5}{v.size} bytes{serial})"


def plan_state_restore(
    target: TargetLike,
    key: str,
    *,
    authority: Authority,
    version_id: str | None = None,
    at: datetime | None = None,
    previous: bool = False,
) -> Plan[StateRestoreSpec]:
    """Decide, reading only, which version to restore and every change; refusals say why in one line."""
    plan: Plan[StateRestoreSpec] = state_plan(target, "state-restore", key, authority)
    if plan.refusal:
        return plan
    tf = terraform_of(target)
    versions, deleted = list_versions(target, key)
    try:
        chosen = choose_version(versions, version_id=version_id, at=at, previous=previous)
    except ValueError as exc:
        plan.refusal = f"s3://{tf.state_bucket}/{key}: {exc}"
        return plan
    current = None if deleted else next((v for v in versions if v.is_latest), None)
    restored = summarize_state(read_version(target, key, chosen.version_id))
    now_summary = summarize_state(read_version(target, key, current.version_id)) if current else None
    plan.refusal = _restore_refusal(target, tf, key, chosen, current, restored, now_summary)
    if plan.refused:
        return plan
    bkey = backup_key(key, plan.planned_at) if current else None
    plan.spec = StateRestoreSpec(
        key,
        current,
        chosen,
        read_digest(target, key),
        bkey,
        restored,
        now_summary,
        tuple(v.line() for v in versions),
        way_back(target, key, current),
    )
    _state_lines(plan, tf, plan.spec, deleted, len(versions))
    return plan


def _restore_refusal(
    target: TargetLike,
    tf: Terraform,
    key: str,
    chosen: StateVersion,
    current: StateVersion | None,
    restored: StateSummary,
    now_summary: StateSummary | None,
) -> str | None:
    """Why this version is not restored: already latest, not a valid state, another lineage, the state is locked."""
    if current is not None and chosen.version_id == current.version_id:
        return f"s3://{tf.state_bucket}/{key}: version {chosen.version_id} is already the latest: nothing to restore"
    if restored.problem:
        return f"s3://{tf.state_bucket}/{key} version {chosen.version_id} is {restored.line()}: not restored"
    if now_summary and not now_summary.problem and now_summary.lineage != restored.lineage:
        return (
            f"version {chosen.version_id} has lineage {restored.lineage}, the current state {now_summary.lineage}: "
            "another state's history (Terraform refuses a lineage change); not restored"
        )
    lock = lock_on(target, key)
    if lock is not None:
        return (
            f"{lock.line()}: the state is locked, a restore now would race that operation (release a "
            "stuck lock with state-unlock first)"
        )
    return None


def _state_lines(
    plan: Plan[StateRestoreSpec], tf: Terraform, spec: StateRestoreSpec, deleted: bool, n_versions: int
) -> None:
    key, current, chosen = spec.key, spec.current, spec.chosen
    if current:
        plan.changes.append(
            Change(
                f"s3://{tf.state_bucket}/{spec.backup_key}",
                "object",
                None,
                f"copy of {_describe(current, spec.now)}",
                "create",
                "000 §5.2.2 backup of the current state",
            )
        )
    plan.changes.append(
        Change(
            f"s3://{tf.state_bucket}/{key}",
            "latest version",
            _describe(current, spec.now) if current else "(deleted)",
            f"new version, byte copy of {_describe(chosen, spec.restored)}",
            "create",
            f"000 §5.2.2; no version is deleted ({n_versions} versions now, {n_versions + 1} after)",
        )
    )
    if tf.lock_table:
        plan.changes.append(
            Change(
                f"dynamodb:{tf.lock_table}:{digest_item_id(tf, key)}",
                "Digest",
                spec.digest_before,
                spec.restored.md5,
                "update",
                "000 §5.2.2 forgets this (seed defect 2): Terraform checks it on every read",
            )
        )
    plan.notes.append(f"restores {spec.restored.line()}")
    now = spec.now
    if now and not now.problem:
        plan.notes.append(f"current: {now.line()}")
        if isinstance(now.serial, int) and isinstance(spec.restored.serial, int) and spec.restored.serial < now.serial:
            plan.notes.append(
                f"serial goes back {now.serial} -> {spec.restored.serial}: the next apply writes serial "
                f"{spec.restored.serial + 1}"
            )
    if deleted:
        plan.notes.append("the latest version is a delete marker: there is no current state to back up")
    plan.notes.append("the state is locked (Terraform's own lock) while it is written")
    plan.notes.append(f"way back: {spec.way_back} (backup copy {spec.backup_key or '-'})")


# -- apply ------------------------------------------------------------------------------------


def apply_state_restore(
    target: TargetLike, plan: Plan[StateRestoreSpec], *, should_stop: Callable[[], str | None] | None = None
) -> ActionResult:
    """Back up, copy the chosen version over the key, set the Digest, verify; the audit record ends COMPLETE or
    FAILED and names the backup copy and the way back. A stop request before the write begins: nothing written,
    INTERRUPTED with the state read back (the module docstring)."""
    tf = terraform_of(target)
    if plan.spec is None:
        raise ValueError(f"{plan.action} plan has no spec (refused plans are never applied)")
    read = plan.spec
    key, chosen, current = read.key, read.chosen, read.current
    stop = should_stop or (lambda: None)
    result = ActionResult(plan, COMPLETE)
    who = plan_authority(plan).get("actor") or "runbook-harness"
    extra = {
        "backup_key": read.backup_key,
        "digest_before": read.digest_before,
        "digest_after": read.restored.md5,
        "restore_command": read.way_back,
    }
    with audit(
        target,
        plan,
        resource=f"s3://{tf.state_bucket}/{key}",
        from_version=current.version_id if current else None,
        to_version=chosen.version_id,
        extra=extra,
    ) as trail:
        cut = stop()
        if cut is None:
            with holding_lock(target, key, who):
                result.log(target.clock.now(), f"locked s3://{tf.state_bucket}/{key}")
                cut = stop()
                if cut is None:  # from here the backup, the copy and the Digest are one step: they finish
                    new_version, restored = _write(target, tf, plan, result)
            result.log(target.clock.now(), f"unlocked s3://{tf.state_bucket}/{key}")
        if cut is not None:
            _read_back(target, tf, read, result, trail, cut)
            result.record = trail.record
            return result
        trail.update(extra={**trail.record.extra, "new_version": new_version})
    result.record = trail.record
    _restored(result, tf, read, new_version, restored)
    return result


def _restored(
    result: ActionResult, tf: Terraform, read: StateRestoreSpec, new_version: str | None, restored: StateSummary
) -> None:
    """The message and evidence of a restore that was written."""
    key, chosen, current = read.key, read.chosen, read.current
    digest_line = (
        f"Digest {digest_item_id(tf, key)} {read.digest_before} -> {restored.md5} (000 §5.2.2 forgets this step: "
        "seed defect 2)"
        if tf.lock_table
        else "no lock table: no Digest to update"
    )
    result.message = (
        f"restored s3://{tf.state_bucket}/{key} to version {chosen.version_id} as new version "
        f"{new_version}; {digest_line}; backup copy s3://{tf.state_bucket}/{read.backup_key}; way back: {read.way_back}"
    )
    result.evidence.update(
        new_version=new_version,
        previous_version=current.version_id if current else None,
        backup_key=read.backup_key,
        restore_command=read.way_back,
        digest_before=read.digest_before,
        digest_after=restored.md5 if tf.lock_table else None,
        restored=asdict(restored),
        previous=asdict(read.now) if read.now else None,
        versions=list(read.versions),
    )


def _read_back(
    target: TargetLike, tf: Terraform, read: StateRestoreSpec, result: ActionResult, trail: Any, why: str
) -> None:
    """After a stop: the key's latest version, its md5 and the Digest as the account has them now, into the result
    (INTERRUPTED) and the record (FAILED), never what the plan said."""
    versions, deleted = list_versions(target, read.key)
    latest = None if deleted else next((v for v in versions if v.is_latest), None)
    md5 = summarize_state(read_version(target, read.key, latest.version_id)).md5 if latest else None
    digest = read_digest(target, read.key) if tf.lock_table else None
    was = read.current.version_id if read.current else None
    done = int(latest is not None and latest.version_id != was and md5 == read.restored.md5)  # a new latest, restored
    state = (
        f"s3://{tf.state_bucket}/{read.key} latest version {latest.version_id if latest else '(deleted)'} (md5 {md5})"
        + (f", Digest {digest}" if tf.lock_table else "")
    )
    result.outcome = Outcome.INTERRUPTED
    result.message = f"{tally(why, [(done, 1, 'restored')], 1 - done)}; read back: {state}"
    result.evidence.update(read_back={"latest_version": latest.version_id if latest else None, "md5": md5})
    result.log(target.clock.now(), f"read back after {why}: {state}")
    now = {"latest_version": latest.version_id if latest else None, "latest_md5": md5, "digest_now": digest}
    trail.update(extra={**trail.record.extra, **{k: v for k, v in now.items() if v}, "interrupted": why})
    trail.update(extra={**trail.record.extra, "summary": result.message})
    trail.finish(FAILED)


def _write(
    target: TargetLike, tf: Terraform, plan: Plan[StateRestoreSpec], result: ActionResult
) -> tuple[str | None, StateSummary]:
    """Under the lock: check the latest is still the planned one, back up, copy, verify the md5, set the Digest
    (the copy undone on any failure); the new version and what it holds."""
    read, s3 = plan.spec, target.client("s3")
    assert read is not None  # apply_state_restore checked it
    key, chosen, current = read.key, read.chosen, read.current
    versions, deleted = list_versions(target, key)
    latest = None if deleted else next((v for v in versions if v.is_latest), None)
    if (latest.version_id if latest else None) != (current.version_id if current else None):
        raise StateChanged(
            f"s3://{tf.state_bucket}/{key} changed since the plan (latest "
            f"{latest.version_id if latest else 'deleted'}): not restored"
        )
    changes = iter(plan.changes)
    if current:
        s3.copy_object(
            Bucket=tf.state_bucket,
            Key=read.backup_key,
            CopySource={"Bucket": tf.state_bucket, "Key": key, "VersionId": current.version_id},
        )
        result.changed(target.clock.now(), next(changes))
    copied = s3.copy_object(
        Bucket=tf.state_bucket,
        Key=key,
        CopySource={"Bucket": tf.state_bucket, "Key": key, "VersionId": chosen.version_id},
    )
    new_version = copied.get("VersionId")
    result.changed(target.clock.now(), next(changes))
    try:
        restored = summarize_state(read_version(target, key, new_version))
        if restored.md5 != read.restored.md5:
            raise StateChanged(f"the new latest version's md5 {restored.md5} is not version {chosen.version_id}'s")
        if tf.lock_table:
            target.client("dynamodb").put_item(
                TableName=tf.lock_table,
                Item={"LockID": {"S": digest_item_id(tf, key)}, "Digest": {"S": restored.md5}},
            )
            result.changed(target.clock.now(), next(changes))
    except BaseException:
        _undo(target, tf, key, current, result)
        raise
    return (str(new_version) if new_version else None), restored


def _undo(target: TargetLike, tf: Terraform, key: str, current: StateVersion | None, result: ActionResult) -> None:
    """Put the pre-restore version back as the latest (a new copy: still no version deleted)."""
    if current is None:
        return
    target.client("s3").copy_object(
        Bucket=tf.state_bucket,
        Key=key,
        CopySource={"Bucket": tf.state_bucket, "Key": key, "VersionId": current.version_id},
    )
    result.log(
        target.clock.now(),
        f"undone: version {current.version_id} copied back as the latest (the Digest still matches it)",
    )


def restore_state(
    target: TargetLike,
    key: str,
    *,
    authority: Authority,
    version_id: str | None = None,
    at: datetime | None = None,
    previous: bool = False,
    dry_run: bool = False,
) -> ActionResult:
    """Plan and (unless refused or a dry run) apply a state version restore."""
    return execute(
        lambda: plan_state_restore(target, key, authority=authority, version_id=version_id, at=at, previous=previous),
        lambda p: apply_state_restore(target, p),
        dry_run=dry_run,
    )
