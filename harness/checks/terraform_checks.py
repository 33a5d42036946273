"""Terraform row: the state object exists and parses as Terraform state, its lock is not stuck, and
its md5 digest matches (000 §3.3, §5.2, §5.3, §7.3).

000 §5.2.2 restores an old state version without updating the ``<bucket>/<key>-md5`` Digest item
(seed defect 2): every later plan then fails with a checksum mismatch, so the digest is checked too.

"Parses as Terraform state" means a JSON object whose ``version`` and ``serial`` are integers (JSON
``true`` is not: Python's ``isinstance(True, int)`` is, so booleans are refused explicitly) and whose
``lineage`` is a non-empty string; format 4 also needs a ``resources`` list
(:mod:`harness.tf_state_format`, the validator the state-restore action uses too).

Locks (000 §5.3 "Check for stuck locks"), aged by the lock's ``Created``: the DynamoDB lock table's
``Info`` JSON, or the body of the S3 lockfile ``<key>.tflock`` (``use_lockfile``, Terraform >= 1.10:
the backend writes the same LockInfo JSON there — ``ID``, ``Operation``, ``Info``, ``Who``,
``Version``, ``Created``, ``Path``). A lockfile whose body has no parseable ``Created`` is aged by the
object's LastModified instead (an S3 server time: on an emulator with a rehearsal clock that may not
be the clock the row's "now" comes from, so the body is always read first):

- older than ``terraform.lock_max_age_minutes``: stuck, FAIL;
- younger: a plan/apply is running now, so the verification may change under it: WARN, or FAIL when
  the inventory sets ``terraform.forbid_lock_during_verification``;
- a lock item without a parseable ``Created`` is a lock of unknown age: it may be stuck or running,
  and the harness cannot tell. It is treated like a held lock of that kind: FAIL when the inventory
  forbids locks during verification, WARN otherwise (the row says "age unknown"; it is never read
  as "not locked").
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from harness import aws
from harness.checks.context import CheckContext, Row
from harness.checks.result import CheckResult, Verdict
from harness.inventory.model import Terraform
from harness.tf_lock_format import DIGEST_SUFFIX, LOCKFILE_SUFFIX, parse_created, read_lock_info
from harness.tf_state_format import parse_state, state_fields


def _terraform(ctx: CheckContext) -> Terraform:
    tf = ctx.env.terraform
    if tf is None:
        raise LookupError(f"inventory {ctx.env.inventory} has no [terraform]")
    return tf


def _lock_items(ctx: CheckContext, table: str) -> dict[str, dict[str, Any]]:
    """The lock table's items by LockID (typed values decoded losslessly), scanned once per run."""
    if "tf-locks" not in ctx.cache:
        items = (aws.from_item(i) for i in aws.scan_items(ctx.client("dynamodb"), table))
        ctx.cache["tf-locks"] = {str(i["LockID"]): i for i in items if "LockID" in i}
    locks: dict[str, dict[str, Any]] = ctx.cache["tf-locks"]
    return locks


def _lock_age(ctx: CheckContext, created: datetime | None) -> float | None:
    return None if created is None else (ctx.now - created).total_seconds() / 60.0


def _lockfile(s3: Any, bucket: str, key: str) -> tuple[dict[str, Any] | None, datetime | None]:
    """The S3-native lock (``<key>.tflock``) and when it was created; (None, None) when there is none."""
    lockfile = f"{key}{LOCKFILE_SUFFIX}"
    try:
        got = s3.get_object(Bucket=bucket, Key=lockfile)
    except ClientError as exc:
        if not aws.is_not_found(exc, "404", "NoSuchKey", "NotFound"):
            raise
        return None, None
    # The lockfile holds the lock's JSON (Created, Who, ID, Operation); LastModified only ages a body without
    # Created.
    text = got["Body"].read().decode("utf-8", "replace")
    info = read_lock_info(text)
    lock = {
        "lockfile": lockfile,
        **info,
        "LastModified": str(got["LastModified"]),
        **({} if info else {"Info": text[:200]}),
    }
    return lock, parse_created(str(info.get("Created", ""))) or got["LastModified"]


