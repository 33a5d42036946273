"""S3 rows of the post-deployment validation (003 §7): versioning, public access block, default
encryption, a write-read of one uniquely named object that is always deleted, and (PROD) replication.

003 §7's write test uses a fixed key (``test-write.txt``) and ``aws s3 rm``, which in a versioned
bucket leaves the object's version and a delete marker behind; here the key is unique and the
exact version written is deleted, so nothing is left.

Replication (003 §5 step 6, §7 PROD-Specific Validation, "Cross-region replication working") must
cover what the inventory says should replicate: the whole bucket, unless the inventory names a
prefix (``s3.buckets[].replication.prefix``). A rule counts when it is Enabled, targets the failover
bucket, and its filter (``Filter.Prefix``, ``Filter.And.Prefix`` or the legacy rule-level
``Prefix``) is a prefix of that key space with no tag condition (a tag filter replicates only tagged
objects). The destination must exist and be versioned (S3 refuses to replicate otherwise).
"""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import ClientError

from harness import aws
from harness.checks.context import CheckContext, Row
from harness.checks.result import CheckResult, Verdict
from harness.checks.write_read import Probe
from harness.inventory.model import Bucket

# 003 §7's comment names three flags; RestrictPublicBuckets is the fourth the block needs to be complete.
PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
TEST_OBJECT_PREFIX = "harness-write-read/"


def check_versioning(ctx: CheckContext, row: Row) -> CheckResult:
    """Bucket versioning Status is Enabled (003 §7 ``get-bucket-versioning``)."""
    b: Bucket = row.item
    resp = ctx.client("s3").get_bucket_versioning(Bucket=b.name)
    status = resp.get("Status") or "never enabled"
    evidence = {"Status": resp.get("Status"), "MFADelete": resp.get("MFADelete")}
    return row.result(
        "versioning Enabled", f"versioning {status}", Verdict.PASS if status == "Enabled" else Verdict.FAIL, **evidence
    )


def check_public_access_block(ctx: CheckContext, row: Row) -> CheckResult:
    """All four public access block flags are true (003 §7 ``get-public-access-block``)."""
    b: Bucket = row.item
    expected = "public access block: " + ", ".join(f"{f}=true" for f in PAB_FLAGS)
    try:
        cfg = ctx.client("s3").get_public_access_block(Bucket=b.name)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        if aws.is_not_found(exc, "NoSuchPublicAccessBlockConfiguration"):
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
        if aws.is_not_found(exc, "ServerSideEncryptionConfigurationNotFoundError"):
            return row.result(expected, "no default encryption configured", Verdict.FAIL)
        raise
    algos = [r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules]
    ok = b.encryption in algos
    return row.result(
        expected,
        f"default encryption {', '.join(str(a) for a in algos) or 'none'}",
        Verdict.PASS if ok else Verdict.FAIL,
        rules=rules,
    )


def check_write_read(ctx: CheckContext, row: Row) -> CheckResult:
    """Put a uniquely named test object, read it back, delete exactly that version (003 §7)."""
    b: Bucket = row.item
    s3 = ctx.client("s3")
    key = f"{TEST_OBJECT_PREFIX}{uuid.uuid4()}.txt"
    body = f"runbook-harness write-read {key} at {ctx.now.isoformat()}\n".encode()
    expected = "test object written, read back identical, deleted"
    evidence: dict[str, Any] = {"bucket": b.name, "key": key}
    written, version = False, None
    probe = Probe()
    try:
        put = s3.put_object(Bucket=b.name, Key=key, Body=body)
        written, version = True, put.get("VersionId")
        evidence.update(version_id=version, server_side_encryption=put.get("ServerSideEncryption"))
        got = s3.get_object(Bucket=b.name, Key=key, **({"VersionId": version} if version else {}))["Body"].read()
        evidence["read_back_bytes"] = len(got)
        if got != body:
            probe.problem(f"read back {len(got)} bytes that differ from the {len(body)} written")
    except ClientError as exc:
        evidence["error"] = str(exc)
        probe.problem(f"{'read' if written else 'write'} failed: {aws.error_code(exc)}: {aws.error_message(exc)}", exc)
    finally:
        if written:
            try:
                s3.delete_object(Bucket=b.name, Key=key, **({"VersionId": version} if version else {}))
                evidence["deleted"] = True
            except ClientError as exc:  # never leave a test object behind silently
                evidence.update(deleted=False, delete_error=str(exc))
                probe.problem(f"test object {key} (version {version}) could not be deleted: {aws.error_code(exc)}", exc)
    return probe.result(row, expected, f"wrote, read back and deleted {key}", evidence)


