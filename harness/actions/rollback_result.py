"""Lambda alias rollback: the result and audit record of an apply (000 §4.2.5; 001 §6.3.2; 002 §4).

Per-function outcomes folded into the action's result, the deployments-table record (one per action,
with a ``functions`` map for a batch), the SSM deployed-version parameter, and what GetAlias says
after an interruption. Used by harness/actions/rollback.py, which re-exports ``final_versions``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from harness import aws
from harness.actions import lambda_versions as lv
from harness.actions.base import COMPLETE, FAILED, REFUSED, SKIPPED, ActionResult, Change, Event, Plan
from harness.actions.guards import Authority
from harness.actions.interrupt import NOT_STARTED, read_back, summary
from harness.actions.rollback_plan import INTERRUPTED
from harness.actions.rollback_types import Move, RollbackSpec, spec_of
from harness.records import AuditTrail, DeploymentRecord, FunctionChange, utc_stamp
from harness.targets.base import TargetLike


@dataclass
class _Outcome:
    """What happened to one function during apply (collected from worker threads)."""

    decision: Move
    outcome: str = COMPLETE
    message: str = ""
    checkpoint: str | None = None
    final: str | None = None
    health: lv.HealthProbe | None = None
    events: list[Event] = field(default_factory=list)
    applied: list[tuple[datetime, Change]] = field(default_factory=list)


def _child(plan: Plan[Any], d: Move, moved: _Outcome | None, not_started: str | None = None) -> ActionResult:
    # not_started: the version a function the batch never started serves (read back), else None
    """A per-function result (the CLI prints one line per function)."""
    child_plan: Plan[Any] = Plan(
        "rollback",
        plan.inventory,
        plan.env,
        plan.target,
        plan.planned_at,
        verified_by=plan.verified_by,
        details={
            "function": d.function,
            "service": d.service,
            "from": d.current,
            "to": d.target,
            "from_label": d.current_label,
            "to_label": d.target_label,
            "weights": d.weights_line(),
        },
        spec=replace(spec_of(plan), moves=(d,)),
    )
    if d.target and d.skip is None:
        child_plan.expect_versions[d.function] = d.target
    if not_started is not None:
        return ActionResult(
            child_plan, NOT_STARTED, message="not started (interrupted)", evidence={"final_version": not_started}
        )
    if moved is None:
        return ActionResult(child_plan, SKIPPED, message=d.skip or "skipped", evidence={"final_version": d.current})
    return ActionResult(
        child_plan,
        moved.outcome,
        message=moved.message,
        applied=moved.applied,
        timeline=moved.events,
        evidence={
            "final_version": moved.final,
            "checkpoint": moved.checkpoint,
            "health": moved.health.to_dict() if moved.health else None,
        },
    )


def _record(
    plan: Plan[Any], spec: RollbackSpec, to_move: list[Move], authority: Authority, started: datetime
) -> DeploymentRecord:
    """The batch's audit record as it is written IN_PROGRESS (001 §6.3.2 step 7, 002 §4)."""
    single = plan.action == "rollback"
    first = to_move[0]
    return DeploymentRecord(
        record_id=spec.record_id,
        action="rollback",
        environment=plan.env,
        timestamp=utc_stamp(started),
        from_version=(first.current if single else spec.ssm_current),
        to_version=(first.target if single else spec.ssm_label),
        function=first.function if single else None,
        functions={d.function: FunctionChange(d.current, d.target) for d in to_move},
        services=spec.services,
        actor=authority.who,
        reason=authority.reason,
        extra={
            k: v
            for k, v in {
                "incident": authority.incident,
                "approved_by": ",".join(authority.approvers) or None,
                "method": "harness rollback",
            }.items()
            if v
        },
    )


def _serving_now(target: TargetLike, moves: list[Move], max_workers: int) -> dict[str, str | None]:
    """Each function's alias version as GetAlias reads it now (None when the alias is gone), concurrently."""
    lam, alias = target.client("lambda"), target.env.alias

    def serving(d: Move) -> str | None:
        got = lv.get_alias(lam, d.function, alias)
        return None if got is None else str(got["FunctionVersion"])

    return dict(zip([d.function for d in moves], read_back(moves, serving, max_workers=max_workers), strict=True))


