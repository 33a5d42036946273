"""Lambda alias rollback (000 §4.2, §4.4; 001 §6.2.1, §6.3.2; 002 rollback-lambda.yml, rollback-service.sh).

``plan_rollback`` / ``plan_rollback_all`` read only: the alias, the published versions, the target
version by the chosen rule, and decide refusals. ``apply_rollback`` executes exactly that plan, per
function: a checkpoint alias on the serving version (``rollback-checkpoint-<ts>``, or
``incident-<ts>`` in a protected environment, 001 §6.3.2 step 4), the alias moved with a description
and its routing cleared, the move verified with GetAlias (000 §4.2.5), /health invoked through
``fn:alias`` (seed defect 3); an unhealthy target puts the alias back on the checkpoint version and
the function ends FAILED. A batch runs its functions independently and concurrently.

Audit: one record per action in the deployments table (001 §6.3.2 flat or 002 §4 PK/SK, through
harness/records.py): a single-function rollback names its ``function``; a batch writes ONE record
whose ``functions`` map holds every function's from/to/outcome/final version (002 writes one record
per workflow run, for all services). IN_PROGRESS first, then always COMPLETE or FAILED, also when an
exception or KeyboardInterrupt interrupts. Where the inventory names an SSM deployed-version
parameter it is set to the release label the functions now serve (002 "Update Deployed Version").

Concurrency and interruptions: each move is conditional on the alias's RevisionId read at plan time (a
stale one refuses that function); a batch runs through harness/actions/interrupt.py, so a Ctrl-C or
a lost lease starts nothing new and the record says what GetAlias says. A canary in flight (weight
routed to a newer version) is rolled back to the alias's primary version.

The plan (the Move and RollbackSpec types, ``plan_rollback``, ``plan_rollback_all``) lives in
harness/actions/rollback_plan.py; its public names are re-exported here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from harness import aws
from harness.actions import lambda_versions as lv
from harness.actions.base import COMPLETE, FAILED, REFUSED, SKIPPED, ActionResult, Change, Event, Plan, execute
from harness.actions.guards import Authority
from harness.actions.interrupt import Interrupts, run_batch
from harness.actions.rollback_plan import (
    API_ROWS,
    APPROVAL_RULE,
    INTERRUPTED,
    MAX_WORKERS,
    RECORD_STAMP,
    VERIFIED_BY,
    _changes,
    plan_rollback,
    plan_rollback_all,
)
from harness.actions.rollback_result import _child, _fold_outcomes, _Outcome, _record, final_versions
from harness.actions.rollback_types import Move, RollbackSpec, RollbackTo, spec_of
from harness.records import audited
from harness.targets.base import TargetLike

__all__ = [
    "API_ROWS",
    "APPROVAL_RULE",
    "INTERRUPTED",
    "MAX_WORKERS",
    "RECORD_STAMP",
    "VERIFIED_BY",
    "Move",
    "RollbackSpec",
    "RollbackTo",
    "apply_rollback",
    "final_versions",
    "plan_rollback",
    "plan_rollback_all",
    "rollback",
    "rollback_all",
    "spec_of",
]


def _verify_alias(lam: Any, fn: str, alias: str, version: str) -> str:
    """Read the alias back (000 §4.2.5 "Verify alias update"); raises when it does not serve ``version``."""
    got = str(lam.get_alias(FunctionName=fn, Name=alias)["FunctionVersion"])
    if got != version:
        raise RuntimeError(f"{fn}: alias {alias} serves {got} after the update, not {version}")
    return got


def _refused_move(target: TargetLike, spec: RollbackSpec, d: Move, out: _Outcome, moved: lv.AliasMoved) -> _Outcome:
    """A stale RevisionId: the alias changed after the plan. Nothing of ours stays (our new checkpoint is removed)."""
    lam, clock = target.client("lambda"), target.clock
    moved.planned = d.current
    out.outcome = REFUSED
    out.message = f"alias {target.env.alias} moved since the plan: was {d.current}, now {moved.now}; not changed"
    out.final = moved.now
    if out.checkpoint and out.applied:  # created by this run a moment ago: remove it again
        aws.get_or_none(lam.delete_alias, *lv.NOT_FOUND, FunctionName=d.function, Name=out.checkpoint)
        out.applied.clear()
        out.checkpoint = None
    out.events.append(Event(clock.now(), f"{d.function}: REFUSED: {out.message}"))
    return out


def _roll_one(target: TargetLike, spec: RollbackSpec, d: Move, actor: str, reason: str) -> _Outcome:
    """Checkpoint, move, verify, health-check one function; on any failure put the checkpoint version back."""
    env, lam, clock = target.env, target.client("lambda"), target.clock
    out = _Outcome(d)
    changes = _changes(env, d, spec.checkpoint)
    assert d.current is not None and d.target is not None
    at = clock.now()
    out.checkpoint, created = lv.create_alias_once(
        lam,
        d.function,
        spec.checkpoint,
        d.current,
        f"Checkpoint before rollback by {actor} at {lv.stamp(at)}: {reason}",
    )
    if created:
        out.applied.append((at, replace(changes[0], resource=f"lambda:{d.function}:alias/{out.checkpoint}")))
    out.events.append(Event(at, f"{d.function}: checkpoint alias {out.checkpoint} on version {d.current}"))
    moved_rev: str | None = None
    try:
        at = clock.now()
        response = lv.point_alias(
            lam,
            d.function,
            env.alias,
            d.target,
            f"Rollback to v{d.target} on {at:%Y-%m-%d}: {reason}",
            revision_id=d.revision_id,
        )
        moved_rev = response.get("RevisionId") or ""
        out.applied.append((at, changes[1]))
        out.events.append(Event(at, f"{d.function}: alias {env.alias} {d.current} -> {d.target}"))
        _verify_alias(lam, d.function, env.alias, d.target)
        out.events.append(Event(clock.now(), f"{d.function}: alias {env.alias} verified on version {d.target}"))
        probe = lv.invoke_health(
            lam, d.function, env.alias, env.health_payload, env.auto_rollback.health_status, clock.now()
        )
        out.health = probe
        out.events.append(Event(probe.at, f"{d.function}: health {probe.line()}"))
        if probe.ok:
            out.final = d.target
            return out
        out.outcome, out.message = FAILED, f"version {d.target} is unhealthy: {probe.problem}"
    except lv.AliasMoved as exc:
        return _refused_move(target, spec, d, out, exc)
    except Exception as exc:  # noqa: BLE001 (any failure after the checkpoint restores it and fails the function)
        out.outcome, out.message = FAILED, f"{type(exc).__name__}: {aws.error_message(exc)}"
    out.final = d.current  # unless the restore below fails
    if moved_rev is not None:
        _restore(target, d, out, reason, moved_rev or None)
    return out


def _restore(target: TargetLike, d: Move, out: _Outcome, reason: str, revision_id: str | None) -> None:
    """Put the alias back on the checkpoint version (000 §4.2.4's checkpoint, 001 §6.3.2 incident alias).

    Conditional on the RevisionId our own move produced: an alias someone else moved meanwhile is left alone.
    """
    env, lam, clock = target.env, target.client("lambda"), target.clock
    assert d.current is not None
    try:
        at = clock.now()
        lv.point_alias(
            lam,
            d.function,
            env.alias,
            d.current,
            f"Restored checkpoint {out.checkpoint} after a failed rollback: {reason}",
            revision_id=revision_id,
        )
        out.applied.append(
            (
                at,
                Change(
                    f"lambda:{d.function}:alias/{env.alias}",
                    "FunctionVersion",
                    d.target,
                    d.current,
                    "update",
                    f"restore checkpoint {out.checkpoint}: {out.message}",
                ),
            )
        )
        out.events.append(
            Event(at, f"{d.function}: alias {env.alias} put back on checkpoint version {d.current} ({out.message})")
        )
        out.final = d.current
    except Exception as exc:  # noqa: BLE001 (report it; the record says FAILED with no known final version)
        out.final = None
        out.message += f"; restoring the checkpoint failed: {type(exc).__name__}: {aws.error_message(exc)}"
        out.events.append(Event(clock.now(), f"{d.function}: restoring checkpoint {out.checkpoint} FAILED"))


def apply_rollback(
    target: TargetLike,
    plan: Plan[Any],
    authority: Authority | None = None,
    *,
    max_workers: int = MAX_WORKERS,
    interrupts: Interrupts | None = None,
    lease_lost: Callable[[], str | None] | None = None,
) -> ActionResult:
    """Execute a rollback plan (one function or a batch): COMPLETE; FAILED if any function failed or was
    refused (its alias moved since the plan); INTERRUPTED when ``interrupts`` (or a lost lease) stopped the
    batch, with every function's real state read back into the record."""
    authority = authority or Authority()
    if plan.refused:
        return ActionResult(plan, REFUSED, message=plan.refusal or "refused")
    env, clock, spec = target.env, target.clock, spec_of(plan)
    to_move = [d for d in spec.moves if d.skip is None]
    result = ActionResult(plan, COMPLETE)
    started = clock.now()
    result.log(started, f"{plan.action} initiated by {authority.who}: {spec.rule}")
    if not to_move:
        result.outcome, result.message = SKIPPED, "no function to roll back"
        result.children = [_child(plan, d, None) for d in spec.moves]
        return result
    stop = interrupts or Interrupts()

    def should_stop() -> str | None:
        return stop.stopped or (lease_lost() if lease_lost else None)

    reason = authority.reason or "no reason given"
    ddb = target.client("dynamodb") if env.deployments_table is not None else None
    with audited(ddb, env.deployments_table, _record(plan, spec, to_move, authority, started), clock) as trail:
        result.record = trail.record
        result.log(clock.now(), f"audit record {spec.record_id} IN_PROGRESS")
        batch = run_batch(
            to_move,
            lambda d: _roll_one(target, spec, d, authority.who, reason),
            max_workers=1 if len(to_move) == 1 else max_workers,
            should_stop=should_stop,
            name="rollback",
        )
        moved = list(batch.results.values())
        _fold_outcomes(target, plan, spec, result, trail, moved, batch.not_started, batch.stopped, max_workers)
    result.record = trail.record
    result.log(clock.now(), f"audit record {spec.record_id} {trail.record.status}")
    result.evidence["expect_versions"] = final_versions(result)
    return result


# -- one call -------------------------------------------------------------------------------------


def rollback(
    target: TargetLike, function: str, authority: Authority, to: RollbackTo | None = None, *, dry_run: bool = False
) -> ActionResult:
    """Plan and apply one function's rollback (000 §4.2): REFUSED, DRY_RUN, COMPLETE or FAILED."""
    return execute(
        lambda: plan_rollback(target, function, authority, to),
        lambda p: apply_rollback(target, p, authority),
        dry_run=dry_run,
    )


def rollback_all(
    target: TargetLike,
    authority: Authority,
    to: RollbackTo | None = None,
    *,
    service: str | None = None,
    dry_run: bool = False,
    max_workers: int = MAX_WORKERS,
) -> ActionResult:
    """Plan and apply the rollback of every function (or one service's), concurrently (000 §4.4, 002)."""
    return execute(
        lambda: plan_rollback_all(target, authority, to, service=service),
        lambda p: apply_rollback(target, p, authority, max_workers=max_workers),
        dry_run=dry_run,
    )
