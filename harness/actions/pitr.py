"""DynamoDB point-in-time recovery (000 §6.2-§6.5, 004 "DynamoDB Rollback"): status, restore, cleanup.

- :func:`pitr_status`: PITR enabled and the restorable window (000 §6.2, §6.3);
- restore (plan, then apply) into a new table ``<table><suffix>[<UTC ts>]`` — 000 §6.4's
  ``-restored-$(date +%Y%m%d%H%M%S)`` or 004's ``-recovery``, per the inventory (``dynamodb.restore_*``)
  or an explicit name — at a time inside the window or at the latest restorable time (004
  ``--use-latest-restorable-time``), optionally with 004's SSE override; waits for ACTIVE on the
  target's clock (harness.poll: a progress line per state change and every 10 s, a timeout fails with
  the last state seen); the plan names the source's item count now, the result the restored table's
  next to it (an empty restore — the latest restorable time before the writes — says so);
- what a restore leaves off (AWS: PITR, TTL, tags and streams of the source are not carried; nor are
  autoscaling, alarms or IAM policies) is re-applied from the source when asked (``reapply``);
- cleanup of restored tables (harness.actions.table_cleanup, re-exported here);
- :func:`digests_at`: the source as it was at a time, for verification (restore, digest, drop).

Refusals (one line each, nothing created): PITR disabled, a time outside the window, a target name
that exists, a target that cannot rehearse ``pitr-restore`` (LocalStack), missing permission/approvals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from harness import aws
from harness.actions.audit_record import audit, new_plan
from harness.actions.base import COMPLETE, ActionResult, Change, Plan, execute
from harness.actions.guards import Authority, refusal
from harness.actions.pitr_settings import carried_off, reapply_setting, short
from harness.actions.table_cleanup import apply_drop_table, drop_table, plan_drop_table, switch_leftovers, wait_table
from harness.data_verify import DEFAULT_SEGMENTS, Digests, count_items, table_digests
from harness.inventory.model import Table
from harness.poll import PollFailed, PollTimeout, Waiting, poll
from harness.targets.base import TargetLike

RULE = "prod-rollback"
CAPABILITY = "pitr-restore"
NAME_STAMP = "%Y%m%d%H%M%S"  # 000 §6.4 $(date +%Y%m%d%H%M%S)
VERIFY_SUFFIX = "-verify"  # scratch restores made only to read the source at a time (digests_at)
ACTIVE_POLL_S = 20.0  # boto3 table_exists waiter's delay on AWS
RESTORABLE_POLL_S = 60.0
RESTORABLE_TIMEOUT_S = 30 * 60.0  # LatestRestorableDateTime trails now by about 5 minutes: 30 is ample
# DescribeContinuousBackups: LatestRestorableDateTime "is typically 5 minutes before the current time".
TYPICAL_LAG = timedelta(minutes=5)
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    """No progress output."""


@dataclass(frozen=True)
class PitrStatus:
    """A table's PITR status and restorable window (000 §6.2, §6.3)."""

    table: str
    status: str  # ENABLED | DISABLED
    earliest: datetime | None
    latest: datetime | None
    recovery_days: int | None

    @property
    def enabled(self) -> bool:
        """True when point-in-time recovery is on."""
        return self.status == "ENABLED"

    def contains(self, at: datetime) -> bool:
        """True when ``at`` is inside [earliest, latest]."""
        return (
            self.enabled
            and self.earliest is not None
            and self.latest is not None
            and self.earliest <= at <= self.latest
        )

    def line(self) -> str:
        """``tenants-sit: PITR ENABLED, restorable 2026-..Z .. 2026-..Z (35 days)``."""
        if not self.enabled:
            return f"{self.table}: PITR {self.status}"
        window = f"{_iso(self.earliest)} .. {_iso(self.latest)}"
        return f"{self.table}: PITR ENABLED, restorable {window}" + (
            f" ({self.recovery_days} days)" if self.recovery_days else ""
        )


def _iso(at: datetime | None) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z") if at else "?"


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def pitr_status(target: TargetLike, table: str) -> PitrStatus:
    """DescribeContinuousBackups: status and window (000 §6.2 "Verify PITR is enabled", §6.3)."""
    desc = target.client("dynamodb").describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    pitr = desc.get("PointInTimeRecoveryDescription") or {}
    earliest, latest = pitr.get("EarliestRestorableDateTime"), pitr.get("LatestRestorableDateTime")
    return PitrStatus(
        table,
        pitr.get("PointInTimeRecoveryStatus", "DISABLED"),
        _utc(earliest) if earliest else None,
        _utc(latest) if latest else None,
        pitr.get("RecoveryPeriodInDays"),
    )


