"""Terraform's S3-backend lock format, as the lock checks (``checks/terraform_checks.py``) and the lock
actions (``harness/actions/terraform_locks.py``) both read it (000 §5.3).

A lock is Terraform's LockInfo JSON (``ID``, ``Operation``, ``Info``, ``Who``, ``Version``,
``Created``, ``Path``): the ``Info`` attribute of a DynamoDB lock-table item (``dynamodb_table``), or
the body of the ``<key>.tflock`` object (``use_lockfile``, Terraform >= 1.10). With a lock table,
Terraform also keeps the state's md5 as the item ``<bucket>/<key>-md5`` (its ``Digest``).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

LOCKFILE_SUFFIX = ".tflock"  # Terraform >= 1.10 S3-native locking (use_lockfile)
DIGEST_SUFFIX = "-md5"  # <bucket>/<key>-md5: the state's md5, not a lock


def parse_created(text: str) -> datetime | None:
    """Terraform's ``Created`` (RFC 3339 with nanoseconds) as an aware datetime; None when unparseable."""
    text = text.strip().replace("Z", "+00:00")
    if "." in text:  # fromisoformat takes microseconds at most: trim the nanoseconds
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def read_lock_info(text: Any) -> dict[str, Any]:
    """A lock's LockInfo JSON (a lock item's ``Info``, a lockfile's body) as a dict; {} when it is not one."""
    try:
        info = json.loads(text) if isinstance(text, (str, bytes)) and text else {}
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}
