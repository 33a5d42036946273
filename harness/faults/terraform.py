"""Terraform state faults: a corrupted state version and a stuck lock (000 §5.2, §5.3; 002 "Infrastructure issue").

- :func:`corrupted_state`: a new latest version of the state object holding the first half of the current
  bytes, as an interrupted ``aws s3 cp`` (000 §5.2.2's own tool) leaves it; the lock table's Digest is
  left as it was, as that copy leaves it (seed defect 2). ``terraform-state`` fails: the state does not
  parse, and its Digest no longer matches. No version is deleted; the undo copies the pre-fault version
  back as the latest when a recovery has not already restored that content.
- :func:`stuck_lock`: the lock a crashed ``terraform apply`` leaves (DynamoDB ``LockID`` item, or the
  ``.tflock`` object with ``use_lockfile``), older than ``terraform.lock_max_age_minutes`` so 000 §5.3
  calls it stuck. Written only if no lock is held (a real operation's lock is never touched); the undo
  deletes exactly that lock if it is still there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from harness import aws
from harness.actions.guards import Authority
from harness.actions.terraform_locks import lock_info, lock_on
from harness.actions.terraform_state import list_versions, read_digest, read_version
from harness.faults.base import Fault, FaultRefused, guard
from harness.inventory.model import Terraform
from harness.targets.base import TargetLike
from harness.tf_lock_format import LOCKFILE_SUFFIX, read_lock_info

CRASHED_BY = "game-day@crashed-runner"  # who the stuck lock says holds it (the fault's own label)
CRASHED_OPERATION = "OperationTypeApply"


def _terraform(target: TargetLike) -> Terraform:
    tf = target.env.terraform
    if tf is None:
        raise FaultRefused(f"{target.env.inventory}/{target.env.name} has no [terraform] section: no state to break")
    return tf


def _md5(body: bytes) -> str:
    return hashlib.md5(body).hexdigest()


def corrupted_state(target: TargetLike, key: str, authority: Authority) -> Fault:
    """The latest version of ``key`` replaced by a truncated copy (Digest untouched); the undo restores the content."""
    guard(target, authority)
    tf = _terraform(target)
    if key not in tf.state_keys:
        raise FaultRefused(f"{key!r} is not a state key of {target.env.inventory}/{target.env.name}")
    versions, deleted = list_versions(target, key)
    current = None if deleted else next((v for v in versions if v.is_latest), None)
    if current is None:
        raise FaultRefused(f"s3://{tf.state_bucket}/{key} has no current version to corrupt")
    body = read_version(target, key, current.version_id)
    digest = read_digest(target, key)
    broken = body[: len(body) // 2]
    now = target.clock.now()
    put = target.client("s3").put_object(Bucket=tf.state_bucket, Key=key, Body=broken)
    s3 = target.client("s3")

    def undo() -> list[str]:
        if _md5(read_version(target, key)) == _md5(body):
            return [f"s3://{tf.state_bucket}/{key}: the latest version already holds the pre-fault content"]
        s3.copy_object(
            Bucket=tf.state_bucket,
            Key=key,
            CopySource={"Bucket": tf.state_bucket, "Key": key, "VersionId": current.version_id},
        )
        return [
            f"s3://{tf.state_bucket}/{key}: version {current.version_id} copied back as the latest (its Digest still "
            "matches)"
        ]

    return Fault(
        "corrupted-state",
        f"s3://{tf.state_bucket}/{key}",
        "000 §5.2 state file recovery; 002 Rollback Scenarios (infrastructure issue)",
        before={"version": current.version_id, "md5": _md5(body), "size": len(body), "digest": digest},
        after={
            "version": put.get("VersionId"),
            "md5": _md5(broken),
            "size": len(broken),
            "digest": read_digest(target, key),
        },
        injected_at=now,
        undo=undo,
        detected_by=("terraform-state",),
        notes=[
            "the state object's newest version is a truncated copy (an interrupted upload); the lock table's Digest "
            "is stale"
        ],
    )


@dataclass(frozen=True)
class CrashedLock:
    """A lock written as a crashed apply leaves it: where it is, its LockInfo JSON as stored, its ID and Created."""

    where: str
    info: str
    lock_id: str
    created: datetime


def crashed_lock(target: TargetLike, key: str, who: str = CRASHED_BY) -> CrashedLock:
    """Write a crashed ``terraform apply``'s lock on ``key``, older than lock_max_age_minutes; FaultRefused when any
    lock is held.

    No guard here: :func:`stuck_lock` (the game-day fault) guards first; the state drill writes it on its own scratch
    key.
    """
    tf = _terraform(target)
    held = lock_on(target, key)
    if held is not None:
        raise FaultRefused(f"{held.line()}: a lock is held already (a real operation's is never touched)")
    # One minute past the limit, so 000 §5.3 calls it stuck; Terraform's LockInfo shape so ``terraform plan`` names it.
    created = target.clock.now() - timedelta(minutes=tf.lock_max_age_minutes + 1)
    info = lock_info(tf, key, who=who, created=created, operation=CRASHED_OPERATION)
    try:
        if tf.lock_table:
            where = f"dynamodb:{tf.lock_table}:{tf.state_bucket}/{key}"
            target.client("dynamodb").put_item(
                TableName=tf.lock_table,
                Item={"LockID": {"S": f"{tf.state_bucket}/{key}"}, "Info": {"S": info}},
                ConditionExpression="attribute_not_exists(LockID)",
            )
        else:
            where = f"s3://{tf.state_bucket}/{key}{LOCKFILE_SUFFIX}"
            target.client("s3").put_object(
                Bucket=tf.state_bucket, Key=f"{key}{LOCKFILE_SUFFIX}", Body=info.encode(), IfNoneMatch="*"
            )
    except ClientError as exc:
        # The conditional write lost to a lock taken after lock_on looked: that operation's lock stays as it is.
        raise FaultRefused(f"{key}: a lock appeared meanwhile ({aws.error_code(exc)}): not touched") from None
    return CrashedLock(where, info, read_lock_info(info)["ID"], created)


def stuck_lock(target: TargetLike, key: str, authority: Authority) -> Fault:
    """A crashed apply's lock on ``key``, older than lock_max_age_minutes; refused when any lock is held."""
    guard(target, authority)
    tf = _terraform(target)
    now = target.clock.now()
    lock = crashed_lock(target, key)
    where, info, lock_id, created = lock.where, lock.info, lock.lock_id, lock.created

    def undo() -> list[str]:
        if tf.lock_table:
            try:
                target.client("dynamodb").delete_item(
                    TableName=tf.lock_table,
                    Key={"LockID": {"S": f"{tf.state_bucket}/{key}"}},
                    ConditionExpression="Info = :i",
                    ExpressionAttributeValues={":i": {"S": info}},
                )
            except ClientError as exc:
                if aws.error_code(exc) != "ConditionalCheckFailedException":
                    raise
                return [f"{where}: the fault's lock is gone already (released by the recovery)"]
            return [f"{where}: the fault's lock {lock_id} deleted"]
        s3 = target.client("s3")
        got = aws.get_or_none(s3.get_object, "NoSuchKey", Bucket=tf.state_bucket, Key=f"{key}{LOCKFILE_SUFFIX}")
        if got is None or got["Body"].read().decode() != info:
            return [f"{where}: the fault's lock is gone already (released by the recovery)"]
        s3.delete_object(Bucket=tf.state_bucket, Key=f"{key}{LOCKFILE_SUFFIX}")
        return [f"{where}: the fault's lock {lock_id} deleted"]

    return Fault(
        "stuck-lock",
        where,
        "000 §5.3 state lock management",
        before={"lock": None},
        after={"lock_id": lock_id, "who": CRASHED_BY, "operation": CRASHED_OPERATION, "created": created.isoformat()},
        injected_at=now,
        undo=undo,
        detected_by=("terraform-state",),
        notes=[
            f"lock {lock_id} by {CRASHED_BY}, {tf.lock_max_age_minutes + 1} min old: older than "
            "lock_max_age_minutes, so stuck (000 §5.3)"
        ],
    )
