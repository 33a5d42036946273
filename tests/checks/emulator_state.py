"""Violating states the emulator's API cannot produce, set on moto's models in this process, each
with its undo. Test helpers only: ECS faults are not here but on the target's own handle
(``target.extensions.ecs``, harness/targets/embedded/fidelity/ecs_faults.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends
from moto.dynamodb.models import dynamodb_backends
from moto.s3.models import s3_backends


@contextmanager
def table_status(account: str, region: str, table: str, status: str) -> Iterator[None]:
    """DescribeTable reports ``status`` for ``table`` (moto always says ACTIVE)."""
    model: Any = dynamodb_backends[account][region].tables[table]
    original = model.describe

    def describe(*args: Any, **kwargs: Any) -> dict:
        out = original(*args, **kwargs)
        for body in out.values():
            body["TableStatus"] = status
        return out

    model.describe = describe
    try:
        yield
    finally:
        del model.describe  # back to the class's method


@contextmanager
def bucket_governance_lock(account: str, bucket: str) -> Iterator[None]:
    """New objects get a GOVERNANCE retention (Object Lock default rule), so deleting a version is
    denied; moto only allows this on an empty bucket, AWS on any versioned one."""
    model: Any = s3_backends[account]["aws"].buckets[bucket]
    saved = (model.object_lock_enabled, model.default_lock_mode, model.default_lock_days, model.default_lock_years)
    model.object_lock_enabled, model.default_lock_mode, model.default_lock_days, model.default_lock_years = (
        True,
        "GOVERNANCE",
        1,
        0,
    )
    try:
        yield
    finally:
        model.object_lock_enabled, model.default_lock_mode, model.default_lock_days, model.default_lock_years = saved


@contextmanager
def metrics_restored(account: str, region: str) -> Iterator[None]:
    """Whatever metric data the block adds is gone afterwards (CloudWatch cannot delete datapoints)."""
    backend = cloudwatch_backends[account][region]
    saved = list(backend.metric_data)
    try:
        yield
    finally:
        backend.metric_data[:] = saved
