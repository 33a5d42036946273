"""Environment promotion: DEV -> SIT (001 §3.2.1) and SIT -> PROD (001 §4), per function, service or stack (001 §5.1).

Plan (reads only): the source version (the source alias's, or an explicit one) and its package and
configuration; the destination alias's current version (the backup); refusals — not the next
environment (001 §1.1), no mutation permission, the approval rule ``<source>-to-<dest>`` (001 §2.2),
for a protected destination the maintenance window or the emergency rule (001 §4.1.2), and the
source gates (001 §2.1), whose result the caller passes in (``harness/`` never imports ``checks/``:
the scenario and the CLI run the ``source-*`` rows).

Apply (001 §3.2.1 sequence diagram): a ``backup-<ts>`` alias on the destination's current version
(001 §6.2.1), the source package and runtime settings into the destination function, waits with
boto3's ``function_updated_v2`` waiter, publish with the release label as Description, the alias
moved, then the post-deployment monitor (harness/actions/monitor.py, 001 §6.3.1). A trigger moves the
alias back to the backup version (automatic rollback) and the result names the trigger.

Configuration: handler, runtime, timeout and memory come from the source version; environment
variables are the destination's own plus any the source version adds. A new setting travels with
the release (so does a bad one: ``HARNESS_FAULT`` in a rehearsal), while values an environment sets
itself (table names, environment markers) stay — copying DEV's ``DYNAMODB_TABLE`` into SIT would
point SIT at DEV's table.

One audit record per promoted function (action ``promote``), IN_PROGRESS then COMPLETE or FAILED.
The alias move is conditional on the destination alias's RevisionId read at plan time; a service or
stack batch stops starting functions (phases) on Ctrl-C (harness/actions/interrupt.py).

Longer than 450 lines on purpose: one function, a service and the whole stack (001 §5.1) are one
procedure at three sizes, and their plans and applies read best side by side.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime, time, timedelta, timezone
from typing import Any, Callable, Mapping, Sequence, Union

from harness import aws
from harness.actions import lambda_versions as lv
from harness.actions.base import COMPLETE, FAILED, REFUSED, SKIPPED, ActionResult, Change, Plan, execute
from harness.actions.guards import Authority, refusal, window_or_emergency_refusal
from harness.actions.interrupt import NOT_STARTED, Interrupts, run_batch, summary
from harness.actions.monitor import MonitorResult, monitor_seconds, watch
from harness.inventory.model import Environment
from harness.outcome import Outcome
from harness.records import AuditTrail, DeploymentRecord, FunctionChange, audited, utc_stamp
from harness.safety import DAYS, approval_refusal, window_containing
from harness.targets.base import TargetLike

VERIFIED_BY = ("lambda-alias-version", "error-rate", "log-errors", "health-endpoint")
RECORD_STAMP = "%Y%m%d%H%M%S"
MAX_WORKERS = 8  # harness setting: functions of one service promoted concurrently
# Runtime settings that belong to the release (the rest of a function's configuration is the environment's).
RELEASE_SETTINGS = ("Handler", "Runtime", "Timeout", "MemorySize")

GateResult = Union[bool, tuple[bool, str]]
Gates = Union[GateResult, Callable[[], GateResult]]
TerraformStep = Callable[[], ActionResult]


def approval_rule(source: Environment, dest: Environment) -> str:
    """``dev-to-sit`` / ``sit-to-prod``: the inventory's approval rule for this promotion (001 §2.2)."""
    return f"{source.name}-to-{dest.name}"


def counterpart(source: Environment, dest: Environment, fn: str) -> str:
    """The destination's function for a source function: same service, same position (or discovery suffix)."""
    for f in source.functions:
        if f.name == fn:
            mine = [g.name for g in source.functions if g.service == f.service]
            theirs = [g.name for g in dest.functions if g.service == f.service]
            return theirs[mine.index(fn)]
    for d in source.discovery:
        if fn.startswith(d.prefix):
            other = next(x for x in dest.discovery if x.service == d.service)
            return other.prefix + fn[len(d.prefix) :]
    raise KeyError(fn)


