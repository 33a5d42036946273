"""One clock: every timestamp moto writes for a served account comes from the target's clock.

moto stamps resources with the wall clock (``moto.core.utils.utcnow``, bound by name in each service's
models), so with a rehearsal clock Lambda LastModified, DynamoDB CreationDateTime (a restored table
"created" long before its RestoreDateTime), Logs creationTime and ingestionTime, S3 LastModified and
CloudFormation CreationTime disagreed with everything the extensions stamp from the target's clock. The
server marks each request with its account (``registry.acting_for``, ``server.py``); while a request of
a served account runs, ``utcnow`` answers that account's clock. Two stamps moto takes elsewhere follow
too: an S3 bucket's CreationDate (``datetime.now``) and DescribeStackResources' ``Timestamp`` (moto
hard-codes 2010-07-27; AWS: when the resource's status last changed, i.e. its newest stack event).
"""

from __future__ import annotations

import sys
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import moto.core.utils as moto_utils
from moto.cloudformation.responses import StackResourceDTO
from moto.s3.models import FakeBucket

from harness.targets.embedded.fidelity import registry

Wrapped = Callable[..., Any]
MICROSECOND = timedelta(microseconds=1)
MONOTONIC_WITHIN = timedelta(seconds=1)  # a clock set back further (a new target, a test) starts afresh
_stamp_lock = threading.Lock()
_last_stamp: dict[str, datetime] = {}


def naive_utc(at: datetime) -> datetime:
    """``at`` as the naive UTC datetime moto stores."""
    return at.astimezone(timezone.utc).replace(tzinfo=None) if at.tzinfo else at


def clock_now() -> datetime | None:
    """The current request's account clock (naive UTC), or None outside a served account's request.

    Strictly increasing per account (a microsecond apart on a clock that stands still, as a FixedClock
    does): moto orders object versions by LastModified alone, and on AWS successive writes are never
    simultaneous, so ties would list an older S3 version as the latest."""
    ctx = registry.context(registry.current_account())
    if ctx is None:
        return None
    now = naive_utc(ctx.clock.now())
    with _stamp_lock:
        last = _last_stamp.get(ctx.account)
        if last is not None and now <= last and last - now < MONOTONIC_WITHIN:
            now = last + MICROSECOND
        _last_stamp[ctx.account] = now
    return now


def _utcnow(original: Wrapped) -> Wrapped:
    def utcnow() -> datetime:
        now = clock_now()
        return original() if now is None else now

    utcnow.__doc__ = "moto's utcnow on the served account's clock (fidelity extension)."
    return utcnow


def _bucket_init(original: Wrapped) -> Wrapped:
    def __init__(self: FakeBucket, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        now = clock_now()
        if now is not None:
            self.creation_date = now.replace(tzinfo=timezone.utc)

    return __init__


def _resource_dto_init(original: Wrapped) -> Wrapped:
    def __init__(self: StackResourceDTO, stack: Any, resource: Any) -> None:
        original(self, stack, resource)
        if registry.context(getattr(stack, "account_id", None)) is None:
            return
        mine = [e.timestamp for e in stack.events if e.logical_resource_id == self.logical_resource_id]
        stamped = max(mine, default=None) or getattr(stack, "creation_time", None)
        if stamped is not None:  # CloudFormation API reference, StackResource: Timestamp, when the status changed
            self.timestamp = moto_utils.iso_8601_datetime_with_milliseconds(stamped)

    return __init__


PATCHES: tuple[registry.Patch, ...] = (
    (FakeBucket, "__init__", _bucket_init),
    (StackResourceDTO, "__init__", _resource_dto_init),
)


def install() -> None:
    """Put moto's ``utcnow`` (and every service module's binding of it) on the served account's clock."""
    original = registry.original(moto_utils, "utcnow")
    registry.patch(moto_utils, "utcnow", _utcnow)
    # Modules imported so far bound moto's utcnow by name; those imported later bind the patched one.
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.") and module is not None and module.__dict__.get("utcnow") is original:
            registry.patch(module, "utcnow", _utcnow)
    registry.patch_all(PATCHES)