def _locked(
    ctx: CheckContext,
    row: Row,
    expected: str,
    state_line: str,
    lock: dict[str, Any],
    lock_created: datetime | None,
    evidence: dict[str, Any],
) -> CheckResult:
    """A held lock: FAIL when stuck (older than the limit) or forbidden, else WARN (an operation in progress)."""
    tf = _terraform(ctx)
    limit = tf.lock_max_age_minutes
    age = _lock_age(ctx, lock_created)
    forbidden = tf.forbid_lock_during_verification
    evidence["lock"] = {**lock, "age_minutes": age, "forbidden_during_verification": forbidden}
    who = lock.get("Who") or lock.get("lockfile") or "?"
    held = Verdict.FAIL if forbidden else Verdict.WARN
    policy = " (terraform.forbid_lock_during_verification)" if forbidden else ""
    if age is None:
        return row.result(
            expected,
            f"{state_line}; locked by {who}, lock age unknown (no parseable Created){policy}",
            held,
            **evidence,
        )
    if age > limit:
        return row.result(
            expected, f"{state_line}; stuck lock by {who}, {age:.0f} min old (> {limit})", Verdict.FAIL, **evidence
        )
    # A fresh lock means a plan/apply is running now: verification results may change under it.
    return row.result(
        expected,
        f"{state_line}; locked by {who} for {age:.0f} min (operation in progress){policy}",
        held,
        **evidence,
    )


def check_terraform_state(ctx: CheckContext, row: Row) -> CheckResult:
    """State object exists and parses; no lock older than the limit; digest matches the body."""
    tf = _terraform(ctx)
    key = row.item
    limit = tf.lock_max_age_minutes
    expected = f"state parses (version/serial/lineage), no lock older than {limit} min, md5 digest matches"
    s3 = ctx.client("s3")
    evidence: dict[str, Any] = {"bucket": tf.state_bucket, "key": key, "lock_table": tf.lock_table}
    try:
        obj = s3.get_object(Bucket=tf.state_bucket, Key=key)
    except ClientError as exc:
        if aws.is_not_found(exc, "NoSuchKey", "NoSuchBucket", "404"):
            return row.result(expected, f"s3://{tf.state_bucket}/{key} not found", Verdict.FAIL, **evidence)
        raise
    body = obj["Body"].read()
    evidence.update(version_id=obj.get("VersionId"), bytes=len(body), md5=hashlib.md5(body).hexdigest())
    doc, problem = parse_state(body)  # the same validator a state-restore uses (harness/tf_state_format.py)
    summary = state_fields(doc) if doc is not None else {}
    evidence["state"] = summary
    if problem:
        return row.result(expected, f"s3://{tf.state_bucket}/{key}: {problem}", Verdict.FAIL, **evidence)

    lock: dict[str, Any] | None = None
    lock_created: datetime | None = None
    if tf.lock_table:
        items = _lock_items(ctx, tf.lock_table)
        lock = items.get(f"{tf.state_bucket}/{key}")
        digest = (items.get(f"{tf.state_bucket}/{key}{DIGEST_SUFFIX}") or {}).get("Digest")
        evidence["digest"] = digest
        if not digest:
            # Terraform compares the md5 only when a Digest is stored: its absence breaks no plan.
            evidence["digest_note"] = "no Digest stored for this key: Terraform checks the md5 only when one is"
        elif str(digest) != evidence["md5"]:
            return row.result(
                expected,
                f"lock-table Digest {digest} != state md5 {evidence['md5']} (plan would fail: checksum mismatch)",
                Verdict.FAIL,
                **evidence,
            )
        if lock:
            info_text = lock.get("Info")
            info = read_lock_info(info_text)
            lock = {"LockID": lock.get("LockID"), **info, **({} if info else {"Info": info_text})}
            lock_created = parse_created(str(info.get("Created", "")))
    else:
        lock, lock_created = _lockfile(s3, tf.state_bucket, key)
    state_line = f"state v{summary['version']} serial {summary['serial']}, {summary['resources']} resource(s)"
    if lock:
        return _locked(ctx, row, expected, state_line, lock, lock_created, evidence)
    return row.result(
        expected,
        f"{state_line}; not locked" + ("; digest matches" if evidence.get("digest") else ""),
        Verdict.PASS,
        **evidence,
    )