def restored_name(spec: Table, now: datetime, suffix: str | None = None) -> str:
    """``<table><suffix>[<UTC %Y%m%d%H%M%S>]`` (000 §6.4; 004 ``-recovery`` without a timestamp)."""
    stamp = now.astimezone(timezone.utc).strftime(NAME_STAMP) if spec.restore_timestamp else ""
    return f"{spec.name}{spec.restore_suffix if suffix is None else suffix}{stamp}"


# -- restore: plan, then apply ----------------------------------------------------------------


@dataclass(frozen=True)
class RestoreSpec:
    """What a pitr-restore plan read and will do: source, new table, time, settings, counts."""

    table: str
    target_name: str
    at: datetime | None  # None: the latest restorable time
    sse: bool
    reapply: bool
    settings: tuple[tuple[str, Any], ...]
    window: tuple[datetime | None, datetime | None]
    wait_minutes: int
    source_items: int  # the source's item count when planned


def plan_pitr_restore(
    target: TargetLike,
    table: str,
    *,
    authority: Authority,
    at: datetime | None = None,
    name: str | None = None,
    suffix: str | None = None,
    sse: bool | None = None,
    reapply: bool = False,
) -> Plan[RestoreSpec]:
    """Decide, reading only, the restore (time, name, settings, the source's count); refusals say why in one line."""
    plan: Plan[RestoreSpec] = new_plan(
        "pitr-restore", target, authority, ("dynamodb-table-active", "dynamodb-reads", "dynamodb-pitr")
    )
    if not target.supports(CAPABILITY):
        plan.refusal = target.unsupported_reason(CAPABILITY)
        plan.notes.append("skip: this target cannot rehearse pitr-restore")
        return plan
    try:
        spec = target.env.table(table)
    except KeyError as exc:
        plan.refusal = str(exc.args[0])
        return plan
    at = _utc(at) if at is not None else None
    target_name = name or restored_name(spec, plan.planned_at, suffix)
    plan.refusal = _restore_refusal(target, authority, table, at, target_name)
    if plan.refused:
        return plan
    ddb = target.client("dynamodb")
    source = ddb.describe_table(TableName=table)["Table"]
    status = pitr_status(target, table)
    use_sse = spec.restore_sse if sse is None else sse
    settings = tuple(carried_off(target, table, source["TableArn"], source.get("StreamSpecification")))
    plan.spec = RestoreSpec(
        table,
        target_name,
        at,
        use_sse,
        reapply,
        settings,
        (status.earliest, status.latest),
        spec.restore_wait_minutes,
        count_items(ddb, table),
    )
    _restore_changes(plan, plan.spec, status)
    return plan


def _restore_refusal(
    target: TargetLike, authority: Authority, table: str, at: datetime | None, target_name: str
) -> str | None:
    """Why the restore cannot be planned: permission, source missing, PITR off, time outside, name taken."""
    why = refusal(target, authority, rule=RULE)
    if why:
        return why
    ddb = target.client("dynamodb")
    if aws.get_or_none(ddb.describe_table, TableName=table) is None:
        return f"table {table} does not exist on {target.name}"
    status = pitr_status(target, table)
    if not status.enabled:
        return (
            f"{status.line()}: no point-in-time restore is possible (000 §6.2); enabling it now covers "
            "only writes from now on"
        )
    if at is not None and not status.contains(at):
        return (
            f"restore time {_iso(at)} is outside {table}'s restorable window {_iso(status.earliest)} .. "
            f"{_iso(status.latest)} (000 §6.3; the latest restorable time trails now by about 5 minutes)"
        )
    if aws.get_or_none(ddb.describe_table, TableName=target_name) is not None:
        return (
            f"table {target_name} already exists: a restore never writes over a table (000 §6.4); drop "
            "it or choose another name"
        )
    return None