def next_window_start(env: Environment, after: datetime) -> datetime | None:
    """The next maintenance window opening at or after ``after`` (001 §4.1.2); None where no window applies."""
    if not env.protected:
        return None  # windows bind protected environments only (harness/safety.py window_refusal)
    after = after.astimezone(timezone.utc)
    starts = []
    for w in env.maintenance_windows:
        for ahead in range(8):
            day = after.date() + timedelta(days=ahead)
            if DAYS[day.weekday()] == w.day:
                at = datetime.combine(day, time.fromisoformat(w.start_utc), tzinfo=timezone.utc)
                if at >= after:
                    starts.append(at)
    return min(starts) if starts else None


def window_used(env: Environment, when: datetime, authority: Authority) -> str | None:
    """Which 001 §4.1.2 rule let a protected promotion run: the window, or the emergency rule."""
    if not env.protected:
        return None
    window = window_containing(env.maintenance_windows, when)
    if window is not None:
        return (
            f"{window.day} {window.start_utc}-{window.end_utc} UTC (001 §4.1.2), at "
            f"{when.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"
        )
    return f"emergency rule (001 §4.1.2): incident {authority.incident}, approvers {', '.join(authority.approvers)}"


def _gate_outcome(gates: Gates) -> tuple[bool, str]:
    """Evaluate the caller's gate result (a bool, a (bool, summary) pair, or a callable returning either)."""
    value = gates() if callable(gates) else gates
    if isinstance(value, tuple):
        return bool(value[0]), str(value[1])
    return bool(value), "passed" if value else "failed"


def _guard(source: TargetLike, dest: TargetLike, authority: Authority) -> str | None:
    """The promotion's refusals that need no read: next environment, permission, approvals, window (001 §1.1, §2.2,
    §4.1.2)."""
    src, dst = source.env, dest.env
    if src.promotes_to != dst.name:
        nxt = f"promotes to {src.promotes_to}" if src.promotes_to else "promotes to no environment"
        return f"{src.inventory}/{src.name} {nxt}, not {dst.name} (001 §1.1: fix in DEV, promote to SIT, then to PROD)"
    rule = approval_rule(src, dst)
    why = refusal(dest, authority, rule=rule, env=dst)
    if why:
        return why
    if not dst.protected and rule in dst.approvals:  # a protected env's rule was checked by refusal()
        why = approval_refusal(dst.approvals[rule], rule, list(authority.approvers), authority.reason)
        if why:
            return why
    if dst.protected:
        return window_or_emergency_refusal(dst, authority, dest.clock.now())
    return None


@dataclass
class _Source:
    """What the plan read about the source version and the destination function."""

    function: str
    version: str
    label: str
    code_sha: str
    location: str | None
    image: str | None
    settings: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PromoteSpec:
    """One function's promotion plan, typed: what the plan read and what apply will do (apply reads only this)."""

    source_env: str
    function: str
    dest_function: str
    service: str | None
    source_version: str
    label: str
    code_sha: str
    location: str | None
    image: str | None
    settings: Mapping[str, Any]
    variables: Mapping[str, str]
    added_variables: tuple[str, ...]
    dest_current: str
    dest_current_label: str
    dest_code_sha: str
    dest_revision: str | None  # the destination alias's RevisionId: the alias move is conditional on it
    backup_alias: str
    record_id: str
    monitor_seconds: float
    gates: str | None = None
    window: str | None = None
    skip: str | None = None


def _typed(plan: Plan[Any]) -> Plan[Any]:
    """Attach the plan's PromoteSpec from what the plan read (``details`` stays for older readers)."""
    d = plan.details
    names = [f.name for f in fields(PromoteSpec)]
    values: dict[str, Any] = {k: d.get(k) for k in names}
    values["added_variables"] = tuple(d.get("added_variables") or ())
    plan.spec = PromoteSpec(**values)
    return plan


