"""Terraform state locks: list them with age, owner and operation; release a stuck one (000 §5.3).

Terraform's S3 backend locks a state in one of two ways, and the harness reads both:

- ``dynamodb_table``: an item ``LockID = <bucket>/<key>`` whose ``Info`` attribute is the lock's JSON
  (``ID``, ``Operation``, ``Info``, ``Who``, ``Version``, ``Created``, ``Path``); the same table holds
  the ``<bucket>/<key>-md5`` Digest items, which are not locks;
- ``use_lockfile`` (Terraform >= 1.10): an object ``<key>.tflock`` next to the state, holding the same JSON.

000 §5.3 scans for locks and runs ``terraform force-unlock`` with no guard. Here a lock is released
only with an explicit ``force`` and a reason (recorded in the audit record), only when its ID is the
one given (as ``force-unlock LOCK_ID`` demands), only when it is older than
``terraform.lock_max_age_minutes`` (a younger lock is probably a running apply), and only if it is
still exactly the lock the plan saw (a conditional delete).

The harness takes the same lock itself while it restores a state version (:func:`holding_lock`), so a
``terraform apply`` cannot write the state in the middle of a restore.
"""

from __future__ import annotations

import json
import socket
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Iterator

from botocore.exceptions import ClientError

from harness import aws
from harness.actions.audit_record import audit, new_plan
from harness.actions.base import COMPLETE, FAILED, ActionResult, Change, Plan, execute
from harness.actions.guards import Authority, refusal
from harness.errors import HarnessError
from harness.inventory.model import Terraform
from harness.targets.base import TargetLike
from harness.tf_lock_format import DIGEST_SUFFIX, LOCKFILE_SUFFIX, parse_created, read_lock_info

__all__ = [
    "DIGEST_SUFFIX",
    "LOCKFILE_SUFFIX",
    "LockHeld",
    "StateLock",
    "UnlockSpec",
    "apply_state_unlock",
    "holding_lock",
    "list_locks",
    "lock_info",
    "lock_on",
    "plan_state_unlock",
    "state_plan",
    "terraform_of",
    "unlock_state",
]

RULE = "prod-rollback"  # a PROD state change needs 000 §9.3's approvals
HARNESS_OPERATION = "runbook-harness state-restore (000 §5.2.2)"


class LockHeld(HarnessError):
    """The state is locked by someone else: the harness will not write it."""