def _rule_scope(rule: dict[str, Any]) -> tuple[str, bool]:
    """A rule's key prefix and whether it also has a tag condition (Filter, Filter.And, legacy Prefix)."""
    if "Filter" not in rule:
        return str(rule.get("Prefix") or ""), False  # V1 schema: rule-level Prefix
    flt = rule.get("Filter") or {}
    if "And" in flt:
        conj = flt["And"] or {}
        return str(conj.get("Prefix") or ""), bool(conj.get("Tags"))
    return str(flt.get("Prefix") or ""), "Tag" in flt


def _describe_rule(rule: dict[str, Any]) -> str:
    prefix, tagged = _rule_scope(rule)
    scope = (f"prefix {prefix!r}" if prefix else "whole bucket") + (" with a tag filter" if tagged else "")
    return (
        f"{rule.get('ID') or '(no ID)'}: {rule.get('Status')} -> {(rule.get('Destination') or {}).get('Bucket')} "
        f"({scope})"
    )


def check_replication(ctx: CheckContext, row: Row) -> CheckResult:
    """An Enabled replication rule covers the inventory's key space (the whole bucket unless it names a
    prefix) and targets the failover bucket, which exists and is versioned (003 §7, PROD)."""
    b: Bucket = row.item
    dest_arn = f"arn:aws:s3:::{b.replication_destination}"
    want = b.replication_prefix or ""
    scope = f"keys under {want!r}" if want else "the whole bucket"
    expected = (
        f"an Enabled replication rule covering {scope} to {b.replication_destination} "
        f"({b.replication_region}), destination versioned"
    )
    try:
        cfg = ctx.client("s3").get_bucket_replication(Bucket=b.name)["ReplicationConfiguration"]
    except ClientError as exc:
        if aws.is_not_found(exc, "ReplicationConfigurationNotFoundError"):
            return row.result(expected, "no replication configuration", Verdict.FAIL)
        raise
    rules = cfg.get("Rules", [])
    evidence: dict[str, Any] = {"role": cfg.get("Role"), "rules": rules, "required_prefix": want}
    seen = "; ".join(_describe_rule(r) for r in rules) or "no rules"
    to_dest = [r for r in rules if (r.get("Destination") or {}).get("Bucket") == dest_arn]
    enabled = [r for r in to_dest if r.get("Status") == "Enabled"]
    covering = [r for r in enabled if want.startswith(_rule_scope(r)[0]) and not _rule_scope(r)[1]]
    if not covering:
        if not enabled:
            why = f"no Enabled rule to {dest_arn}"
        else:
            why = f"no Enabled rule to {dest_arn} covers {scope}"
        return row.result(expected, f"{why} (rules: {seen})", Verdict.FAIL, **evidence)
    rule = covering[0]
    dest = ctx.client("s3", region=b.replication_region)
    try:
        status = dest.get_bucket_versioning(Bucket=b.replication_destination).get("Status")
    except ClientError as exc:
        if aws.is_not_found(exc, "NoSuchBucket"):
            return row.result(
                expected,
                f"rule {rule.get('ID')} Enabled, but destination bucket {b.replication_destination} does not exist",
                Verdict.FAIL,
                **evidence,
            )
        raise
    evidence["destination_versioning"] = status
    if status != "Enabled":
        return row.result(
            expected,
            f"rule {rule.get('ID')} Enabled, but destination versioning {status or 'never enabled'}",
            Verdict.FAIL,
            **evidence,
        )
    return row.result(expected, f"rule {_describe_rule(rule)}, destination versioned", Verdict.PASS, **evidence)
