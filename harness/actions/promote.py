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

One function's plan is in harness/actions/promote_plan.py and its apply in
harness/actions/promote_apply.py; services and the whole stack (001 §5.1) are here, and every public
name of the three modules is importable from this one.
"""

from __future__ import annotations

from typing import Any, Sequence

from harness.actions import lambda_versions as lv
from harness.actions.base import COMPLETE, FAILED, REFUSED, ActionResult, Plan, execute
from harness.actions.guards import Authority
from harness.actions.interrupt import NOT_STARTED, Interrupts, run_batch, summary
from harness.actions.promote_apply import apply_promote, promote
from harness.actions.promote_plan import (
    MAX_WORKERS,
    RECORD_STAMP,
    RELEASE_SETTINGS,
    VERIFIED_BY,
    GateResult,
    Gates,
    PromoteSpec,
    TerraformStep,
    _gate_outcome,
    _guard,
    approval_rule,
    counterpart,
    next_window_start,
    plan_promote,
    spec_of,
    window_used,
)
from harness.inventory.model import Environment
from harness.outcome import Outcome
from harness.targets.base import TargetLike

__all__ = [
    "MAX_WORKERS",
    "RECORD_STAMP",
    "RELEASE_SETTINGS",
    "VERIFIED_BY",
    "ActionResult",
    "GateResult",
    "Gates",
    "Plan",
    "PromoteSpec",
    "TerraformStep",
    "apply_promote",
    "apply_promote_service",
    "apply_promote_stack",
    "approval_rule",
    "counterpart",
    "final_versions",
    "next_window_start",
    "plan_promote",
    "plan_promote_service",
    "plan_promote_stack",
    "promote",
    "promote_service",
    "promote_stack",
    "spec_of",
    "stack_order",
    "window_used",
]


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