@dataclass(frozen=True)
class StateLock:
    """One held lock on a state key, as Terraform wrote it."""

    key: str  # the state key in the bucket
    kind: str  # "dynamodb" | "lockfile"
    where: str  # the LockID item or the lockfile's s3:// URL
    lock_id: str | None
    who: str | None
    operation: str | None
    version: str | None
    created: datetime | None
    path: str | None
    age_minutes: float | None
    stuck: bool  # older than terraform.lock_max_age_minutes
    info: str  # the lock's JSON exactly as stored (a release deletes only this)

    def line(self) -> str:
        """``tenants/x/terraform.tfstate: lock 1f.. by alice@ci (OperationTypeApply), 73 min old — STUCK``."""
        age = "age unknown" if self.age_minutes is None else f"{self.age_minutes:.0f} min old"
        state = " — STUCK" if self.stuck else ""
        return (
            f"{self.key}: {self.kind} lock {self.lock_id or '?'} by {self.who or '?'} ({self.operation or '?'}), "
            f"{age}{state}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = asdict(self)
        out["created"] = self.created.isoformat() if self.created else None
        return out


def _lock(
    key: str, kind: str, where: str, info_text: str, fallback_created: datetime | None, now: datetime, limit: int
) -> StateLock:
    info = read_lock_info(info_text)
    created = parse_created(str(info.get("Created", ""))) or fallback_created
    age = None if created is None else (now - created).total_seconds() / 60.0
    return StateLock(
        key=key,
        kind=kind,
        where=where,
        lock_id=info.get("ID"),
        who=info.get("Who"),
        operation=info.get("Operation"),
        version=info.get("Version"),
        created=created,
        path=info.get("Path"),
        age_minutes=age,
        stuck=age is not None and age > limit,
        info=info_text,
    )


def terraform_of(target: TargetLike) -> Terraform:
    """The target's [terraform] inventory section; HarnessError when it has none (the state actions' one lookup)."""
    tf = target.env.terraform
    if tf is None:
        raise HarnessError(f"{target.env.inventory}/{target.env.name} has no [terraform] section in its inventory")
    return tf


def list_locks(target: TargetLike) -> list[StateLock]:
    """Every held lock in the state bucket: DynamoDB lock items and ``.tflock`` lockfiles (000 §5.3)."""
    tf = terraform_of(target)
    now, limit = target.clock.now(), tf.lock_max_age_minutes
    locks: list[StateLock] = []
    prefix = f"{tf.state_bucket}/"
    if tf.lock_table:
        for item in aws.scan_items(target.client("dynamodb"), tf.lock_table):
            lock_id = item.get("LockID", {}).get("S", "")
            if not lock_id.startswith(prefix) or lock_id.endswith(DIGEST_SUFFIX):
                continue  # another bucket's lock, or a Digest item
            info = item.get("Info", {}).get("S", "")
            locks.append(
                _lock(lock_id[len(prefix) :], "dynamodb", f"dynamodb:{tf.lock_table}:{lock_id}", info, None, now, limit)
            )
    s3 = target.client("s3")
    for obj in aws.paginate(s3, "list_objects_v2", "Contents", Bucket=tf.state_bucket):
        if not obj["Key"].endswith(LOCKFILE_SUFFIX):
            continue
        body = s3.get_object(Bucket=tf.state_bucket, Key=obj["Key"])["Body"].read().decode("utf-8", "replace")
        key = obj["Key"][: -len(LOCKFILE_SUFFIX)]
        locks.append(
            _lock(key, "lockfile", f"s3://{tf.state_bucket}/{obj['Key']}", body, obj["LastModified"], now, limit)
        )
    return sorted(locks, key=lambda lk: lk.key)


def lock_on(target: TargetLike, key: str) -> StateLock | None:
    """The lock held on ``key`` (DynamoDB item first, then the lockfile), or None: one item and one object read."""
    tf = terraform_of(target)
    now, limit = target.clock.now(), tf.lock_max_age_minutes
    if tf.lock_table:
        lock_id = f"{tf.state_bucket}/{key}"
        # ConsistentRead: a lock taken a moment ago must be seen (an eventually consistent read may miss it).
        item = (
            target.client("dynamodb")
            .get_item(TableName=tf.lock_table, Key={"LockID": {"S": lock_id}}, ConsistentRead=True)
            .get("Item")
        )
        if item:
            return _lock(
                key,
                "dynamodb",
                f"dynamodb:{tf.lock_table}:{lock_id}",
                item.get("Info", {}).get("S", ""),
                None,
                now,
                limit,
            )
    lockfile = f"{key}{LOCKFILE_SUFFIX}"
    got = aws.get_or_none(target.client("s3").get_object, "NoSuchKey", "404", Bucket=tf.state_bucket, Key=lockfile)
    if got is None:
        return None
    body = got["Body"].read().decode("utf-8", "replace")
    return _lock(key, "lockfile", f"s3://{tf.state_bucket}/{lockfile}", body, got["LastModified"], now, limit)


# -- state-unlock: plan, then apply ------------------------------------------------------------


@dataclass(frozen=True)
class UnlockSpec:
    """What a state-unlock plan read: the key and exactly the lock it will release."""

    key: str
    lock: StateLock


def state_plan(target: TargetLike, action: str, key: str, authority: Authority) -> Plan[Any]:
    """A Plan for a state action on ``key``, refused when there is no [terraform], the key is unknown or the guards say
    no."""
    env = target.env
    plan: Plan[Any] = new_plan(action, target, authority, ("terraform-state",))
    tf = env.terraform
    if tf is None:
        plan.refusal = (
            f"{env.inventory}/{env.name} has no [terraform] section: no state to {action.removeprefix('state-')}"
        )
    elif key not in tf.state_keys:
        plan.refusal = f"{key!r} is not a state key of {env.inventory}/{env.name}; known: {', '.join(tf.state_keys)}"
    else:
        plan.refusal = refusal(target, authority, rule=RULE)  # a PROD state change needs 000 §9.3's approvals
    return plan


def plan_state_unlock(
    target: TargetLike, key: str, *, lock_id: str | None, force: bool, authority: Authority
) -> Plan[UnlockSpec]:
    """Decide, reading only, whether the lock on ``key`` may be released; every refusal names why."""
    plan: Plan[UnlockSpec] = state_plan(target, "state-unlock", key, authority)
    if plan.refusal:
        return plan
    tf = terraform_of(target)
    lock = lock_on(target, key)
    if lock is None:
        plan.refusal = f"s3://{tf.state_bucket}/{key} is not locked: nothing to release"
        return plan
    plan.spec = UnlockSpec(key, lock)
    if not force:
        plan.refusal = (
            f"{lock.line()}; a lock is released only with --force and a --reason (000 §5.3 CAUTION: it "
            "may belong to a running apply)"
        )
    elif not (authority.reason and authority.reason.strip()):
        plan.refusal = f"{lock.line()}; releasing a lock needs a --reason (recorded in the audit record)"
    elif not lock_id or lock_id != lock.lock_id:
        plan.refusal = (
            f"{lock.line()}; give its ID (--lock-id {lock.lock_id}) as terraform force-unlock does (000 "
            f"§5.3), got {lock_id!r}"
        )
    elif lock.age_minutes is not None and not lock.stuck:
        plan.refusal = (
            f"{lock.line()}: younger than terraform.lock_max_age_minutes ({tf.lock_max_age_minutes}), "
            "probably a running operation; not released"
        )
    if plan.refused:
        return plan
    if lock.age_minutes is None:
        plan.notes.append("the lock has no parseable Created time: its age is unknown (released on --force and the ID)")
    plan.changes.append(
        Change(
            lock.where,
            "lock",
            f"{lock.lock_id} by {lock.who} ({lock.operation})",
            None,
            "delete",
            "000 §5.3 force-unlock; only if unchanged since this plan",
        )
    )
    return plan


def apply_state_unlock(target: TargetLike, plan: Plan[UnlockSpec]) -> ActionResult:
    """Release exactly the lock the plan saw (conditional delete); audit record with the reason."""
    tf = terraform_of(target)
    if plan.spec is None:
        raise ValueError(f"{plan.action} plan has no spec (refused plans are never applied)")
    key, lock = plan.spec.key, plan.spec.lock.to_dict()
    result = ActionResult(plan, COMPLETE)
    extra = {
        "lock_id": lock["lock_id"],
        "lock_who": lock["who"],
        "lock_operation": lock["operation"],
        "lock_created": lock["created"],
        "lock_age_minutes": None if lock["age_minutes"] is None else round(lock["age_minutes"], 1),
    }
    with audit(
        target, plan, resource=f"s3://{tf.state_bucket}/{key}", from_version=lock["lock_id"], extra=extra
    ) as trail:
        try:
            if lock["kind"] == "dynamodb":
                target.client("dynamodb").delete_item(
                    TableName=tf.lock_table,
                    Key={"LockID": {"S": f"{tf.state_bucket}/{key}"}},
                    ConditionExpression="Info = :info",
                    ExpressionAttributeValues={":info": {"S": lock["info"]}},
                )
            else:
                _delete_lockfile(target, tf, key, lock["info"])
        except ClientError as exc:
            if aws.error_code(exc) != "ConditionalCheckFailedException":
                raise
            trail.finish(FAILED)
            result.outcome, result.message = FAILED, f"the lock on {key} changed since the plan: not released"
            result.record = trail.record
            return result
        now = target.clock.now()
        result.changed(now, plan.changes[0])
        result.log(
            now, f"released {lock['kind']} lock {lock['lock_id']} on {key} (held by {lock['who']}, {lock['operation']})"
        )
    result.record = trail.record
    result.message = (
        f"released lock {lock['lock_id']} on {key} held by {lock['who']} ({lock['operation']}); reason recorded"
    )
    result.evidence["lock"] = lock
    return result


def _delete_lockfile(target: TargetLike, tf: Terraform, key: str, expected: str) -> None:
    s3 = target.client("s3")
    lockfile = f"{key}{LOCKFILE_SUFFIX}"
    body = aws.get_or_none(s3.get_object, "NoSuchKey", "404", Bucket=tf.state_bucket, Key=lockfile)
    if body is None or body["Body"].read().decode("utf-8", "replace") != expected:
        raise ClientError(
            {"Error": {"Code": "ConditionalCheckFailedException", "Message": "lockfile changed"}}, "DeleteObject"
        )
    s3.delete_object(Bucket=tf.state_bucket, Key=lockfile)


def unlock_state(
    target: TargetLike, key: str, *, lock_id: str | None, force: bool, authority: Authority, dry_run: bool = False
) -> ActionResult:
    """Plan and (unless refused or a dry run) release the lock on ``key``."""
    return execute(
        lambda: plan_state_unlock(target, key, lock_id=lock_id, force=force, authority=authority),
        lambda p: apply_state_unlock(target, p),
        dry_run=dry_run,
    )


# -- the harness's own lock while it writes a state ---------------------------------------------


def lock_info(tf: Terraform, key: str, *, who: str, created: datetime, operation: str = HARNESS_OPERATION) -> str:
    """A lock's JSON in Terraform's LockInfo shape (so ``terraform`` reports who holds it); ``who`` as given,
    verbatim."""
    from harness import __version__

    return json.dumps(
        {
            "ID": str(uuid.uuid4()),
            "Operation": operation,
            "Info": "",
            "Who": who,
            "Version": f"runbook-harness {__version__}",
            "Created": created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "Path": f"{tf.state_bucket}/{key}",
        },
        separators=(",", ":"),
    )


@contextmanager
def holding_lock(target: TargetLike, key: str, who: str) -> Iterator[str]:
    """Hold Terraform's lock on ``key`` (conditional put, as Terraform takes it); LockHeld if taken; always released."""
    tf = terraform_of(target)
    info = lock_info(
        tf, key, who=f"{who}@{socket.gethostname()}", created=target.clock.now()
    )  # Terraform's Who is user@host
    if tf.lock_table:
        ddb = target.client("dynamodb")
        item = {"LockID": {"S": f"{tf.state_bucket}/{key}"}, "Info": {"S": info}}
        try:
            ddb.put_item(TableName=tf.lock_table, Item=item, ConditionExpression="attribute_not_exists(LockID)")
        except ClientError as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                raise LockHeld(
                    f"s3://{tf.state_bucket}/{key} is locked (another Terraform operation): not written"
                ) from None
            raise
        try:
            yield info
        finally:
            ddb.delete_item(
                TableName=tf.lock_table,
                Key={"LockID": item["LockID"]},
                ConditionExpression="Info = :info",
                ExpressionAttributeValues={":info": item["Info"]},
            )
        return
    s3 = target.client("s3")
    lockfile = f"{key}{LOCKFILE_SUFFIX}"
    try:
        s3.put_object(
            Bucket=tf.state_bucket, Key=lockfile, Body=info.encode(), IfNoneMatch="*", ContentType="application/json"
        )
    except ClientError as exc:
        if aws.error_code(exc) in ("PreconditionFailed", "ConditionalRequestConflict"):
            raise LockHeld(
                f"s3://{tf.state_bucket}/{lockfile} exists (another Terraform operation): not written"
            ) from None
        raise
    try:
        yield info
    finally:
        s3.delete_object(Bucket=tf.state_bucket, Key=lockfile)
