"""Environment promotion: the read-only plan (001 §1.1, §2.1, §2.2, §3.2.1, §4.1.2).

Reads the source version, its package and configuration, the destination alias's current version (the
backup), and decides the refusals. The apply is in harness/actions/promote_apply.py; services and the
whole stack in harness/actions/promote.py, which re-exports every public name here.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, time, timedelta, timezone
from typing import Any, Callable, Mapping, TypeVar, Union

from harness import aws
from harness.actions import lambda_versions as lv
from harness.actions.base import ActionResult, Change, Plan
from harness.actions.guards import Authority, refusal, window_or_emergency_refusal
from harness.actions.monitor import monitor_seconds
from harness.inventory.model import Environment
from harness.records import DeploymentRecord, FunctionChange, utc_stamp
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
T = TypeVar("T")


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


@dataclass(frozen=True)
class _Source:
    """What the plan read about the source version (and the service it belongs to)."""

    function: str
    version: str
    label: str
    code_sha: str
    location: str | None
    image: str | None
    settings: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    service: str | None = None


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


def _facts(spec: PromoteSpec) -> dict[str, Any]:
    """The spec as the older untyped ``details`` (read by reports and scenarios; apply reads only the spec)."""
    facts = asdict(spec)
    facts["added_variables"] = list(spec.added_variables)
    if spec.skip is None:
        del facts["skip"]
    return facts


def spec_as(plan: Plan[Any], kind: type[T]) -> T:
    """The plan's typed spec of ``kind`` (TypeError for a refused plan or a plan of another action)."""
    if not isinstance(plan.spec, kind):
        raise TypeError(f"{plan.action} plan carries no {kind.__name__}")
    return plan.spec


def spec_of(plan: Plan[Any]) -> PromoteSpec:
    """One function's promotion plan's typed spec (TypeError for a plan of another action)."""
    return spec_as(plan, PromoteSpec)


def plan_promote(
    source: TargetLike,
    dest: TargetLike,
    authority: Authority,
    *,
    function: str,
    gates: Gates,
    version: str | None = None,
) -> Plan[PromoteSpec]:
    """Plan promoting ``function`` (a source function name) to the next environment; reads only."""
    src, dst = source.env, dest.env
    plan: Plan[PromoteSpec] = Plan(
        "promote", dst.inventory, dst.name, dest.name, dest.clock.now(), verified_by=VERIFIED_BY
    )
    plan.details.update(source_env=src.name, function=function, approval_rule=approval_rule(src, dst))
    if lv.service_of(src, function) is None:
        plan.refusal = f"unknown function {function!r} in {src.inventory}/{src.name}"
        return plan
    plan.refusal = _guard(source, dest, authority)
    if plan.refusal:
        return plan
    window = plan.details["window"] = window_used(dst, dest.clock.now(), authority)
    passed, summary = _gate_outcome(gates)
    plan.details["gates"] = summary
    if not passed:
        plan.refusal = f"pre-promotion gates failed on {src.name} (001 §2.1): {summary}"
        return plan
    return _plan_reads(source, dest, plan, function, version, (summary, window))


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


def _plan_reads(
    source: TargetLike,
    dest: TargetLike,
    plan: Plan[PromoteSpec],
    function: str,
    version: str | None,
    gates_and_window: tuple[str, str | None],
) -> Plan[PromoteSpec]:
    src, dst = source.env, dest.env
    dlam = dest.client("lambda")
    try:
        dst_fn = counterpart(src, dst, function)
    except (KeyError, IndexError, StopIteration):
        plan.refusal = f"{function} has no counterpart in {dst.inventory}/{dst.name} (same service, same position)"
        return plan
    service = lv.service_of(src, function)
    plan.details.update(dest_function=dst_fn, service=service)
    read = _read_source(source, function, version)
    if isinstance(read, str):
        plan.refusal = read
        return plan
    s = replace(read, service=service)
    alias = lv.get_alias(dlam, dst_fn, dst.alias)
    if alias is None:
        plan.refusal = (
            f"{dst_fn}: function or alias {dst.alias} not found in {dst.inventory}/{dst.name} (account {dst.account})"
        )
        return plan
    dcfg = dlam.get_function_configuration(FunctionName=dst_fn, Qualifier=alias["FunctionVersion"])
    plan.spec = spec = _spec_from(src.name, dst, s, dst_fn, alias, dcfg, dest.clock.now(), gates_and_window)
    plan.details.update(_facts(spec))
    if spec.skip:
        plan.notes.append(spec.skip)
        return plan
    plan.changes += _promotion_changes(src.name, dst, spec, dcfg.get("CodeSha256"))
    plan.expect_versions[dst_fn] = s.label
    plan.notes += [
        f"monitor {monitor_seconds(dst):g} s after the alias moves: health != {dst.auto_rollback.health_status} "
        "rolls back at once; "
        f">{dst.auto_rollback.error_spike_count} errors or >{dst.auto_rollback.throttle_spike_count} throttles in "
        f"{dst.auto_rollback.spike_window_minutes} min roll back after the window (001 §6.3.1)",
        "health is invoked through fn:alias, not the unqualified function (001 §3.3 / §4.3.1 invoke $LATEST: seed "
        "defect 3)",
    ]
    return plan