def spec_of(plan: Plan[Any]) -> PromoteSpec:
    """The promotion plan's typed spec (TypeError for a plan of another action)."""
    if not isinstance(plan.spec, PromoteSpec):
        raise TypeError(f"{plan.action} plan carries no PromoteSpec")
    return plan.spec


def plan_promote(
    source: TargetLike,
    dest: TargetLike,
    authority: Authority,
    *,
    function: str,
    gates: Gates,
    version: str | None = None,
) -> Plan[Any]:
    """Plan promoting ``function`` (a source function name) to the next environment; reads only."""
    src, dst = source.env, dest.env
    plan: Plan[Any] = Plan("promote", dst.inventory, dst.name, dest.name, dest.clock.now(), verified_by=VERIFIED_BY)
    plan.details.update(source_env=src.name, function=function, approval_rule=approval_rule(src, dst))
    if lv.service_of(src, function) is None:
        plan.refusal = f"unknown function {function!r} in {src.inventory}/{src.name}"
        return plan
    plan.refusal = _guard(source, dest, authority)
    if plan.refusal:
        return plan
    plan.details["window"] = window_used(dst, dest.clock.now(), authority)
    passed, summary = _gate_outcome(gates)
    plan.details["gates"] = summary
    if not passed:
        plan.refusal = f"pre-promotion gates failed on {src.name} (001 §2.1): {summary}"
        return plan
    return _plan_reads(source, dest, plan, function, version)


def _read_source(source: TargetLike, function: str, version: str | None) -> _Source | str:
    """The source version (the alias's, or ``version``): package, label and settings; or why it cannot be promoted."""
    src, slam = source.env, source.client("lambda")
    if version is None:
        alias = lv.get_alias(slam, function, src.alias)
        if alias is None:
            return f"{function}: alias {src.alias} not found in {src.inventory}/{src.name}"
        version = str(alias["FunctionVersion"])
    got = aws.get_or_none(slam.get_function, *lv.NOT_FOUND, FunctionName=function, Qualifier=str(version))
    if got is None or version == lv.LATEST:
        exists = aws.get_or_none(slam.get_function, *lv.NOT_FOUND, FunctionName=function) is not None
        listing = (
            ", ".join(v.describe() for v in lv.published_versions(slam, function)) if exists else "function not found"
        )
        return f"{function}: version {version} is not a published version in {src.name} ({listing or 'none'})"
    cfg = got["Configuration"]
    return _Source(
        function,
        str(version),
        cfg.get("Description") or f"{src.name} v{version}",
        cfg.get("CodeSha256") or "",
        got.get("Code", {}).get("Location"),
        got.get("Code", {}).get("ImageUri"),
        {k: cfg[k] for k in RELEASE_SETTINGS if k in cfg},
        dict((cfg.get("Environment") or {}).get("Variables") or {}),
    )


