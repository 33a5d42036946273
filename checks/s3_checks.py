"""S3 rows of the post-deployment validation (003 §7): versioning, public access block, default
encryption, a write-read of one uniquely named object that is always deleted, and (PROD) replication.

003 §7's write test uses a fixed key (``test-write.txt``) and ``aws s3 rm``, which in a versioned
bucket leaves the object's version and a delete marker behind; here the key is unique and the
exact version written is deleted, so nothing is left.
"""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import ClientError

from checks.context import CheckContext, Row
from checks.result import CheckResult, Verdict
from harness.inventory.model import Bucket

# 003 §7's comment names three flags; RestrictPublicBuckets is the fourth the block needs to be complete.
PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
TEST_OBJECT_PREFIX = "harness-write-read/"


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def check_versioning(ctx: CheckContext, row: Row) -> CheckResult:
    """Bucket versioning Status is Enabled (003 §7 ``get-bucket-versioning``)."""
    b: Bucket = row.item
    resp = ctx.client("s3").get_bucket_versioning(Bucket=b.name)
    status = resp.get("Status") or "never enabled"
    evidence = {"Status": resp.get("Status"), "MFADelete": resp.get("MFADelete")}
    return row.result("versioning Enabled", f"versioning {status}", Verdict.PASS if status == "Enabled" else Verdict.FAIL, **evidence)


def check_public_access_block(ctx: CheckContext, row: Row) -> CheckResult:
    """All four public access block flags are true (003 §7 ``get-public-access-block``)."""
    b: Bucket = row.item
    expected = "public access block: " + ", ".join(f"{f}=true" for f in PAB_FLAGS)
    try:
        cfg = ctx.client("s3").get_public_access_block(Bucket=b.name)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        if _code(exc) == "NoSuchPublicAccessBlockConfiguration":
            return row.result(expected, "no public access block configured", Verdict.FAIL)
        raise
    off = [f for f in PAB_FLAGS if not cfg.get(f)]
    observed = "all four true" if not off else "false: " + ", ".join(off)
    return row.result(expected, observed, Verdict.FAIL if off else Verdict.PASS, **cfg)


def check_encryption(ctx: CheckContext, row: Row) -> CheckResult:
    """Default encryption uses the inventory's algorithm (003 §7 ``get-bucket-encryption``)."""
    b: Bucket = row.item
    expected = f"default encryption {b.encryption}"
    try:
        rules = ctx.client("s3").get_bucket_encryption(Bucket=b.name)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError as exc:
        if _code(exc) == "ServerSideEncryptionConfigurationNotFoundError":
            return row.result(expected, "no default encryption configured", Verdict.FAIL)
        raise
    algos = [r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules]
    ok = b.encryption in algos
    return row.result(expected, f"default encryption {', '.join(str(a) for a in algos) or 'none'}", Verdict.PASS if ok else Verdict.FAIL, rules=rules)


def check_write_read(ctx: CheckContext, row: Row) -> CheckResult:
    """Put a uniquely named test object, read it back, delete exactly that version (003 §7)."""
    b: Bucket = row.item
    s3 = ctx.client("s3")
    key = f"{TEST_OBJECT_PREFIX}{uuid.uuid4()}.txt"
    body = f"runbook-harness write-read {key} at {ctx.now.isoformat()}\n".encode()
    expected = "test object written, read back identical, deleted"
    evidence: dict[str, Any] = {"bucket": b.name, "key": key}
    written, version = False, None
    outcome: CheckResult | None = None
    try:
        put = s3.put_object(Bucket=b.name, Key=key, Body=body)
        written, version = True, put.get("VersionId")
        evidence.update(version_id=version, server_side_encryption=put.get("ServerSideEncryption"))
        got = s3.get_object(Bucket=b.name, Key=key, **({"VersionId": version} if version else {}))["Body"].read()
        evidence["read_back_bytes"] = len(got)
        if got != body:
            outcome = row.result(expected, f"read back {len(got)} bytes that differ from the {len(body)} written", Verdict.FAIL, **evidence)
    except ClientError as exc:
        evidence["error"] = str(exc)
        outcome = row.result(expected, f"{'read' if written else 'write'} failed: {_code(exc)}", Verdict.FAIL, **evidence)
    finally:
        if written:
            try:
                s3.delete_object(Bucket=b.name, Key=key, **({"VersionId": version} if version else {}))
                evidence["deleted"] = True
            except ClientError as exc:  # never leave a test object behind silently
                evidence.update(deleted=False, delete_error=str(exc))
                outcome = row.result(expected, f"test object {key} (version {version}) could not be deleted: {_code(exc)}", Verdict.FAIL, **evidence)
    return outcome or row.result(expected, f"wrote, read back and deleted {key}", Verdict.PASS, **evidence)


def check_replication(ctx: CheckContext, row: Row) -> CheckResult:
    """An Enabled replication rule targets the failover bucket, which exists versioned (003 §7, PROD)."""
    b: Bucket = row.item
    dest_arn = f"arn:aws:s3:::{b.replication_destination}"
    expected = f"Enabled replication rule to {b.replication_destination} ({b.replication_region}), destination versioned"
    try:
        cfg = ctx.client("s3").get_bucket_replication(Bucket=b.name)["ReplicationConfiguration"]
    except ClientError as exc:
        if _code(exc) == "ReplicationConfigurationNotFoundError":
            return row.result(expected, "no replication configuration", Verdict.FAIL)
        raise
    rules = cfg.get("Rules", [])
    evidence: dict[str, Any] = {"role": cfg.get("Role"), "rules": rules}
    live = [r for r in rules if r.get("Status") == "Enabled" and r.get("Destination", {}).get("Bucket") == dest_arn]
    if not live:
        seen = ", ".join(f"{r.get('ID')}:{r.get('Status')}->{r.get('Destination', {}).get('Bucket')}" for r in rules) or "no rules"
        return row.result(expected, f"no Enabled rule to {dest_arn} ({seen})", Verdict.FAIL, **evidence)
    dest = ctx.client("s3", region=b.replication_region)
    try:
        status = dest.get_bucket_versioning(Bucket=b.replication_destination).get("Status")
    except ClientError as exc:
        if _code(exc) == "NoSuchBucket":
            return row.result(expected, f"destination bucket {b.replication_destination} does not exist", Verdict.FAIL, **evidence)
        raise
    evidence["destination_versioning"] = status
    if status != "Enabled":
        return row.result(expected, f"rule {live[0].get('ID')} Enabled, but destination versioning {status or 'never enabled'}", Verdict.FAIL, **evidence)
    return row.result(expected, f"rule {live[0].get('ID')} Enabled to {b.replication_destination}, destination versioned", Verdict.PASS, **evidence)