def _spec_from(
    src_name: str,
    dst: Environment,
    s: _Source,
    dst_fn: str,
    alias: Mapping[str, Any],
    dcfg: Mapping[str, Any],
    now: datetime,
    gates_and_window: tuple[str, str | None],
) -> PromoteSpec:
    """The plan's spec from what it read: the source version, the destination alias and its version's configuration."""
    dvars = dict((dcfg.get("Environment") or {}).get("Variables") or {})
    added = {k: v for k, v in s.variables.items() if k not in dvars}
    same = dcfg.get("CodeSha256") == s.code_sha and (dcfg.get("Description") or "") == s.label and not added
    return PromoteSpec(
        source_env=src_name,
        function=s.function,
        dest_function=dst_fn,
        service=s.service,
        source_version=s.version,
        label=s.label,
        code_sha=s.code_sha,
        location=s.location,
        image=s.image,
        settings=s.settings,
        variables={**dvars, **added},
        added_variables=tuple(sorted(added)),
        dest_current=str(alias["FunctionVersion"]),
        dest_current_label=dcfg.get("Description") or "",
        dest_code_sha=dcfg.get("CodeSha256") or "",
        dest_revision=alias.get("RevisionId"),  # the alias move is conditional on it
        backup_alias=f"{dst.backup_alias_prefix}{lv.stamp(now)}",
        record_id=f"promote-{now.strftime(RECORD_STAMP)}-{uuid.uuid4().hex[:6]}",
        monitor_seconds=monitor_seconds(dst),
        gates=gates_and_window[0],
        window=gates_and_window[1],
        skip=f"{dst_fn}:{dst.alias} already serves release {s.label} (code {s.code_sha[:12]}...)" if same else None,
    )


def _promotion_changes(src_name: str, dst: Environment, d: PromoteSpec, dest_sha: str | None) -> list[Change]:
    """Every change a promotion makes, in order (001 §3.2.1 sequence diagram; 001 §6.2.1 backup; 002 SSM)."""
    fn_res = f"lambda:{d.dest_function}"
    settings = ", ".join(f"{k}={v}" for k, v in d.settings.items()) + (
        f"; +{', +'.join(d.added_variables)}" if d.added_variables else ""
    )
    changes = [
        Change(
            f"{fn_res}:alias/{d.backup_alias}",
            "FunctionVersion",
            None,
            d.dest_current,
            "create",
            "backup before promotion (001 §6.2.1)",
        ),
        Change(
            f"{fn_res}:$LATEST",
            "CodeSha256",
            dest_sha,
            d.code_sha,
            "update",
            f"package of {src_name} {d.function}:{d.source_version} (001 §3.2.1 'Update Lambda code')",
        ),
        Change(
            f"{fn_res}:$LATEST",
            "Configuration",
            None,
            settings,
            "update",
            "release settings; new variables travel with the release",
        ),
        Change(f"{fn_res}:version", "Description", None, d.label, "create", "publish (001 §3.2.1)"),
        Change(
            f"{fn_res}:alias/{dst.alias}",
            "FunctionVersion",
            d.dest_current,
            f"(new version {d.label})",
            "update",
            "001 §3.2.1 'Update latest alias'",
        ),
    ]
    return changes + _record_and_ssm(dst, d.record_id, d.label)


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