def _plan_reads(source: TargetLike, dest: TargetLike, plan: Plan[Any], function: str, version: str | None) -> Plan[Any]:
    src, dst = source.env, dest.env
    dlam = dest.client("lambda")
    try:
        dst_fn = counterpart(src, dst, function)
    except (KeyError, IndexError, StopIteration):
        plan.refusal = f"{function} has no counterpart in {dst.inventory}/{dst.name} (same service, same position)"
        return plan
    plan.details.update(dest_function=dst_fn, service=lv.service_of(src, function))
    read = _read_source(source, function, version)
    if isinstance(read, str):
        plan.refusal = read
        return plan
    s = read
    alias = lv.get_alias(dlam, dst_fn, dst.alias)
    if alias is None:
        plan.refusal = (
            f"{dst_fn}: function or alias {dst.alias} not found in {dst.inventory}/{dst.name} (account {dst.account})"
        )
        return plan
    current = alias["FunctionVersion"]
    plan.details["dest_revision"] = alias.get("RevisionId")  # the alias move is conditional on it
    dcfg = dlam.get_function_configuration(FunctionName=dst_fn, Qualifier=current)
    dvars = dict((dcfg.get("Environment") or {}).get("Variables") or {})
    added = {k: v for k, v in s.variables.items() if k not in dvars}
    now = dest.clock.now()
    backup = f"{dst.backup_alias_prefix}{lv.stamp(now)}"
    record_id = f"promote-{now.strftime(RECORD_STAMP)}-{uuid.uuid4().hex[:6]}"
    plan.details.update(
        source_version=s.version,
        label=s.label,
        code_sha=s.code_sha,
        location=s.location,
        image=s.image,
        settings=s.settings,
        variables={**dvars, **added},
        added_variables=sorted(added),
        dest_current=current,
        dest_current_label=dcfg.get("Description") or "",
        dest_code_sha=dcfg.get("CodeSha256") or "",
        backup_alias=backup,
        record_id=record_id,
        monitor_seconds=monitor_seconds(dst),
    )
    if dcfg.get("CodeSha256") == s.code_sha and (dcfg.get("Description") or "") == s.label and not added:
        plan.details["skip"] = f"{dst_fn}:{dst.alias} already serves release {s.label} (code {s.code_sha[:12]}...)"
        plan.notes.append(plan.details["skip"])
        return _typed(plan)
    plan.changes += _promotion_changes(src.name, dst, function, dst_fn, s, current, dcfg, added, backup, record_id)
    plan.expect_versions[dst_fn] = s.label
    plan.notes += [
        f"monitor {monitor_seconds(dst):g} s after the alias moves: health != {dst.auto_rollback.health_status} "
        "rolls back at once; "
        f">{dst.auto_rollback.error_spike_count} errors or >{dst.auto_rollback.throttle_spike_count} throttles in "
        f"{dst.auto_rollback.spike_window_minutes} min roll back after the window (001 §6.3.1)",
        "health is invoked through fn:alias, not the unqualified function (001 §3.3 / §4.3.1 invoke $LATEST: seed "
        "defect 3)",
    ]
    return _typed(plan)


def _promotion_changes(
    src_name: str,
    dst: Environment,
    function: str,
    dst_fn: str,
    s: _Source,
    current: str,
    dcfg: dict[str, Any],
    added: dict[str, str],
    backup: str,
    record_id: str,
) -> list[Change]:
    """Every change a promotion makes, in order (001 §3.2.1 sequence diagram; 001 §6.2.1 backup; 002 SSM)."""
    fn_res = f"lambda:{dst_fn}"
    settings = ", ".join(f"{k}={v}" for k, v in s.settings.items()) + (
        f"; +{', +'.join(sorted(added))}" if added else ""
    )
    changes = [
        Change(
            f"{fn_res}:alias/{backup}",
            "FunctionVersion",
            None,
            current,
            "create",
            "backup before promotion (001 §6.2.1)",
        ),
        Change(
            f"{fn_res}:$LATEST",
            "CodeSha256",
            dcfg.get("CodeSha256"),
            s.code_sha,
            "update",
            f"package of {src_name} {function}:{s.version} (001 §3.2.1 'Update Lambda code')",
        ),
        Change(
            f"{fn_res}:$LATEST",
            "Configuration",
            None,
            settings,
            "update",
            "release settings; new variables travel with the release",
        ),
        Change(f"{fn_res}:version", "Description", None, s.label, "create", "publish (001 §3.2.1)"),
        Change(
            f"{fn_res}:alias/{dst.alias}",
            "FunctionVersion",
            current,
            f"(new version {s.label})",
            "update",
            "001 §3.2.1 'Update latest alias'",
        ),
    ]
    return changes + _record_and_ssm(dst, record_id, s.label)