def _restore_changes(plan: Plan[RestoreSpec], spec: RestoreSpec, status: PitrStatus) -> None:
    when = _iso(spec.at) if spec.at else f"latest restorable time (now {_iso(status.latest)})"
    plan.changes.append(
        Change(
            f"dynamodb:{spec.target_name}",
            "table",
            None,
            f"{spec.table} as of {when}" + (", SSE override Enabled" if spec.sse else ""),
            "create",
            "000 §6.4 restore to a new table; 004 "
            + ("--use-latest-restorable-time" if spec.at is None else "RestoreDateTime"),
        )
    )
    if spec.reapply:
        for setting, value in spec.settings:
            plan.changes.append(
                Change(
                    f"dynamodb:{spec.target_name}",
                    setting,
                    None,
                    short(value),
                    "update",
                    f"re-applied from {spec.table}: a restore does not carry it",
                )
            )
    elif spec.settings:
        plan.notes.append(
            f"{spec.target_name} will lack {', '.join(s for s, _ in spec.settings)} of {spec.table} (a restore does "
            "not carry them); --reapply re-applies them"
        )
    plan.notes.append(
        f"{spec.table} has {spec.source_items} items now; the restored table holds the items as of that time "
        "(its count is printed next to this one when ACTIVE)"
    )
    plan.notes.append(
        "not carried and not re-applied by the harness: autoscaling policies, CloudWatch alarms, IAM policies naming "
        "the table"
    )


def wait_active(target: TargetLike, name: str, *, minutes: int, progress: Progress = _quiet) -> float:
    """Poll DescribeTable on the target's clock until ACTIVE (a restore is CREATING for minutes to hours);
    seconds waited; TimeoutError with the last status seen."""
    try:
        # AWS's interval on every target: a rehearsal clock's sleep is free, and a faster one only multiplies
        # DescribeTable calls (a 20-minute restore polled every 0.1 s is 12,000 calls).
        return wait_table(
            target,
            name,
            what=f"restore {name}",
            goal="ACTIVE",
            timeout_s=minutes * 60.0,
            interval_s=ACTIVE_POLL_S,
            progress=progress,
        )
    except (PollTimeout, PollFailed) as exc:
        raise TimeoutError(f"{exc} (dynamodb.restore_wait_minutes {minutes})") from None


def _spec(plan: Plan[RestoreSpec]) -> RestoreSpec:
    if plan.spec is None:
        raise ValueError(f"{plan.action} plan has no spec (refused plans are never applied)")
    return plan.spec


def apply_pitr_restore(target: TargetLike, plan: Plan[RestoreSpec], *, progress: Progress = _quiet) -> ActionResult:
    """RestoreTableToPointInTime, wait ACTIVE, count, re-apply settings when asked; audit record COMPLETE or FAILED."""
    d = _spec(plan)
    ddb = target.client("dynamodb")
    result = ActionResult(plan, COMPLETE)
    kwargs: dict[str, Any] = {"SourceTableName": d.table, "TargetTableName": d.target_name}
    kwargs.update({"RestoreDateTime": d.at} if d.at else {"UseLatestRestorableTime": True})
    if d.sse:
        kwargs["SSESpecificationOverride"] = {"Enabled": True}  # 004 --sse-specification-override Enabled=true
    extra = {"restored_table": d.target_name, "restore_time": _iso(d.at) if d.at else "latest"}
    with audit(target, plan, resource=f"dynamodb:{d.table}", to_version=d.target_name, extra=extra) as trail:
        began = target.clock.now()
        ddb.restore_table_to_point_in_time(**kwargs)
        result.changed(target.clock.now(), plan.changes[0])
        result.log(began, f"RestoreTableToPointInTime {d.table} -> {d.target_name} ({extra['restore_time']})")
        waited = wait_active(target, d.target_name, minutes=d.wait_minutes, progress=progress)
        desc = ddb.describe_table(TableName=d.target_name)["Table"]
        stamp = (desc.get("RestoreSummary") or {}).get("RestoreDateTime")
        restored_at = _iso(_utc(stamp)) if stamp else None
        # The source was counted when planned (one scan each: on a large table a count is a full read).
        restored, source = count_items(ddb, d.target_name), d.source_items
        counts = f"{d.target_name} has {restored} items, {d.table} {source} when planned"
        result.log(target.clock.now(), f"ACTIVE after {waited:.1f} s, restored as of {restored_at or '?'}; {counts}")
        if d.reapply:
            for (setting, value), change in zip(d.settings, plan.changes[1:], strict=True):
                reapply_setting(target, d.target_name, desc["TableArn"], setting, value)
                result.changed(target.clock.now(), change)
                result.log(target.clock.now(), f"re-applied {setting} on {d.target_name}")
        trail.update(
            extra={**trail.record.extra, "restored_at": restored_at, "items": restored, "source_items": source}
        )
    result.record = trail.record
    empty = (
        f"; the restored table is EMPTY (the restore time preceded {d.table}'s writes): switch-table and copy-back "
        "refuse it without --allow-shrink"
        if restored == 0 and source
        else ""
    )
    result.message = (
        f"restored {d.table} as of {restored_at or extra['restore_time']} into {d.target_name} "
        f"(ACTIVE after {waited:.1f} s): {restored} items restored, {source} in {d.table} when planned"
        + ("; settings re-applied" if d.reapply and d.settings else "")
        + empty
    )
    result.evidence.update(
        restored_table=d.target_name,
        restored_at=restored_at,
        restored_items=restored,
        source_items=source,
        wait_seconds=round(waited, 3),
        sse=d.sse,
        settings=[s for s, _ in d.settings],
        reapplied=d.reapply,
        window=[_iso(w) for w in d.window],
    )
    return result


