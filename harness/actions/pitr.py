"""DynamoDB point-in-time recovery (000 §6.2-§6.5, 004 "DynamoDB Rollback"): status, restore, cleanup.

- :func:`pitr_status`: PITR enabled and the restorable window (000 §6.2, §6.3);
- restore (plan, then apply) into a new table ``<table><suffix>[<UTC ts>]`` — 000 §6.4's
  ``-restored-$(date +%Y%m%d%H%M%S)`` or 004's ``-recovery``, per the inventory (``dynamodb.restore_*``)
  or an explicit name — at a time inside the window or at the latest restorable time (004
  ``--use-latest-restorable-time``), optionally with 004's SSE override; waits for ACTIVE with boto3's
  ``table_exists`` waiter, a progress line per round of polls;
- what a restore leaves off (AWS: PITR, TTL, tags and streams of the source are not carried; nor are
  autoscaling, alarms or IAM policies) is re-applied from the source when asked (``reapply``);
- cleanup of restored tables (only tables a restore created, never an inventory table, never one a
  function's alias still reads);
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
from harness.actions.table_switch import tables_served
from harness.data_verify import DEFAULT_SEGMENTS, Digests, table_digests
from harness.inventory.model import Table
from harness.poll import PollTimeout, Waiting, poll
from harness.targets.base import TargetLike

RULE = "prod-rollback"
CAPABILITY = "pitr-restore"
NAME_STAMP = "%Y%m%d%H%M%S"  # 000 §6.4 $(date +%Y%m%d%H%M%S)
VERIFY_SUFFIX = "-verify"  # scratch restores made only to read the source at a time (digests_at)
WAIT_ROUNDS = 3  # table_exists polls per progress line
TABLE_EXISTS_DELAY_S = 20.0  # botocore's table_exists waiter: every 20 s
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


def _carried_off(
    target: TargetLike, source: str, source_arn: str, stream: dict[str, Any] | None
) -> list[tuple[str, Any]]:
    """What a restore does not carry and the source has: (setting, value) for PITR, TTL, tags, streams."""
    ddb = target.client("dynamodb")
    out: list[tuple[str, Any]] = []
    status = pitr_status(target, source)
    if status.enabled:
        out.append(
            (
                "PointInTimeRecovery",
                {
                    "PointInTimeRecoveryEnabled": True,
                    **({"RecoveryPeriodInDays": status.recovery_days} if status.recovery_days else {}),
                },
            )
        )
    ttl = ddb.describe_time_to_live(TableName=source).get("TimeToLiveDescription") or {}
    if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and ttl.get("AttributeName"):
        out.append(("TimeToLive", {"Enabled": True, "AttributeName": ttl["AttributeName"]}))
    tags = list(aws.paginate(ddb, "list_tags_of_resource", "Tags", ResourceArn=source_arn))
    if tags:
        out.append(("Tags", tags))
    if stream and stream.get("StreamEnabled"):
        out.append(("StreamSpecification", {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}))
    return out


# -- restore: plan, then apply ----------------------------------------------------------------


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
) -> Plan:
    """Decide, reading only, the restore (time, name, settings); refusals say why in one line."""
    env = target.env
    plan = new_plan("pitr-restore", target, authority, ("dynamodb-table-active", "dynamodb-reads", "dynamodb-pitr"))
    now = plan.planned_at
    if not target.supports(CAPABILITY):
        plan.refusal = target.unsupported_reason(CAPABILITY)
        plan.details["skip"] = True
        return plan
    try:
        spec = env.table(table)
    except KeyError as exc:
        plan.refusal = str(exc.args[0])
        return plan
    why = refusal(target, authority, rule=RULE)
    if why:
        plan.refusal = why
        return plan
    ddb = target.client("dynamodb")
    source = aws.get_or_none(ddb.describe_table, TableName=table)
    if source is None:
        plan.refusal = f"table {table} does not exist on {target.name}"
        return plan
    status = pitr_status(target, table)
    if not status.enabled:
        plan.refusal = (
            f"{status.line()}: no point-in-time restore is possible (000 §6.2); enabling it now covers "
            "only writes from now on"
        )
        return plan
    if at is not None:
        at = _utc(at)
        if not status.contains(at):
            plan.refusal = (
                f"restore time {_iso(at)} is outside {table}'s restorable window {_iso(status.earliest)} .. "
                f"{_iso(status.latest)} "
                "(000 §6.3; the latest restorable time trails now by about 5 minutes)"
            )
            return plan
    target_name = name or restored_name(spec, now, suffix)
    if aws.get_or_none(ddb.describe_table, TableName=target_name) is not None:
        plan.refusal = (
            f"table {target_name} already exists: a restore never writes over a table (000 §6.4); drop "
            "it or choose another name"
        )
        return plan
    use_sse = spec.restore_sse if sse is None else sse
    when = _iso(at) if at else f"latest restorable time (now {_iso(status.latest)})"
    plan.changes.append(
        Change(
            f"dynamodb:{target_name}",
            "table",
            None,
            f"{table} as of {when}" + (", SSE override Enabled" if use_sse else ""),
            "create",
            "000 §6.4 restore to a new table; 004 "
            + ("--use-latest-restorable-time" if at is None else "RestoreDateTime"),
        )
    )
    settings = _carried_off(target, table, source["Table"]["TableArn"], source["Table"].get("StreamSpecification"))
    if reapply:
        for setting, value in settings:
            plan.changes.append(
                Change(
                    f"dynamodb:{target_name}",
                    setting,
                    None,
                    _short(value),
                    "update",
                    f"re-applied from {table}: a restore does not carry it",
                )
            )
    elif settings:
        plan.notes.append(
            f"{target_name} will lack {', '.join(s for s, _ in settings)} of {table} (a restore does not carry "
            "them); --reapply re-applies them"
        )
    plan.notes.append(
        "not carried and not re-applied by the harness: autoscaling policies, CloudWatch alarms, IAM policies naming "
        "the table"
    )
    plan.details.update(
        table=table,
        target_name=target_name,
        at=at,
        sse=use_sse,
        reapply=reapply,
        settings=settings,
        window=(status.earliest, status.latest),
        wait_minutes=spec.restore_wait_minutes,
        item_count=source["Table"].get("ItemCount"),
    )
    return plan


def _short(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(f"{t.get('Key')}={t.get('Value')}" for t in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def wait_active(target: TargetLike, name: str, *, minutes: int, progress: Progress = _quiet) -> float:
    """Poll DescribeTable until ACTIVE on the target's clock (``table_exists``' 20 s delay); seconds waited.

    On the clock, not botocore's waiter: a restore takes 20 minutes or more (AWS re:Post), which a rehearsal
    clock passes without waiting and AWS really waits for."""
    ddb = target.client("dynamodb")
    progress(f"waiting for {name} to become ACTIVE (DescribeTable every {TABLE_EXISTS_DELAY_S} s, up to {minutes} min)")

    def status() -> str:
        return str(
            (aws.get_or_none(ddb.describe_table, TableName=name) or {}).get("Table", {}).get("TableStatus", "absent")
        )

    waiting = Waiting(
        what=name,
        state=lambda s: s,
        done=lambda s: s == "ACTIVE",
        timeout_s=minutes * 60.0,
        interval_s=TABLE_EXISTS_DELAY_S,
    )
    began = target.clock.now()
    try:
        poll(target.clock, status, waiting, progress=progress, every_s=TABLE_EXISTS_DELAY_S * WAIT_ROUNDS)
    except PollTimeout as exc:
        raise TimeoutError(
            f"{name} still {exc.state} after {exc.waited_s / 60:.0f} min (dynamodb.restore_wait_minutes {minutes})"
        ) from None
    waited = (target.clock.now() - began).total_seconds()
    progress(f"{name} is ACTIVE after {waited:.1f} s")
    return waited


def apply_pitr_restore(target: TargetLike, plan: Plan, *, progress: Progress = _quiet) -> ActionResult:
    """RestoreTableToPointInTime, wait ACTIVE, re-apply settings when asked; audit record COMPLETE or FAILED."""
    d = plan.details
    ddb = target.client("dynamodb")
    result = ActionResult(plan, COMPLETE)
    kwargs: dict[str, Any] = {"SourceTableName": d["table"], "TargetTableName": d["target_name"]}
    kwargs.update({"RestoreDateTime": d["at"]} if d["at"] else {"UseLatestRestorableTime": True})
    if d["sse"]:
        kwargs["SSESpecificationOverride"] = {"Enabled": True}  # 004 --sse-specification-override Enabled=true
    extra = {"restored_table": d["target_name"], "restore_time": _iso(d["at"]) if d["at"] else "latest"}
    with audit(target, plan, resource=f"dynamodb:{d['table']}", to_version=d["target_name"], extra=extra) as trail:
        began = target.clock.now()
        ddb.restore_table_to_point_in_time(**kwargs)
        result.changed(target.clock.now(), plan.changes[0])
        result.log(began, f"RestoreTableToPointInTime {d['table']} -> {d['target_name']} ({extra['restore_time']})")
        waited = wait_active(target, d["target_name"], minutes=d["wait_minutes"], progress=progress)
        desc = ddb.describe_table(TableName=d["target_name"])["Table"]
        restored_at = (desc.get("RestoreSummary") or {}).get("RestoreDateTime")
        result.log(
            target.clock.now(),
            f"{d['target_name']} ACTIVE after {waited:.1f} s, restored as of "
            f"{_iso(_utc(restored_at)) if restored_at else '?'}",
        )
        if d["reapply"]:
            for (setting, value), change in zip(d["settings"], plan.changes[1:], strict=True):
                _reapply(target, d["target_name"], desc["TableArn"], setting, value)
                result.changed(target.clock.now(), change)
                result.log(target.clock.now(), f"re-applied {setting} on {d['target_name']}")
        trail.update(extra={**trail.record.extra, "restored_at": _iso(_utc(restored_at)) if restored_at else None})
    result.record = trail.record
    result.message = (
        f"restored {d['table']} as of {_iso(_utc(restored_at)) if restored_at else extra['restore_time']} into "
        f"{d['target_name']} "
        f"(ACTIVE after {waited:.1f} s)" + ("; settings re-applied" if d["reapply"] and d["settings"] else "")
    )
    result.evidence.update(
        restored_table=d["target_name"],
        restored_at=_iso(_utc(restored_at)) if restored_at else None,
        wait_seconds=round(waited, 3),
        sse=bool(d["sse"]),
        settings=[s for s, _ in d["settings"]],
        reapplied=bool(d["reapply"]),
        window=[_iso(w) for w in d["window"]],
    )
    return result


def _reapply(target: TargetLike, name: str, arn: str, setting: str, value: Any) -> None:
    ddb = target.client("dynamodb")
    if setting == "PointInTimeRecovery":
        ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification=value)
    elif setting == "TimeToLive":
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=value)
    elif setting == "Tags":
        ddb.tag_resource(ResourceArn=arn, Tags=value)
    elif setting == "StreamSpecification":
        ddb.update_table(TableName=name, StreamSpecification=value)
        aws.wait(ddb, "table_exists", target.waiter_config, TableName=name)
    else:  # pragma: no cover - the plan only lists the four above
        raise ValueError(f"unknown setting {setting}")


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
    target: TargetLike, table: str, at: datetime, *, progress: Progress = _quiet, rounds: int = 20
) -> PitrStatus:
    """Let time pass on the target's clock until ``at`` is restorable (LatestRestorableDateTime >= at)."""
    at = _utc(at)
    for _ in range(rounds):
        status = pitr_status(target, table)
        if not status.enabled:
            return status
        if status.latest is not None and status.latest >= at:
            return status
        now = target.clock.now()
        # LatestRestorableDateTime trails now by a lag (AWS: "typically 5 minutes"); while it is held at the
        # earliest restorable time the observed gap understates that lag, so wait at least the documented one.
        lag = max(now - (status.latest or now), TYPICAL_LAG)
        wait_s = max((at + lag - now).total_seconds(), 1.0)
        progress(
            f"{table}: latest restorable time {_iso(status.latest)} is before {_iso(at)}: waiting {wait_s:.0f} s on "
            "the target's clock"
        )
        target.clock.sleep(wait_s)
    return pitr_status(target, table)


