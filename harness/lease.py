"""The operation lease: one mutating operation at a time per (account, Region, environment).

Modelled on Terraform's state lock (a DynamoDB item written with a condition, ``-lock-timeout``,
``force-unlock``), because that is a lock on-call engineers already trust. The lease is an item in the
target account itself — the inventory's deployments table (001 §6.3.2 flat or 002 §4 PK/SK) unless
``[lease] table`` names another of its tables — so every operator, CI job and pytest run sees it:

- taken with one conditional ``PutItem`` (``attribute_not_exists``) before the first change; a held
  lease refuses the second operation naming holder (actor, host, pid), command and age;
- renewed by a background thread while the operation runs (``renew_every_s``; a short rollback never
  renews), each renewal conditional on the lease id, so a lease broken by someone else is noticed
  (``lost``) and a batch starts nothing new;
- released with one conditional ``DeleteItem`` at the end, also on an exception, Ctrl-C or SIGTERM;
- an expired lease (its holder died) is never taken over silently: it is broken only explicitly, by
  id (``break_lease``), and the break is written to the deployments table as a record.

Expiry is wall-clock time (epoch seconds): two processes on different rehearsal clocks still agree
on it. Lease items carry no ``action`` (001) and no ``METADATA`` sort key (002), so
``harness.records.from_item`` never reads one as a deployment record.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from harness import aws
from harness.clock import Clock, SystemClock
from harness.errors import HarnessError
from harness.inventory.model import Environment, Table
from harness.outcome import Outcome
from harness.poll import PollFailed, PollTimeout, Waiting, poll
from harness.records import DeploymentRecord, put_record, utc_stamp

LEASE_PREFIX = "LEASE#"
LEASE_SK = "LEASE"
CONDITION_FAILED = "ConditionalCheckFailedException"
LEASE_ENV = "HARNESS_LEASE_ID"  # set for the children of a lease holder (see operation_lease)

Wall = Callable[[], float]


class LeaseHeld(HarnessError):
    """Another operation holds the lease (or an expired one must be broken first)."""

    def __init__(self, holder: "Holder", now: float, hint: str = "") -> None:
        self.holder = holder
        super().__init__(holder.describe(now) + (f"; {hint}" if hint else ""))


class LeaseError(HarnessError):
    """The lease cannot be taken, broken or found as asked (one line for the operator)."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lease, for what, since when and until when (wall clock, epoch seconds)."""

    lease_id: str
    environment: str
    account: str
    region: str
    actor: str
    host: str
    pid: int
    command: str
    scope: str
    started: float
    expires: float

    def age_s(self, now: float) -> float:
        """Seconds since the lease was taken."""
        return max(0.0, now - self.started)

    def expired(self, now: float) -> bool:
        """True once the holder stopped renewing it for longer than its duration."""
        return now >= self.expires

    def describe(self, now: float) -> str:
        """``lease L on bbws/sit held by alice@host (pid 42) for `rollback --all` (all services), 12 s old``."""
        left = self.expires - now
        when = f"expired {-left:.0f} s ago" if left <= 0 else f"expires in {left:.0f} s unless renewed"
        return (
            f"lease {self.lease_id} on {self.environment} (account {self.account}, {self.region}) held by "
            f"{self.actor}@{self.host} (pid {self.pid}) for `{self.command}` ({self.scope}), "
            f"{self.age_s(now):.0f} s old, {when}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``harness locks``)."""
        return dict(vars(self))


@dataclass(frozen=True)
class LeaseSettings:
    """Where the lease lives and how long it lasts (the inventory's ``[lease]``)."""

    table: Table | None
    duration_s: float
    renew_every_s: float

    @classmethod
    def of(cls, env: Environment) -> "LeaseSettings":
        """The environment's lease settings: its named lease table, else its deployments table."""
        spec = env.lease
        table = env.table(spec.table) if spec.table else env.deployments_table
        return cls(table, spec.duration_s, spec.renew_every_s)


def _iso(epoch: float) -> str:
    return utc_stamp(datetime.fromtimestamp(epoch, timezone.utc))


def lease_key(table: Table, env: Environment) -> dict[str, dict[str, Any]]:
    """The lease item's key: one per (account, Region, environment), in the table's own schema."""
    name = f"{LEASE_PREFIX}{env.account}#{env.region}#{env.inventory}/{env.name}"
    key = {table.hash_key.name: {"S": name}}
    if table.range_key is not None:
        key[table.range_key.name] = {"S": LEASE_SK}
    return key


def _holder(item: dict[str, Any]) -> Holder:
    v = aws.from_item(item)
    return Holder(
        lease_id=str(v.get("lease_id") or "?"),
        environment=str(v.get("lease_environment") or "?"),
        account=str(v.get("lease_account") or "?"),
        region=str(v.get("lease_region") or "?"),
        actor=str(v.get("holder_actor") or "?"),
        host=str(v.get("holder_host") or "?"),
        pid=int(v.get("holder_pid") or 0),
        command=str(v.get("lease_command") or "?"),
        scope=str(v.get("lease_scope") or "?"),
        started=float(v.get("lease_started") or 0),
        expires=float(v.get("lease_expires") or 0),
    )


def read_lease(client: Any, table: Table, env: Environment) -> Holder | None:
    """The environment's lease as stored now (a consistent read), or None."""
    got = client.get_item(TableName=table.name, Key=lease_key(table, env), ConsistentRead=True)
    return _holder(got["Item"]) if got.get("Item") else None


class Lease:
    """One operation's lease: ``acquire``, renewed in the background, ``release`` (see the module docstring)."""

    def __init__(
        self,
        client: Any,
        env: Environment,
        settings: LeaseSettings,
        *,
        command: str,
        scope: str,
        actor: str,
        wall: Wall = time.time,
    ) -> None:
        assert settings.table is not None
        self.client, self.env, self.settings, self.table = client, env, settings, settings.table
        self.wall = wall
        self.holder = Holder(
            lease_id=uuid.uuid4().hex[:12],
            environment=f"{env.inventory}/{env.name}",
            account=env.account,
            region=env.region,
            actor=actor,
            host=socket.gethostname(),
            pid=os.getpid(),
            command=command,
            scope=scope,
            started=0.0,
            expires=0.0,
        )
        self.lost: str | None = None  # why renewing failed (broken by someone else): start nothing new
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    @property
    def lease_id(self) -> str:
        """The id an operator names to break this lease."""
        return self.holder.lease_id

    def _item(self, started: float, expires: float) -> dict[str, Any]:
        h = self.holder
        values = {
            "lease_id": h.lease_id,
            "lease_environment": h.environment,
            "lease_account": h.account,
            "lease_region": h.region,
            "holder_actor": h.actor,
            "holder_host": h.host,
            "holder_pid": h.pid,
            "lease_command": h.command,
            "lease_scope": h.scope,
            "lease_started": int(started * 1000) / 1000,
            "lease_expires": int(expires * 1000) / 1000,
            "lease_started_at": _iso(started),
            "lease_expires_at": _iso(expires),
        }
        return {**aws.to_item(values), **lease_key(self.table, self.env)}

    def try_acquire(self) -> Holder | None:
        """Take the lease (one conditional PutItem); None when taken, else who holds it."""
        now = self.wall()
        try:
            self.client.put_item(
                TableName=self.table.name,
                Item=self._item(now, now + self.settings.duration_s),
                ConditionExpression="attribute_not_exists(#k)",
                ExpressionAttributeNames={"#k": self.table.hash_key.name},
            )
        except Exception as exc:  # noqa: BLE001 (only a failed condition means "held"; anything else is raised)
            if aws.error_code(exc) != CONDITION_FAILED:
                raise
            held = read_lease(self.client, self.table, self.env)
            # released between our write and our read: say so as a holder-less refusal the caller retries
            return held or Holder("?", self.holder.environment, "?", "?", "?", "?", 0, "?", "?", now, now)
        self.holder = _with_times(self.holder, now, now + self.settings.duration_s)
        return None

    def renew(self) -> bool:
        """Push the expiry forward (conditional on our id); False, with ``lost`` set, when it was broken."""
        now = self.wall()
        try:
            self.client.update_item(
                TableName=self.table.name,
                Key=lease_key(self.table, self.env),
                UpdateExpression="SET lease_expires = :e, lease_expires_at = :t",
                ConditionExpression="lease_id = :id",
                ExpressionAttributeValues={
                    ":e": aws.attribute(int((now + self.settings.duration_s) * 1000) / 1000),
                    ":t": aws.attribute(_iso(now + self.settings.duration_s)),
                    ":id": aws.attribute(self.lease_id),
                },
            )
        except Exception as exc:  # noqa: BLE001 (a renewal failure is reported through ``lost``, never raised)
            if aws.error_code(exc) == CONDITION_FAILED:
                self.lost = f"lease {self.lease_id} was broken by someone else while this operation ran"
            return False
        self.holder = _with_times(self.holder, self.holder.started, now + self.settings.duration_s)
        return True

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.settings.renew_every_s):
            if not self.renew() and self.lost:
                return

    def start_renewing(self) -> None:
        """Renew in a daemon thread every ``renew_every_s`` until ``release``."""
        self._renewer = threading.Thread(target=self._renew_loop, name=f"lease-{self.lease_id}", daemon=True)
        self._renewer.start()

    def release(self) -> None:
        """Stop renewing and delete the lease if it is still ours (one conditional DeleteItem)."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        try:
            self.client.delete_item(
                TableName=self.table.name,
                Key=lease_key(self.table, self.env),
                ConditionExpression="lease_id = :id",
                ExpressionAttributeValues={":id": aws.attribute(self.lease_id)},
            )
        except Exception as exc:  # noqa: BLE001 (already broken by someone else: nothing of ours to release)
            if aws.error_code(exc) != CONDITION_FAILED:
                raise


def _with_times(h: Holder, started: float, expires: float) -> Holder:
    return Holder(**{**vars(h), "started": started, "expires": expires})


def acquire(
    lease: Lease,
    *,
    timeout_s: float = 0.0,
    poll_s: float = 1.0,
    progress: Callable[[str], None] | None = None,
    clock: Clock | None = None,
) -> None:
    """Take ``lease``, waiting up to ``timeout_s`` (wall clock) for a live holder; LeaseHeld when it cannot.

    An expired holder is never waited out or taken over: it needs ``break_lease`` (Terraform's
    ``force-unlock``), so the refusal says how.
    """
    held = lease.try_acquire()
    if held is None:
        return
    if held.expired(lease.wall()) or timeout_s <= 0:
        _refuse(held, lease.wall(), 0.0)
    if progress:
        progress(f"waiting up to {timeout_s:.0f} s for {held.describe(lease.wall())}")
    waiting: Waiting[Holder | None] = Waiting(
        what=f"lease on {lease.holder.environment}",
        state=lambda h: "free" if h is None else f"held by {h.actor}@{h.host} (pid {h.pid}) for `{h.command}`",
        done=lambda h: h is None,
        failed=lambda h: h is not None and h.expired(lease.wall()),
        timeout_s=timeout_s,
        interval_s=poll_s,
    )
    try:
        poll(clock or SystemClock(), lease.try_acquire, waiting, progress=progress, every_s=30.0)
    except (PollTimeout, PollFailed) as exc:
        _refuse(exc.last or held, lease.wall(), exc.waited_s)


def _refuse(holder: Holder, now: float, waited_s: float) -> None:
    if holder.expired(now):
        raise LeaseHeld(holder, now, f"its holder stopped renewing it: break it with --break-lease {holder.lease_id}")
    hint = f"waited {waited_s:.0f} s" if waited_s else "wait for it with --lock-timeout DURATION"
    raise LeaseHeld(holder, now, hint)


def break_lease(
    client: Any,
    env: Environment,
    settings: LeaseSettings,
    lease_id: str,
    *,
    actor: str,
    reason: str | None,
    wall: Wall = time.time,
) -> Holder:
    """Delete an expired lease named by id, and write the break as a record; LeaseError otherwise."""
    table = settings.table
    if table is None:
        raise LeaseError(f"{env.inventory}/{env.name} names no lease table: there is no lease to break")
    held = read_lease(client, table, env)
    now = wall()
    if held is None or held.lease_id != lease_id:
        now_held = held.describe(now) if held else "no lease is held"
        raise LeaseError(f"--break-lease {lease_id}: not the lease held ({now_held})")
    if not held.expired(now):
        raise LeaseError(f"--break-lease {lease_id}: refused, the lease is live ({held.describe(now)})")
    try:
        client.delete_item(
            TableName=table.name,
            Key=lease_key(table, env),
            ConditionExpression="lease_id = :id AND lease_expires <= :now",
            ExpressionAttributeValues={":id": aws.attribute(lease_id), ":now": aws.attribute(now)},
        )
    except Exception as exc:  # noqa: BLE001 (renewed or replaced between the read and the delete)
        if aws.error_code(exc) != CONDITION_FAILED:
            raise
        raise LeaseError(f"--break-lease {lease_id}: the lease changed while breaking it; nothing broken") from None
    if env.deployments_table is not None:
        stamp = utc_stamp(datetime.fromtimestamp(now, timezone.utc))
        put_record(
            client,
            env.deployments_table,
            DeploymentRecord(
                record_id=f"lease-break-{lease_id}-{uuid.uuid4().hex[:6]}",
                action="lease-break",
                environment=env.name,
                timestamp=stamp,
                status=Outcome.COMPLETE,
                actor=actor,
                reason=reason,
                completed_at=stamp,
                resource=f"lease:{lease_id}",
                extra={"broken_holder": held.describe(now), "holder_command": held.command},
            ),
        )
    return held


@contextmanager
def operation_lease(
    target: Any,
    *,
    command: str,
    scope: str,
    actor: str,
    timeout_s: float = 0.0,
    progress: Callable[[str], None] | None = None,
    wall: Wall = time.time,
    export: bool = False,
) -> Iterator[Lease | None]:
    """``with operation_lease(target, command=..., scope=..., actor=...) as lease:`` held for the block.

    None when the inventory names no table to hold it in (nothing to coordinate through: said once
    through ``progress``), or when this process runs inside the operation that holds it: a child
    started by a lease holder (a drill's ``--recovery-cmd`` running ``harness rollback``) finds the
    holder's id in ``HARNESS_LEASE_ID`` and joins it instead of being refused. ``export=True`` puts the
    id there for the block (children inherit it). Released on any exit, KeyboardInterrupt included.
    """
    settings = LeaseSettings.of(target.env)
    if settings.table is None:
        if progress:
            progress(f"no lease: {target.env.inventory}/{target.env.name} names no deployments or [lease] table")
        yield None
        return
    parent = os.environ.get(LEASE_ENV)
    if parent:
        held = read_lease(target.client("dynamodb"), settings.table, target.env)
        if held is not None and held.lease_id == parent:
            if progress:
                progress(f"joining lease {parent}: this command runs inside the operation that holds it")
            yield None
            return
    lease = Lease(target.client("dynamodb"), target.env, settings, command=command, scope=scope, actor=actor, wall=wall)
    acquire(lease, timeout_s=timeout_s, progress=progress)
    before = os.environ.get(LEASE_ENV)
    try:
        lease.start_renewing()
        if export:
            os.environ[LEASE_ENV] = lease.lease_id
        yield lease
    finally:
        if export:
            if before is None:
                os.environ.pop(LEASE_ENV, None)
            else:
                os.environ[LEASE_ENV] = before
        lease.release()
