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
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from harness.actions.audit_record import audit, plan_authority
from harness.actions.base import COMPLETE, ActionResult, Change, Plan, execute
from harness.actions.guards import Authority
from harness.actions.terraform_locks import DIGEST_SUFFIX, holding_lock, lock_on, state_plan, terraform_of
from harness.errors import HarnessError
from harness.inventory.model import Terraform
from harness.targets.base import TargetLike
from harness.tf_state_format import parse_state, resource_names

BACKUP_INFIX = ".backup-"  # 000 §5.2.2: <key>.backup-$(date +%Y%m%d-%H%M%S)
BACKUP_STAMP = "%Y%m%d-%H%M%S"


class StateChanged(HarnessError):
    """The state's latest version is not the one the plan read: someone wrote it meanwhile."""


@dataclass(frozen=True)
class StateVersion:
    """One S3 version of a state object (000 §5.2.1's VersionId, LastModified, IsLatest)."""

    version_id: str
    last_modified: datetime
    is_latest: bool
    size: int
    etag: str

    def line(self) -> str:
        """``3f2a.. 2026-01-25T10:00:00Z 1234 bytes (latest)``."""
        stamp = self.last_modified.astimezone(timezone.utc).isoformat(timespec="seconds")
        return f"{self.version_id} {stamp} {self.size} bytes" + (" (latest)" if self.is_latest else "")


@dataclass(frozen=True)
class StateSummary:
    """What a state document says about itself: format, serial, lineage, resources; or what is wrong."""

    md5: str
    size: int
    version: Any = None
    terraform_version: Any = None
    serial: Any = None
    lineage: Any = None
    resources: tuple[str, ...] = ()  # "type.name" (module-qualified when in a module)
    problem: str | None = None

    def line(self) -> str:
        """``serial 2, lineage 1a2b.., 1 resource(s): terraform_data.release`` or the problem."""
        if self.problem:
            return f"not a valid state: {self.problem}"
        listed = ", ".join(self.resources[:5]) + (" ..." if len(self.resources) > 5 else "")
        return f"serial {self.serial}, lineage {self.lineage}, {len(self.resources)} resource(s): {listed or '(none)'}"


def summarize_state(body: bytes) -> StateSummary:
    """Parse a state document (000 §5.2.2 "Review the state file": ``jq '.resources[].type'``); never raises on its
    content."""
    md5 = hashlib.md5(body).hexdigest()
    doc, problem = parse_state(body)  # the terraform-state check's own rules (harness/tf_state_format.py)
    if doc is None:
        return StateSummary(md5, len(body), problem=problem)
    return StateSummary(
        md5,
        len(body),
        doc.get("version"),
        doc.get("terraform_version"),
        doc.get("serial"),
        doc.get("lineage"),
        resource_names(doc),
        problem,
    )


def list_versions(target: TargetLike, key: str) -> tuple[list[StateVersion], bool]:
    """The state object's versions, newest first (exactly ``key``), and whether its latest is a delete marker."""
    tf = terraform_of(target)
    versions: list[StateVersion] = []
    deleted = False
    for page in target.client("s3").get_paginator("list_object_versions").paginate(Bucket=tf.state_bucket, Prefix=key):
        for v in page.get("Versions", []) or []:
            if v["Key"] == key:  # the prefix also matches <key>.backup-* and <key>.tflock
                versions.append(
                    StateVersion(
                        v["VersionId"],
                        v["LastModified"],
                        bool(v.get("IsLatest")),
                        int(v.get("Size", 0)),
                        v.get("ETag", ""),
                    )
                )
        for m in page.get("DeleteMarkers", []) or []:
            if m["Key"] == key and m.get("IsLatest"):
                deleted = True
    # S3 lists a key's versions newest first; LastModified breaks no ties within a second, so keep that order.
    return versions, deleted


