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

from dataclasses import dataclass
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
    spec_as,
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
    "PromoteServiceSpec",
    "PromoteSpec",
    "PromoteStackSpec",
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
    "spec_as",
    "spec_of",
    "stack_order",
    "window_used",
]


# -- services and the whole stack (001 §5) ----------------------------------------------------------


@dataclass(frozen=True)
class PromoteServiceSpec:
    """One service's promotion plan, typed (001 §3.2 / §4.3 per repository): one plan a function, in listing order."""

    service: str
    source_env: str
    plans: tuple[Plan[PromoteSpec], ...]


@dataclass(frozen=True)
class PromoteStackSpec:
    """The whole stack's promotion plan, typed (001 §5.1): one service plan a phase, in promotion order."""

    source_env: str
    order: tuple[str, ...]
    gates: str  # the source gates' summary (001 §2.1), evaluated once for every phase
    phases: tuple[Plan[PromoteServiceSpec], ...]


def plan_promote_service(
    source: TargetLike,
    dest: TargetLike,
    authority: Authority,
    service: str,
    *,
    gates: Gates,
    functions: Sequence[str] | None = None,
) -> Plan[PromoteServiceSpec]:
    """Plan every function of one service (001 §3.2 / §4.3 per repository); refused if any function's plan is.

    ``functions``: the service's functions when the caller listed them already (the stack lists once).
    """
    src, dst = source.env, dest.env
    plan: Plan[PromoteServiceSpec] = Plan(
        "promote-service", dst.inventory, dst.name, dest.name, dest.clock.now(), verified_by=VERIFIED_BY
    )
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
    plans = tuple(plan_promote(source, dest, authority, function=fn, gates=outcome) for fn in names)
    plan.spec = PromoteServiceSpec(service, src.name, plans)
    _gather(plan, plans)
    return plan


def _gather(plan: Plan[Any], parts: Sequence[Plan[Any]], *, notes: bool = True) -> None:
    """A batch plan is refused when a part is (every reason joined), else carries the parts' changes (and notes)."""
    refused = [p.refusal for p in parts if p.refusal]
    if refused:
        plan.refusal = "; ".join(refused)
        return
    for p in parts:
        plan.changes += p.changes
        plan.expect_versions.update(p.expect_versions)
        plan.notes += [n for n in p.notes if notes and n not in plan.notes]


def apply_promote_service(
    source: TargetLike,
    dest: TargetLike,
    plan: Plan[PromoteServiceSpec],
    authority: Authority | None = None,
    *,
    max_workers: int = MAX_WORKERS,
    interrupts: Interrupts | None = None,
) -> ActionResult:
    """Promote the service's functions concurrently; FAILED when any of them failed; INTERRUPTED when
    ``interrupts`` stopped it (functions in flight finish, with their monitor; the rest never start)."""
    if plan.refused:
        return ActionResult(plan, REFUSED, message=plan.refusal or "refused")
    spec = spec_as(plan, PromoteServiceSpec)
    stop = interrupts or Interrupts()
    batch = run_batch(
        list(spec.plans),
        lambda p: apply_promote(source, dest, p, authority),
        max_workers=max_workers,
        should_stop=lambda: stop.stopped,
        name="promote",
    )
    children = [batch.results[i] if i in batch.results else _not_started(p) for i, p in enumerate(spec.plans)]
    folded = _fold(plan, children, f"service {spec.service}")
    if batch.stopped:
        _interrupted(folded, batch.stopped)
    return folded


def _not_started(plan: Plan[Any]) -> ActionResult:
    """The result of a function (or, with its functions as children, a phase) an interruption kept from starting."""
    if isinstance(plan.spec, PromoteServiceSpec):
        return ActionResult(
            plan, NOT_STARTED, message="not started (interrupted)", children=[_not_started(p) for p in plan.spec.plans]
        )
    final = {"final_version": spec_of(plan).dest_current}
    return ActionResult(plan, NOT_STARTED, message="not started (interrupted)", evidence=final)


def _function_or_action(plan: Plan[Any]) -> str:
    """What a failed child's line names: its destination function, else its action (a phase, the Terraform step)."""
    return plan.spec.dest_function if isinstance(plan.spec, PromoteSpec) else plan.action


def _service_or_action(plan: Plan[Any]) -> str:
    """What a phase is called: its service, else its action (the Terraform step)."""
    return plan.spec.service if isinstance(plan.spec, PromoteServiceSpec) else plan.action


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
        result.message = f"{what}: " + "; ".join(f"{_function_or_action(c.plan)}: {c.message}" for c in failed)
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


def plan_promote_stack(
    source: TargetLike, dest: TargetLike, authority: Authority, *, gates: Gates
) -> Plan[PromoteStackSpec]:
    """Plan every phase in 001 §5.1 order (Terraform last, as the caller's hook); refused if any phase is."""
    src, dst = source.env, dest.env
    plan: Plan[PromoteStackSpec] = Plan(
        "promote-stack", dst.inventory, dst.name, dest.name, dest.clock.now(), verified_by=VERIFIED_BY
    )
    plan.refusal = _guard(source, dest, authority)
    if plan.refusal:
        return plan
    outcome = _gate_outcome(gates)
    plan.details["gates"] = outcome[1]  # rendered: the checklist's "Pre-flight checks passed" row (001 §7.2)
    if not outcome[0]:
        plan.refusal = f"pre-promotion gates failed on {src.name} (001 §2.1): {outcome[1]}"
        return plan
    order = tuple(stack_order(src))
    listed = lv.service_functions(src, None, source.client("lambda"))  # one ListFunctions for every service's prefix
    phases = tuple(
        plan_promote_service(source, dest, authority, s, gates=outcome, functions=[fn for fn, of in listed if of == s])
        for s in order
    )
    plan.spec = PromoteStackSpec(src.name, order, outcome[1], phases)
    _gather(plan, phases, notes=False)
    for i, phase in enumerate(() if plan.refused else phases, 1):
        spec = spec_as(phase, PromoteServiceSpec)
        plan.notes.append(f"phase {i}: {spec.service} ({len(spec.plans)} function(s))")
    return plan


def apply_promote_stack(
    source: TargetLike,
    dest: TargetLike,
    plan: Plan[PromoteStackSpec],
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
    for phase in spec_as(plan, PromoteStackSpec).phases:
        if stop.stopped:
            children.append(_not_started(phase))
            continue
        done = apply_promote_service(source, dest, phase, authority, interrupts=stop)
        children.append(done)
        if done.outcome == FAILED:
            break
    else:
        if terraform_step is not None and not stop.stopped:  # phase 4 (001 §5.1): infrastructure last
            children.append(terraform_step())
    result = _fold(plan, children, "stack")
    promoted = [_service_or_action(c.plan) for c in children if c.outcome == COMPLETE]
    if result.outcome == FAILED:
        result.message = (
            f"stopped at phase {len(children)} ({_service_or_action(children[-1].plan)}): {children[-1].message}; "
            f"promoted before it: {', '.join(promoted) or 'nothing'}"
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
        final = r.evidence.get("final_version")
        if final and isinstance(r.plan.spec, PromoteSpec):
            out[r.plan.spec.dest_function] = str(final)
        stack += r.children
    return out
