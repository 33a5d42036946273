"""Terraform row: the state object exists and parses as Terraform state, its lock is not stuck, and
its md5 digest matches (000 §3.3, §5.2, §5.3, §7.3).

000 §5.2.2 restores an old state version without updating the ``<bucket>/<key>-md5`` Digest item
(seed defect 2): every later plan then fails with a checksum mismatch, so the digest is checked too.
A lock is "stuck" when older than ``terraform.lock_max_age_minutes`` (000 §5.3 "Check for stuck locks").
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from checks.context import CheckContext, Row
from checks.result import CheckResult, Verdict

LOCKFILE_SUFFIX = ".tflock"  # Terraform >= 1.10 S3-native locking (use_lockfile)
DIGEST_SUFFIX = "-md5"


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _parse_created(text: str) -> datetime | None:
    """Terraform's lock Info ``Created`` (RFC 3339, nanoseconds) as an aware datetime."""
    text = text.strip().replace("Z", "+00:00")
    if "." in text:  # trim fractional seconds to microseconds for fromisoformat
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        tz = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{tz}"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _lock_items(ctx: CheckContext) -> dict[str, dict[str, Any]]:
    table = ctx.env.terraform.lock_table
    if "tf-locks" not in ctx.cache:
        pages = ctx.client("dynamodb").get_paginator("scan").paginate(TableName=table)
        ctx.cache["tf-locks"] = {
            i["LockID"]["S"]: {k: next(iter(v.values())) for k, v in i.items()} for p in pages for i in p["Items"] if "LockID" in i
        }
    return ctx.cache["tf-locks"]


def _state_problem(body: bytes) -> tuple[str | None, dict[str, Any]]:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        return f"not JSON ({exc.msg} at byte {exc.pos})", {}
    if not isinstance(doc, dict):
        return f"JSON {type(doc).__name__}, not a state document", {}
    summary = {k: doc.get(k) for k in ("version", "terraform_version", "serial", "lineage")}
    summary["resources"] = len(doc.get("resources") or [])
    if not isinstance(doc.get("version"), int) or not isinstance(doc.get("serial"), int) or not doc.get("lineage"):
        return "missing version/serial/lineage: not a Terraform state", summary
    if doc["version"] >= 4 and not isinstance(doc.get("resources"), list):
        return "format 4 state without a resources list", summary
    return None, summary


def _lock_age(ctx: CheckContext, created: datetime | None) -> float | None:
    return None if created is None else (ctx.now - created).total_seconds() / 60.0


def check_terraform_state(ctx: CheckContext, row: Row) -> CheckResult:
    """State object exists and parses; no lock older than the limit; digest matches the body."""
    tf = ctx.env.terraform
    key = row.item
    limit = tf.lock_max_age_minutes
    expected = f"state parses (version/serial/lineage), no lock older than {limit} min, md5 digest matches"
    s3 = ctx.client("s3")
    evidence: dict[str, Any] = {"bucket": tf.state_bucket, "key": key, "lock_table": tf.lock_table}
    try:
        obj = s3.get_object(Bucket=tf.state_bucket, Key=key)
    except ClientError as exc:
        if _code(exc) in ("NoSuchKey", "NoSuchBucket", "404"):
            return row.result(expected, f"s3://{tf.state_bucket}/{key} not found", Verdict.FAIL, **evidence)
        raise
    body = obj["Body"].read()
    evidence.update(version_id=obj.get("VersionId"), bytes=len(body), md5=hashlib.md5(body).hexdigest())
    problem, summary = _state_problem(body)
    evidence["state"] = summary
    if problem:
        return row.result(expected, f"s3://{tf.state_bucket}/{key}: {problem}", Verdict.FAIL, **evidence)

    lock: dict[str, Any] | None = None
    lock_created: datetime | None = None
    if tf.lock_table:
        items = _lock_items(ctx)
        lock = items.get(f"{tf.state_bucket}/{key}")
        digest = (items.get(f"{tf.state_bucket}/{key}{DIGEST_SUFFIX}") or {}).get("Digest")
        evidence["digest"] = digest
        if digest and digest != evidence["md5"]:
            return row.result(expected, f"lock-table Digest {digest} != state md5 {evidence['md5']} (plan would fail: checksum mismatch)", Verdict.FAIL, **evidence)
        if lock:
            try:
                info = json.loads(lock.get("Info") or "{}")
            except ValueError:
                info = {}
            lock = {"LockID": lock.get("LockID"), **info}
            lock_created = _parse_created(str(info.get("Created", "")))
    else:
        try:
            head = s3.head_object(Bucket=tf.state_bucket, Key=f"{key}{LOCKFILE_SUFFIX}")
            lock = {"lockfile": f"{key}{LOCKFILE_SUFFIX}", "LastModified": str(head["LastModified"])}
            lock_created = head["LastModified"]
        except ClientError as exc:
            if _code(exc) not in ("404", "NoSuchKey", "NotFound"):
                raise
    state_line = f"state v{summary['version']} serial {summary['serial']}, {summary['resources']} resource(s)"
    if lock:
        age = _lock_age(ctx, lock_created)
        evidence["lock"] = {**lock, "age_minutes": age}
        who = lock.get("Who") or lock.get("lockfile") or "?"
        if age is None:
            return row.result(expected, f"{state_line}; locked by {who}, lock age unknown", Verdict.WARN, **evidence)
        if age > limit:
            return row.result(expected, f"{state_line}; stuck lock by {who}, {age:.0f} min old (> {limit})", Verdict.FAIL, **evidence)
        # A fresh lock means a plan/apply is running now: verification results may change under it.
        return row.result(expected, f"{state_line}; locked by {who} for {age:.0f} min (operation in progress)", Verdict.WARN, **evidence)
    return row.result(expected, f"{state_line}; not locked" + ("; digest matches" if evidence.get("digest") else ""), Verdict.PASS, **evidence)