def _record_and_ssm(dst: Environment, record_id: str, label: str) -> list[Change]:
    """The promotion's audit record write and the SSM deployed-version update, where the inventory has them."""
    out = []
    if dst.deployments_table is not None:
        out.append(
            Change(
                f"dynamodb:{dst.deployments_table.name}",
                "record",
                None,
                record_id,
                "write",
                "IN_PROGRESS, then COMPLETE or FAILED (001 §3.2.1 'Record deployment metadata')",
            )
        )
    if dst.ssm_deployed_version:
        out.append(
            Change(
                f"ssm:{dst.ssm_deployed_version}", "Value", None, label, "update", "after a complete promotion (002)"
            )
        )
    return out


# -- apply ------------------------------------------------------------------------------------------


def _promotion_record(d: PromoteSpec, dst: Environment, authority: Authority, started: datetime) -> DeploymentRecord:
    """The promotion's audit record as written IN_PROGRESS (001 §3.2.1 "Record deployment metadata")."""
    return DeploymentRecord(
        record_id=d.record_id,
        action="promote",
        environment=dst.name,
        timestamp=utc_stamp(started),
        from_version=d.dest_current_label or d.dest_current,
        to_version=d.label,
        function=d.dest_function,
        functions={d.dest_function: FunctionChange(d.dest_current, None)},
        services=(d.service,) if d.service else (),
        actor=authority.who,
        reason=authority.reason,
        extra={
            k: v
            for k, v in {
                "source_environment": d.source_env,
                "source_function": d.function,
                "source_version": d.source_version,
                "code_sha256": d.code_sha,
                "incident": authority.incident,
                "approved_by": ",".join(authority.approvers) or None,
                "gates": d.gates,
            }.items()
            if v
        },
    )


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


# -- services and the whole stack (001 §5) ----------------------------------------------------------


def plan_promote_service(
    source: TargetLike,
    dest: TargetLike,
    authority: Authority,
    service: str,
    *,
    gates: Gates,
    functions: Sequence[str] | None = None,
) -> Plan[Any]:
    """Plan every function of one service (001 §3.2 / §4.3 per repository); refused if any function's plan is.

    ``functions``: the service's functions when the caller listed them already (the stack lists once).
    """
    src, dst = source.env, dest.env
    plan: Plan[Any] = Plan(
        "promote-service", dst.inventory, dst.name, dest.name, dest.clock.now(), verified_by=VERIFIED_BY
    )
    plan.details.update(service=service, source_env=src.name)
    if service not in lv.services(src):
        plan.refusal = f"unknown service {service!r} in {src.inventory}; services: {', '.join(lv.services(src))}"
        return plan
    plan.refusal = _guard(source, dest, authority)
    if plan.refusal:
        return plan
    outcome = _gate_outcome(gates)
    names = (
        list(functions)
        if functions is not None
        else [fn for fn, _ in lv.service_functions(src, service, source.client("lambda"))]
    )
    if not names:
        plan.refusal = f"service {service} has no function in {src.name}"
        return plan
    plans = [plan_promote(source, dest, authority, function=fn, gates=outcome) for fn in names]
    refused = [p.refusal for p in plans if p.refusal]
    plan.details["plans"] = plans
    if refused:
        plan.refusal = "; ".join(refused)
        return plan
    for p in plans:
        plan.changes += p.changes
        plan.expect_versions.update(p.expect_versions)
        plan.notes += [n for n in p.notes if n not in plan.notes]
    return plan


