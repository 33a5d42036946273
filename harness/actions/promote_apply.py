"""Environment promotion: the apply of one function's plan (001 §3.2.1, §6.2.1, §6.3.1).

A ``backup-<ts>`` alias on the destination's current version, the source package and runtime settings
into the destination function, publish, the alias moved, then the post-deployment monitor; a trigger
moves the alias back to the backup version (automatic rollback). Re-exported by
harness/actions/promote.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from harness import aws
from harness.actions import lambda_versions as lv
from harness.actions.base import COMPLETE, FAILED, REFUSED, SKIPPED, ActionResult, Change, Plan, execute
from harness.actions.guards import Authority
from harness.actions.monitor import MonitorResult, watch
from harness.actions.promote_plan import Gates, PromoteSpec, _promotion_record, plan_promote, spec_of
from harness.records import AuditTrail, FunctionChange, audited
from harness.targets.base import TargetLike


def _point(dest: TargetLike, d: PromoteSpec, result: ActionResult, new: str) -> datetime:
    """Move the destination alias to ``new``, conditional on the RevisionId the plan read; when it moved."""
    dst_fn, alias = d.dest_function, dest.env.alias
    at = dest.clock.now()
    try:
        lv.point_alias(
            dest.client("lambda"),
            dst_fn,
            alias,
            new,
            f"Promoted {d.label} from {d.source_env} v{d.source_version}",
            revision_id=d.dest_revision,
        )
    except lv.AliasMoved as stale:  # moved by someone else since the plan: never moved blindly
        stale.planned = d.dest_current
        raise
    result.changed(
        at, Change(f"lambda:{dst_fn}:alias/{alias}", "FunctionVersion", d.dest_current, new, "update", "001 §3.2.1")
    )
    result.log(at, f"{dst_fn}: alias {alias} {d.dest_current} -> {new}")
    return at


def _verify_and_watch(
    dest: TargetLike, d: PromoteSpec, result: ActionResult, trail: AuditTrail, new: str, at: datetime
) -> MonitorResult:
    """Read the alias back, then the post-deployment monitor (001 §6.3.1), its polls in the timeline."""
    dst_fn, alias = d.dest_function, dest.env.alias
    got = dest.client("lambda").get_alias(FunctionName=dst_fn, Name=alias)["FunctionVersion"]
    if got != new:
        raise RuntimeError(f"{dst_fn}: alias {alias} serves {got} after the update, not {new}")
    trail.update(functions={dst_fn: FunctionChange(d.dest_current, new)})
    monitor = watch(dest, dst_fn, since=at, seconds=d.monitor_seconds)
    result.evidence["monitor"] = monitor.to_dict()
    for s in monitor.samples:
        result.log(s.at, f"{dst_fn}: monitor poll: {s.health.line()}, {s.errors:g} errors, {s.throttles:g} throttles")
    result.log(monitor.ended, monitor.summary())
    return monitor


def _auto_rollback(
    dest: TargetLike, plan: Plan[Any], result: ActionResult, trail: AuditTrail, monitor: MonitorResult, new: str
) -> ActionResult:
    """A 001 §6.3.1 trigger fired: the alias back on the backup version, the record FAILED naming the trigger."""
    d, trigger = spec_of(plan), monitor.fired
    assert trigger is not None
    result.evidence["trigger"] = trigger.to_dict()
    final = _rollback_to_backup(dest, plan, result, True, f"automatic rollback: {trigger.name} trigger (001 §6.3.1)")
    result.outcome = FAILED
    result.message = (
        f"automatic rollback to {d.backup_alias} (version {d.dest_current}): "
        f"{trigger.name} trigger fired: {trigger.observed}"
    )
    trail.update(
        functions={d.dest_function: FunctionChange(d.dest_current, new, FAILED, final)},
        extra={**dict(trail.record.extra), "auto_rollback_trigger": trigger.name, "trigger": trigger.observed},
    )
    result.evidence["final_version"] = final
    result.record = trail.finish(FAILED)
    return result


def apply_promote(
    source: TargetLike, dest: TargetLike, plan: Plan[Any], authority: Authority | None = None
) -> ActionResult:
    """Execute a promotion plan: backup, copy, wait, publish, move, monitor; automatic rollback on a trigger."""
    authority = authority or Authority()
    if plan.refused:
        return ActionResult(plan, REFUSED, message=plan.refusal or "refused")
    d, dst, clock = spec_of(plan), dest.env, dest.clock
    result = ActionResult(plan, COMPLETE)
    if d.skip:
        result.outcome, result.message = SKIPPED, d.skip
        result.evidence["final_version"] = d.dest_current
        return result
    dst_fn, started = d.dest_function, clock.now()
    result.log(
        started,
        f"promotion of {d.source_env} {d.function}:{d.source_version} ({d.label}) to {dst.name} "
        f"initiated by {authority.who}",
    )
    record = _promotion_record(d, dst, authority, started)
    ddb = dest.client("dynamodb") if dst.deployments_table is not None else None
    moved = False
    with audited(ddb, dst.deployments_table, record, clock) as trail:
        result.log(clock.now(), f"audit record {record.record_id} IN_PROGRESS")
        try:
            new = _deploy(source, dest, plan, result)
            at = _point(dest, d, result, new)
            moved = True
            monitor = _verify_and_watch(dest, d, result, trail, new, at)
        except Exception as exc:  # noqa: BLE001 (restore the backup version, record FAILED, say why)
            result.outcome, result.message = FAILED, f"{type(exc).__name__}: {aws.error_message(exc)}"
            if not moved:
                result.message += (
                    f" ($LATEST may hold the new package; alias {dst.alias} still serves {d.dest_current})"
                )
            final = _rollback_to_backup(dest, plan, result, moved, f"promotion failed: {result.message}")
            trail.update(
                functions={dst_fn: FunctionChange(d.dest_current, record.functions[dst_fn].to_version, FAILED, final)}
            )
            result.evidence["final_version"] = final
            result.record = trail.finish(FAILED)
            return result
        if monitor.fired:
            return _auto_rollback(dest, plan, result, trail, monitor, new)
        trail.update(functions={dst_fn: FunctionChange(d.dest_current, new, COMPLETE, new)})
        _update_ssm(dest, plan, result)
        result.evidence["final_version"] = new
        result.evidence["new_version"] = new
        if result.outcome == FAILED:
            result.record = trail.finish(FAILED)
        else:
            result.message = f"{dst_fn}: {d.dest_current} -> {new} ({d.label}); {monitor.summary()}"
    result.record = trail.record
    result.log(clock.now(), f"audit record {record.record_id} {trail.record.status}")
    return result


def _deploy(source: TargetLike, dest: TargetLike, plan: Plan[Any], result: ActionResult) -> str:
    """Backup alias, package and settings into $LATEST, waits, publish; returns the new version."""
    d, clock = spec_of(plan), dest.clock
    lam, dst_fn = dest.client("lambda"), d.dest_function
    at = clock.now()
    backup = lv.create_alias(
        lam,
        dst_fn,
        d.backup_alias,
        d.dest_current,
        f"Backup before promotion of {d.label} from {d.source_env} (001 §6.2.1)",
    )
    result.evidence["backup_alias"] = backup  # the name used (a numbered sibling when the planned one was taken)
    result.changed(
        at,
        Change(f"lambda:{dst_fn}:alias/{backup}", "FunctionVersion", None, d.dest_current, "create", "001 §6.2.1"),
    )
    result.log(at, f"{dst_fn}: backup alias {backup} on version {d.dest_current}")
    if d.image:
        lam.update_function_code(FunctionName=dst_fn, ImageUri=d.image)
    else:
        code = lv.function_code(source, d.function, d.source_version, d.location)
        lam.update_function_code(FunctionName=dst_fn, ZipFile=code)
    aws.wait(lam, "function_updated_v2", getattr(dest, "waiter_config", None), FunctionName=dst_fn)
    at = clock.now()
    result.changed(
        at, Change(f"lambda:{dst_fn}:$LATEST", "CodeSha256", d.dest_code_sha, d.code_sha, "update", "001 §3.2.1")
    )
    result.log(
        at,
        f"{dst_fn}: code of {d.source_env} {d.function}:{d.source_version} deployed to $LATEST (update complete)",
    )
    lam.update_function_configuration(
        FunctionName=dst_fn, Environment={"Variables": dict(d.variables)}, **dict(d.settings)
    )
    aws.wait(lam, "function_updated_v2", getattr(dest, "waiter_config", None), FunctionName=dst_fn)
    new = lam.publish_version(FunctionName=dst_fn, Description=d.label, CodeSha256=d.code_sha)["Version"]
    at = clock.now()
    result.changed(at, Change(f"lambda:{dst_fn}:version/{new}", "Description", None, d.label, "create", "001 §3.2.1"))
    result.log(at, f"{dst_fn}: published version {new} ({d.label})")
    return str(new)


def _rollback_to_backup(dest: TargetLike, plan: Plan[Any], result: ActionResult, moved: bool, why: str) -> str | None:
    """Move the alias back to the backup version (001 §6.3.1 automatic rollback); the version it ends on."""
    d, dst, clock = spec_of(plan), dest.env, dest.clock
    if not moved:
        return str(d.dest_current)
    lam, dst_fn = dest.client("lambda"), d.dest_function
    try:
        at = clock.now()
        lv.point_alias(lam, dst_fn, dst.alias, d.dest_current, f"Rollback to backup {d.backup_alias}: {why}")
        result.changed(
            at, Change(f"lambda:{dst_fn}:alias/{dst.alias}", "FunctionVersion", None, d.dest_current, "update", why)
        )
        result.log(at, f"{dst_fn}: alias {dst.alias} back on backup version {d.dest_current} ({why})")
        return str(d.dest_current)
    except Exception as exc:  # noqa: BLE001 (reported; the record says FAILED with no known final version)
        result.message += f"; moving the alias back to {d.dest_current} failed: {aws.error_message(exc)}"
        result.log(clock.now(), f"{dst_fn}: automatic rollback FAILED: {aws.error_message(exc)}")
        return None


def _update_ssm(dest: TargetLike, plan: Plan[Any], result: ActionResult) -> None:
    env = dest.env
    if not env.ssm_deployed_version:
        return
    at = dest.clock.now()
    try:
        dest.client("ssm").put_parameter(
            Name=env.ssm_deployed_version, Value=spec_of(plan).label, Type="String", Overwrite=True
        )
    except Exception as exc:  # noqa: BLE001 (any failure while restoring is reported with the record)
        result.outcome, result.message = (
            FAILED,
            f"promoted, but updating SSM {env.ssm_deployed_version} failed: {aws.error_message(exc)}",
        )
        return
    result.changed(at, Change(f"ssm:{env.ssm_deployed_version}", "Value", None, spec_of(plan).label, "update", "002"))


def promote(
    source: TargetLike,
    dest: TargetLike,
    authority: Authority,
    *,
    function: str,
    gates: Gates,
    version: str | None = None,
    dry_run: bool = False,
) -> ActionResult:
    """Plan and apply one function's promotion: REFUSED, DRY_RUN, SKIPPED, COMPLETE or FAILED (auto-rolled back)."""
    return execute(
        lambda: plan_promote(source, dest, authority, function=function, gates=gates, version=version),
        lambda plan: apply_promote(source, dest, plan, authority),
        dry_run=dry_run,
    )