# -- cleanup of restored tables ----------------------------------------------------------------


def plan_drop_table(target: TargetLike, name: str, *, authority: Authority) -> Plan:
    """Decide, reading only, whether ``name`` may be deleted: only a table a restore created, and no alias reads it."""
    env = target.env
    plan = new_plan("table-cleanup", target, authority, ("dynamodb-table-active",))
    protected = {t.name for t in env.tables} | (
        {env.terraform.lock_table} if env.terraform and env.terraform.lock_table else set()
    )
    if name in protected:
        plan.refusal = f"{name} is an inventory table: the harness never deletes one"
        return plan
    why = refusal(target, authority, rule=RULE)
    if why:
        plan.refusal = why
        return plan
    desc = aws.get_or_none(target.client("dynamodb").describe_table, TableName=name)
    if desc is None:
        plan.refusal = f"table {name} does not exist: nothing to drop"
        return plan
    table = desc["Table"]
    if not (table.get("RestoreSummary") or {}).get("SourceTableArn") and not (table.get("RestoreSummary") or {}).get(
        "SourceBackupArn"
    ):
        plan.refusal = (
            f"{name} was not created by a restore (no RestoreSummary): the harness deletes only restored tables"
        )
        return plan
    if table.get("DeletionProtectionEnabled"):
        plan.refusal = f"{name} has deletion protection enabled: not dropped"
        return plan
    readers = sorted(fn for fn, t in tables_served(target).items() if t == name)
    if readers:
        plan.refusal = f"{name} is still read by {', '.join(readers)} (alias {env.alias}): switch back first"
        return plan
    leftovers, blocked = switch_leftovers(target, name)
    if blocked:
        plan.refusal = f"{name}: {blocked}"
        return plan
    for fn, version, aliases in leftovers:
        for alias in aliases:
            plan.changes.append(
                Change(
                    f"lambda:{fn}:alias/{alias}",
                    "FunctionVersion",
                    version,
                    None,
                    "delete",
                    "checkpoint of a switch to this table",
                )
            )
        plan.changes.append(
            Change(
                f"lambda:{fn}:{version}",
                "version",
                f"reads {name}",
                None,
                "delete",
                "published by a table switch; left, it would serve a dropped table if promoted",
            )
        )
    plan.changes.append(
        Change(
            f"dynamodb:{name}",
            "table",
            f"{table.get('ItemCount', '?')} items, restored from "
            f"{(table.get('RestoreSummary') or {}).get('SourceTableArn', '?').split('/')[-1]}",
            None,
            "delete",
            "cleanup of a restored table",
        )
    )
    plan.details.update(name=name, leftovers=leftovers)
    return plan