def restore_table(
    target: TargetLike,
    table: str,
    *,
    authority: Authority,
    at: datetime | None = None,
    name: str | None = None,
    suffix: str | None = None,
    sse: bool | None = None,
    reapply: bool = False,
    dry_run: bool = False,
    progress: Progress = _quiet,
) -> ActionResult:
    """Plan and (unless refused or a dry run) restore ``table`` to a new table."""
    return execute(
        lambda: plan_pitr_restore(
            target, table, authority=authority, at=at, name=name, suffix=suffix, sse=sse, reapply=reapply
        ),
        lambda p: apply_pitr_restore(target, p, progress=progress),
        dry_run=dry_run,
    )


def wait_restorable(
    target: TargetLike,
    table: str,
    at: datetime,
    *,
    progress: Progress = _quiet,
    timeout_s: float = RESTORABLE_TIMEOUT_S,
) -> PitrStatus:
    """Let time pass on the target's clock until ``at`` is restorable (LatestRestorableDateTime >= at, or PITR off);
    the last status read, with a progress line saying so when it gave up."""
    at = _utc(at)
    waiting: Waiting[PitrStatus] = Waiting(
        f"{table}: latest restorable time reaching {_iso(at)}",
        state=lambda st: f"latest restorable {_iso(st.latest)}" if st.enabled else f"PITR {st.status}",
        done=lambda st: not st.enabled or (st.latest is not None and st.latest >= at),
        timeout_s=timeout_s,
        interval_s=RESTORABLE_POLL_S,
    )
    try:
        return poll(target.clock, lambda: pitr_status(target, table), waiting, progress=progress)
    except PollTimeout as exc:
        progress(f"gave up: {exc}")
        last: PitrStatus = exc.last
        return last


# -- the source as it was at a time ------------------------------------------------------------


def digests_at(
    target: TargetLike,
    table: str,
    at: datetime,
    *,
    authority: Authority,
    segments: int = DEFAULT_SEGMENTS,
    progress: Progress = _quiet,
) -> Digests:
    """Key -> digest of ``table`` as it was at ``at``: restore to a scratch table, scan it, drop it."""
    spec = target.env.table(table)
    name = restored_name(spec, target.clock.now()) + VERIFY_SUFFIX
    restored = restore_table(target, table, authority=authority, at=at, name=name, progress=progress)
    if restored.outcome != COMPLETE:
        raise RuntimeError(f"cannot read {table} as of {_iso(_utc(at))}: {restored.outcome}: {restored.message}")
    try:
        digests = table_digests(
            target.client("dynamodb"), name, segments=segments, taken_at=_utc(at), progress=progress
        )
    finally:
        dropped = drop_table(target, name, authority=authority)
        if dropped.outcome != COMPLETE:
            progress(f"scratch table {name} left behind: {dropped.message}")
    digests.source = f"dynamodb:{table}@{_iso(_utc(at))}"
    return digests


__all__ = [
    "RestoreSpec",
    "switch_leftovers",
    "PitrStatus",
    "apply_drop_table",
    "apply_pitr_restore",
    "digests_at",
    "drop_table",
    "pitr_status",
    "plan_drop_table",
    "plan_pitr_restore",
    "restore_table",
    "restored_name",
    "wait_active",
    "wait_restorable",
]
