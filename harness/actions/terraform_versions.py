"""Terraform state object versions (000 §5.2.1) and what they hold: list, choose, read, summarize; the
lock table's md5 Digest item of a state (Terraform S3 backend); the backup key of 000 §5.2.2.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from harness.actions.terraform_locks import DIGEST_SUFFIX, terraform_of
from harness.inventory.model import Terraform
from harness.targets.base import TargetLike
from harness.tf_state_format import parse_state, resource_names

BACKUP_INFIX = ".backup-"  # 000 §5.2.2: <key>.backup-$(date +%Y%m%d-%H%M%S)
BACKUP_STAMP = "%Y%m%d-%H%M%S"


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