def switch_leftovers(target: TargetLike, name: str) -> tuple[list[tuple[str, str, list[str]]], str | None]:
    """Published versions whose table variable names ``name`` (a switch made them) and the checkpoint aliases on them.

    Returns (function, version, checkpoint aliases) triples, or a reason when such a version is held by
    another alias (the harness never deletes what it did not make).
    """
    lam = target.client("lambda")
    prefix = target.env.checkpoint_alias_prefix
    out: list[tuple[str, str, list[str]]] = []
    for spec in target.env.tables:
        for fn in spec.functions:
            aliases = list(aws.paginate(lam, "list_aliases", "Aliases", FunctionName=fn))
            for v in aws.paginate(lam, "list_versions_by_function", "Versions", FunctionName=fn):
                variables = (v.get("Environment") or {}).get("Variables") or {}
                if v["Version"] == "$LATEST" or variables.get(spec.env_var) != name:
                    continue
                on_it = [a["Name"] for a in aliases if a["FunctionVersion"] == v["Version"]]
                other = [a for a in on_it if not a.startswith(prefix)]
                if other:
                    return (
                        [],
                        f"{fn} version {v['Version']} reads it and alias {', '.join(other)} points there: not dropped",
                    )
                out.append((fn, v["Version"], on_it))
    return out, None