def apply_promote_service(
    source: TargetLike,
    dest: TargetLike,
    plan: Plan[Any],
    authority: Authority | None = None,
    *,
    max_workers: int = MAX_WORKERS,
    interrupts: Interrupts | None = None,
) -> ActionResult:
    """Promote the service's functions concurrently; FAILED when any of them failed; INTERRUPTED when
    ``interrupts`` stopped it (functions in flight finish, with their monitor; the rest never start)."""
    if plan.refused:
        return ActionResult(plan, REFUSED, message=plan.refusal or "refused")
    plans: list[Plan[Any]] = plan.details["plans"]
    stop = interrupts or Interrupts()
    batch = run_batch(
        plans,
        lambda p: apply_promote(source, dest, p, authority),
        max_workers=max_workers,
        should_stop=lambda: stop.stopped,
        name="promote",
    )
    children = [
        batch.results[i]
        if i in batch.results
        else ActionResult(
            p, NOT_STARTED, message="not started (interrupted)", evidence={"final_version": _dest_current(p)}
        )
        for i, p in enumerate(plans)
    ]
    folded = _fold(plan, children, f"service {plan.details['service']}")
    if batch.stopped:
        _interrupted(folded, batch.stopped)
    return folded


def _dest_current(plan: Plan[Any]) -> str | None:
    return plan.details.get("dest_current")


def _interrupted(result: ActionResult, why: str) -> None:
    """An interrupted promotion's verdict: how many promoted, put back (automatic rollback), not started."""
    leaves = [c for c in result.children for c in (c.children or [c])]
    done = sum(1 for c in leaves if c.outcome == COMPLETE)
    back = sum(1 for c in leaves if c.outcome == FAILED)
    waiting = sum(1 for c in leaves if c.outcome == NOT_STARTED)
    result.outcome = Outcome.INTERRUPTED
    result.message = summary(done, back, waiting, 0, len(leaves), why).replace(" moved", " promoted")


def _fold(plan: Plan[Any], children: list[ActionResult], what: str) -> ActionResult:
    """A parent result: FAILED if a child failed, its timeline the children's in time order."""
    result = ActionResult(plan, COMPLETE, children=children)
    for c in children:
        result.applied += c.applied
        result.timeline += c.timeline
    result.timeline.sort(key=lambda e: e.at)
    failed = [c for c in children if c.outcome in (FAILED, REFUSED)]
    done = [c for c in children if c.outcome == COMPLETE]
    if failed:
        result.outcome = FAILED
        result.message = f"{what}: " + "; ".join(
            f"{c.plan.details.get('dest_function') or c.plan.action}: {c.message}" for c in failed
        )
    else:
        result.message = f"{what}: {len(done)} promoted" + (
            f", {len(children) - len(done)} unchanged" if len(children) > len(done) else ""
        )
    return result


def promote_service(
    source: TargetLike, dest: TargetLike, authority: Authority, service: str, *, gates: Gates, dry_run: bool = False
) -> ActionResult:
    """Plan and apply one service's promotion."""
    return execute(
        lambda: plan_promote_service(source, dest, authority, service, gates=gates),
        lambda plan: apply_promote_service(source, dest, plan, authority),
        dry_run=dry_run,
    )


def stack_order(env: Environment) -> list[str]:
    """Services in 001 §5.1 order: the inventory's ``lambda.promotion_order``, then any service it leaves out."""
    listed = list(env.promotion_order)
    return listed + [s for s in lv.services(env) if s not in listed]