def _fold_outcomes(
    target: TargetLike,
    plan: Plan[Any],
    spec: RollbackSpec,
    result: ActionResult,
    trail: AuditTrail,
    moved: list[_Outcome],
    not_started: list[Move],
    stopped: str | None,
    max_workers: int,
) -> None:
    """Every function's true outcome into the record and the result; the verdict and its message."""
    by_fn = {m.decision.function: m for m in moved}
    waiting = {d.function for d in not_started}
    todo = [d for d in spec.moves if d.skip is None]
    now_by_fn = _serving_now(target, todo, max_workers) if stopped else {}
    for fn, m in by_fn.items():
        m.final = now_by_fn.get(fn, m.final)  # after an interruption, what the account says, not what was planned
    functions = {
        d.function: (
            FunctionChange(d.current, d.target, by_fn[d.function].outcome, by_fn[d.function].final)
            if d.function in by_fn
            else FunctionChange(d.current, d.target, NOT_STARTED, now_by_fn.get(d.function, d.current))
        )
        for d in todo
    }
    functions.update(
        {d.function: FunctionChange(d.current, d.current, SKIPPED, d.current) for d in spec.moves if d.skip}
    )
    trail.update(functions=functions)
    for m in sorted(moved, key=lambda m: m.decision.function):
        result.applied += m.applied
        result.timeline += m.events
    result.timeline.sort(key=lambda e: e.at)
    result.children = [
        _child(plan, d, by_fn.get(d.function), now_by_fn.get(d.function, d.current) if d.function in waiting else None)
        for d in spec.moves
    ]
    bad = [m for m in moved if m.outcome in (FAILED, REFUSED)]
    if stopped:
        ok = sum(1 for m in moved if m.outcome == COMPLETE)
        put_back = sum(1 for m in moved if m.outcome == FAILED and m.final == m.decision.current)
        result.outcome = INTERRUPTED
        result.message = summary(ok, put_back, len(not_started), len(bad) - put_back, len(todo), stopped)
        trail.update(extra={**dict(trail.record.extra), "interrupted": stopped, "summary": result.message})
        result.record = trail.finish(FAILED)
        return
    if bad:
        result.outcome = FAILED
        result.message = "; ".join(f"{m.decision.function}: {m.message}" for m in bad)
        result.record = trail.finish(FAILED)
        return
    _update_ssm(target, spec, result)
    if result.outcome == FAILED:
        result.record = trail.finish(FAILED)
        return
    ok = sum(1 for c in result.children if c.outcome == COMPLETE)
    skipped = sum(1 for c in result.children if c.outcome == SKIPPED)
    result.message = f"{ok} rolled back" + (f", {skipped} skipped" if skipped else "")


def _update_ssm(target: TargetLike, spec: RollbackSpec, result: ActionResult) -> None:
    """Set the deployed-version parameter to the release now served (002 "Update Deployed Version").

    Conditional on what the plan read: SSM has no conditional PutParameter, so the parameter's Version is
    read again first and a change since the plan refuses the update (never overwritten blindly).
    """
    env, label = target.env, spec.ssm_label
    if not (env.ssm_deployed_version and label):
        return
    ssm, at = target.client("ssm"), target.clock.now()
    try:
        param = aws.get_or_none(ssm.get_parameter, "ParameterNotFound", Name=env.ssm_deployed_version)
        version = int(param["Parameter"].get("Version") or 0) if param else None
        if version != spec.ssm_version:
            value = param["Parameter"]["Value"] if param else None
            result.outcome = FAILED
            result.message = (
                f"aliases rolled back, but SSM {env.ssm_deployed_version} changed since the plan: was version "
                f"{spec.ssm_version} ({spec.ssm_current!r}), now version {version} ({value!r}); not updated"
            )
            return
        ssm.put_parameter(Name=env.ssm_deployed_version, Value=label, Type="String", Overwrite=True)
    except Exception as exc:  # noqa: BLE001 (the aliases moved; the audit trail says what did not)
        result.outcome, result.message = (
            FAILED,
            f"aliases rolled back, but updating SSM {env.ssm_deployed_version} failed: {aws.error_message(exc)}",
        )
        return
    result.changed(at, Change(f"ssm:{env.ssm_deployed_version}", "Value", spec.ssm_current, label, "update", "002"))
    result.log(at, f"SSM {env.ssm_deployed_version} = {label}")


def final_versions(result: ActionResult) -> dict[str, str]:
    """Where each function's alias stands after the action (what the alias-version row must see)."""
    out: dict[str, str] = {}
    for child in result.children:
        fn = child.plan.details.get("function")
        final = child.evidence.get("final_version")
        if fn and final:
            out[fn] = str(final)
    return out