def choose_version(
    versions: list[StateVersion], *, version_id: str | None = None, at: datetime | None = None, previous: bool = False
) -> StateVersion:
    """The version to restore: by id, the newest at or before ``at``, or the one before the latest; ValueError says why
    not."""
    if sum(x is not None and x is not False for x in (version_id, at, previous)) != 1:
        raise ValueError("choose exactly one of a version id, a time, or 'previous'")
    if not versions:
        raise ValueError("the state object has no versions")
    if version_id is not None:
        found = next((v for v in versions if v.version_id == version_id), None)
        if found is None:
            raise ValueError(f"no version {version_id!r}; versions: {', '.join(v.version_id for v in versions[:10])}")
        return found
    if at is not None:
        at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
        found = next((v for v in versions if v.last_modified <= at), None)
        if found is None:
            raise ValueError(f"no version written at or before {at.isoformat()}; oldest is {versions[-1].line()}")
        return found
    latest = next((i for i, v in enumerate(versions) if v.is_latest), 0)
    if latest + 1 >= len(versions):
        raise ValueError("the latest version has no previous version")
    return versions[latest + 1]


def digest_item_id(tf: Terraform, key: str) -> str:
    """The lock table's LockID of a state's md5 Digest item (Terraform S3 backend)."""
    return f"{tf.state_bucket}/{key}{DIGEST_SUFFIX}"


def read_digest(target: TargetLike, key: str) -> str | None:
    """The Digest Terraform keeps for ``key`` in the lock table (None: no lock table or no item)."""
    tf = terraform_of(target)
    if not tf.lock_table:
        return None
    item = target.client("dynamodb").get_item(
        TableName=tf.lock_table, Key={"LockID": {"S": digest_item_id(tf, key)}}, ConsistentRead=True
    )
    digest = (item.get("Item") or {}).get("Digest", {}).get("S")
    return str(digest) if digest is not None else None


def read_version(target: TargetLike, key: str, version_id: str | None = None) -> bytes:
    """The bytes of one version of the state (the latest when ``version_id`` is None)."""
    tf = terraform_of(target)
    kwargs = {"VersionId": version_id} if version_id else {}
    return bytes(target.client("s3").get_object(Bucket=tf.state_bucket, Key=key, **kwargs)["Body"].read())


def backup_key(key: str, now: datetime) -> str:
    """``<key>.backup-<UTC %Y%m%d-%H%M%S>`` (000 §5.2.2)."""
    return f"{key}{BACKUP_INFIX}{now.astimezone(timezone.utc).strftime(BACKUP_STAMP)}"


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


def apply_state_restore(target: TargetLike, plan: Plan[StateRestoreSpec]) -> ActionResult:
    """Back up, copy the chosen version over the key, set the Digest, verify; the audit record ends COMPLETE or
    FAILED."""
    tf = terraform_of(target)
    if plan.spec is None:
        raise ValueError(f"{plan.action} plan has no spec (refused plans are never applied)")
    read = plan.spec
    key, chosen = read.key, read.chosen
    current = read.current
    s3 = target.client("s3")
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
        with holding_lock(target, key, who):
            result.log(target.clock.now(), f"locked s3://{tf.state_bucket}/{key}")
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
                body = read_version(target, key, new_version)
                restored = summarize_state(body)
                if restored.md5 != read.restored.md5:
                    raise StateChanged(
                        f"the new latest version's md5 {restored.md5} is not version {chosen.version_id}'s"
                    )
                if tf.lock_table:
                    target.client("dynamodb").put_item(
                        TableName=tf.lock_table,
                        Item={"LockID": {"S": digest_item_id(tf, key)}, "Digest": {"S": restored.md5}},
                    )
                    result.changed(target.clock.now(), next(changes))
            except BaseException:
                _undo(target, tf, key, current, result)
                raise
        result.log(target.clock.now(), f"unlocked s3://{tf.state_bucket}/{key}")
        trail.update(extra={**trail.record.extra, "new_version": new_version})
    result.record = trail.record
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
    return result


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