def plan_promote_stack(source: TargetLike, dest: TargetLike, authority: Authority, *, gates: Gates) -> Plan[Any]:
    """Plan every phase in 001 §5.1 order (Terraform last, as the caller's hook); refused if any phase is."""
    src, dst = source.env, dest.env
    plan: Plan[Any] = Plan(
        "promote-stack", dst.inventory, dst.name, dest.name, dest.clock.now(), verified_by=VERIFIED_BY
    )
    plan.details.update(source_env=src.name, order=stack_order(src))
    plan.refusal = _guard(source, dest, authority)
    if plan.refusal:
        return plan
    outcome = _gate_outcome(gates)
    plan.details["gates"] = outcome[1]
    if not outcome[0]:
        plan.refusal = f"pre-promotion gates failed on {src.name} (001 §2.1): {outcome[1]}"
        return plan
    listed = lv.service_functions(src, None, source.client("lambda"))  # one ListFunctions for every service's prefix
    phases = [
        plan_promote_service(source, dest, authority, s, gates=outcome, functions=[fn for fn, of in listed if of == s])
        for s in plan.details["order"]
    ]
    plan.details["phases"] = phases
    refused = [p.refusal for p in phases if p.refusal]
    if refused:
        plan.refusal = "; ".join(refused)
        return plan
    for i, p in enumerate(phases, 1):
        plan.notes.append(f"phase {i}: {p.details['service']} ({len(p.details['plans'])} function(s))")
        plan.changes += p.changes
        plan.expect_versions.update(p.expect_versions)
    return plan


def apply_promote_stack(
    source: TargetLike,
    dest: TargetLike,
    plan: Plan[Any],
    authority: Authority | None = None,
    *,
    terraform_step: TerraformStep | None = None,
    interrupts: Interrupts | None = None,
) -> ActionResult:
    """Promote phase by phase; stop at the first failed phase, saying what was promoted (001 §5.1, §5.2.1).
    After ``interrupts`` fires, no further phase starts (the Terraform phase neither)."""
    if plan.refused:
        return ActionResult(plan, REFUSED, message=plan.refusal or "refused")
    children: list[ActionResult] = []
    stop = interrupts or Interrupts()
    for phase in plan.details["phases"]:
        if stop.stopped:
            children.append(
                ActionResult(
                    phase,
                    NOT_STARTED,
                    message="not started (interrupted)",
                    children=[
                        ActionResult(
                            p,
                            NOT_STARTED,
                            message="not started (interrupted)",
                            evidence={"final_version": _dest_current(p)},
                        )
                        for p in phase.details["plans"]
                    ],
                )
            )
            continue
        done = apply_promote_service(source, dest, phase, authority, interrupts=stop)
        children.append(done)
        if done.outcome == FAILED:
            break
    else:
        if (
            terraform_step is not None and not stop.stopped
        ):  # phase 4 (001 §5.1): infrastructure last; the Terraform issue supplies it
            children.append(terraform_step())
    result = _fold(plan, children, "stack")
    promoted = [c.plan.details.get("service") or c.plan.action for c in children if c.outcome == COMPLETE]
    if result.outcome == FAILED:
        stopped = children[-1].plan.details.get("service") or children[-1].plan.action
        result.message = (
            f"stopped at phase {len(children)} ({stopped}): {children[-1].message}; promoted before "
            f"it: {', '.join(promoted) or 'nothing'}"
        )
    elif terraform_step is None:
        result.message += "; Terraform phase: no step given (001 §5.1 phase 4 left to the Terraform runbook)"
    result.evidence["promoted_phases"] = promoted
    if stop.stopped:
        _interrupted(result, stop.stopped)
    return result


def promote_stack(
    source: TargetLike,
    dest: TargetLike,
    authority: Authority,
    *,
    gates: Gates,
    terraform_step: TerraformStep | None = None,
    dry_run: bool = False,
) -> ActionResult:
    """Plan and apply the full-stack promotion in 001 §5.1 order."""
    return execute(
        lambda: plan_promote_stack(source, dest, authority, gates=gates),
        lambda plan: apply_promote_stack(source, dest, plan, authority, terraform_step=terraform_step),
        dry_run=dry_run,
    )


def final_versions(result: ActionResult) -> dict[str, str]:
    """Where each destination function's alias stands after a promotion (for the alias-version row)."""
    out: dict[str, str] = {}
    stack = [result]
    while stack:
        r = stack.pop()
        fn, final = r.plan.details.get("dest_function"), r.evidence.get("final_version")
        if fn and final and r.plan.action == "promote":
            out[fn] = str(final)
        stack += r.children
    return out