def apply_drop_table(target: TargetLike, plan: Plan) -> ActionResult:
    """DeleteTable and wait until it is gone (``table_not_exists``); audit record."""
    name = plan.details["name"]
    ddb = target.client("dynamodb")
    result = ActionResult(plan, COMPLETE)
    lam = target.client("lambda")
    changes = iter(plan.changes)
    with audit(target, plan, resource=f"dynamodb:{name}") as trail:
        for fn, version, aliases in plan.details["leftovers"]:
            for alias in aliases:
                lam.delete_alias(FunctionName=fn, Name=alias)
                result.changed(target.clock.now(), next(changes))
            lam.delete_function(FunctionName=fn, Qualifier=version)
            result.changed(target.clock.now(), next(changes))
        ddb.delete_table(TableName=name)
        aws.wait(ddb, "table_not_exists", target.waiter_config, TableName=name)
        result.changed(target.clock.now(), next(changes))
    result.record = trail.record
    removed = sum(1 for _ in plan.details["leftovers"])
    result.message = f"dropped restored table {name}" + (
        f" and {removed} function version(s) published to read it" if removed else ""
    )
    return result


def drop_table(target: TargetLike, name: str, *, authority: Authority, dry_run: bool = False) -> ActionResult:
    """Plan and (unless refused or a dry run) delete a restored table."""
    return execute(
        lambda: plan_drop_table(target, name, authority=authority),
        lambda p: apply_drop_table(target, p),
        dry_run=dry_run,
    )


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
