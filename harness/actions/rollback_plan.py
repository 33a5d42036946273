"""Lambda alias rollback: the read-only plan (000 §4.2, §4.4; 001 §6.2.1, §6.3.2; 002 rollback-lambda.yml).

``plan_rollback`` / ``plan_rollback_all`` read only: the alias, the published versions, the target
version by the chosen rule, and decide refusals. The apply that executes the plan is in
harness/actions/rollback.py, which re-exports every public name here.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Mapping

from harness import aws
from harness.actions import lambda_versions as lv
from harness.actions.base import Change, Plan
from harness.actions.guards import Authority, refusal
from harness.actions.rollback_types import Move, RollbackSpec, RollbackTo
from harness.inventory.model import Environment
from harness.outcome import Outcome
from harness.targets.base import TargetLike

APPROVAL_RULE = "prod-rollback"  # 000 §9.3
# The post-rollback rows that verify one function's rollback (000 §7.4), run by the plugin/CLI.
VERIFIED_BY = ("lambda-alias-version", "error-rate", "log-errors", "health-endpoint")
API_ROWS = ("api-health", "api-responses")  # 000 §7.2, when the API's backing function moves
# Harness setting, not a runbook threshold: concurrent functions of a batch (Lambda's control-plane
# quota is per account; boto3's standard retries absorb throttling).
MAX_WORKERS = 8
INTERRUPTED = Outcome.INTERRUPTED
RECORD_STAMP = "%Y%m%d%H%M%S"  # 002 ROLLBACK_ID="rollback-$(date +%Y%m%d%H%M%S)"


# -- plan -------------------------------------------------------------------------------------------


def _refusal_for_name(env: Environment, fn: str) -> str | None:
    """A function the inventory does not name (nor discovers by prefix) is refused before any call."""
    if lv.service_of(env, fn) is not None:
        return None
    known = [f.name for f in env.functions] + [f"{d.prefix}*" for d in env.discovery]
    return f"unknown function {fn!r} in {env.inventory}/{env.name}; known: {', '.join(known)}"


def _canary(routing: Mapping[str, float], primary: str) -> bool:
    """True when the alias routes weight to a version newer than its primary (a canary in flight)."""
    return any(lv.version_key(str(v)) > lv.version_key(str(primary)) for v in routing)


def _choose(target: TargetLike, fn: str, to: RollbackTo, deployed_label: str | None) -> Move:
    """Read the alias and versions of ``fn`` and choose its target version by ``to`` (reads only)."""
    env, lam = target.env, target.client("lambda")
    service = lv.service_of(env, fn)
    alias = lv.get_alias(lam, fn, env.alias)
    if alias is None:
        return Move(
            fn,
            service,
            refuse=f"function {fn!r} or its alias {env.alias!r} not found in {env.inventory}/{env.name} "
            f"(account {env.account}, {env.region})",
        )
    current = alias["FunctionVersion"]
    routing = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    versions = lv.published_versions(lam, fn)
    cur = lv.find_version(versions, current)
    base = Move(fn, service, current, cur.label if cur else "", routing=routing, revision_id=alias.get("RevisionId"))
    listing = ", ".join(v.describe() for v in versions) or "none"
    chosen: lv.Version | None
    if to.kind == "previous" and _canary(routing, current):
        # A canary in flight (CodeDeploy traffic shifting): the newer weighted version is the release being
        # rolled back; the primary is the stable one, so all traffic returns to it (002 --routing-config '{}').
        chosen, base = cur or lv.Version(str(current), "", ""), replace(base, canary=True)
    elif to.kind == "previous":
        chosen = lv.previous_version(versions, current)
        if chosen is None:
            return replace(base, skip=f"no published version before {current} (versions: {listing})")
    elif to.kind in ("version", "versions"):
        number = to.value if to.kind == "version" else to.versions.get(fn)
        chosen = lv.find_version(versions, str(number)) if number else None
        if chosen is None:
            return replace(base, refuse=f"{fn}: version {number} is not a published version (versions: {listing})")
    elif to.kind in ("label", "deployed-previous"):
        label = to.value if to.kind == "label" else deployed_label
        chosen = lv.version_with_label(versions, label) if label else None
        if chosen is None:
            return replace(base, refuse=f"{fn}: no published version has Description {label!r} (versions: {listing})")
    elif to.kind == "backup":
        backups = lv.aliases_with_prefix(lam, fn, env.backup_alias_prefix)
        pick = (
            next((a for a in backups if a["Name"] == to.value), None)
            if to.value
            else (backups[-1] if backups else None)
        )
        if pick is None:
            names = ", ".join(a["Name"] for a in backups) or "none"
            want = to.value or f"{env.backup_alias_prefix}*"
            return replace(base, refuse=f"{fn}: no backup alias {want} (backup aliases: {names}; 001 §6.2.1)")
        chosen = lv.find_version(versions, pick["FunctionVersion"]) or lv.Version(pick["FunctionVersion"], "", "")
    else:
        raise ValueError(f"unknown rollback rule {to.kind!r}")
    if chosen.number == current and not routing:
        return replace(
            base,
            target=chosen.number,
            target_label=chosen.label,
            skip=f"alias {env.alias} already serves version {current}",
        )
    return replace(base, target=chosen.number, target_label=chosen.label)


def _checkpoint_prefix(env: Environment) -> str:
    """``incident-`` in a protected environment (001 §6.3.2 step 4), ``rollback-checkpoint-`` elsewhere (000 §4.2.4)."""
    return env.incident_alias_prefix if env.protected else env.checkpoint_alias_prefix


def _changes(env: Environment, d: Move, checkpoint: str) -> list[Change]:
    resource = f"lambda:{d.function}"
    routing = f"; weights: {d.weights_line()} (routing cleared, 002)" if d.routing else ""
    if d.canary:
        routing = f"; canary rolled back, weights: {d.weights_line()} (routing cleared, 002)"
    return [
        Change(
            f"{resource}:alias/{checkpoint}",
            "FunctionVersion",
            None,
            d.current,
            "create",
            "checkpoint on the serving version (001 §6.3.2 step 4)"
            if env.protected
            else "checkpoint on the serving version (000 §4.2.4)",
        ),
        Change(
            f"{resource}:alias/{env.alias}",
            "FunctionVersion",
            d.current,
            d.target,
            "update",
            f"rollback (000 §4.2.4){routing}",
        ),
    ]


def _ssm_label(decisions: list[Move]) -> str | None:
    """The one release label every moved function will serve, or None when they differ or have none."""
    labels = {d.target_label for d in decisions if d.skip is None}
    return labels.pop() if len(labels) == 1 and "" not in labels else None


def _ssm_reads(target: TargetLike, plan: Plan[Any], to: RollbackTo) -> tuple[str | None, int | None, str | None]:
    """The SSM deployed-version parameter's value and Version (the update is conditional on it), and for
    ``--to-deployed-previous`` the release before it in the history (002); sets ``plan.refusal`` when missing."""
    env = target.env
    current_label: str | None = None
    ssm_version: int | None = None
    if env.ssm_deployed_version:
        param = aws.get_or_none(target.client("ssm").get_parameter, "ParameterNotFound", Name=env.ssm_deployed_version)
        current_label = param["Parameter"]["Value"] if param else None
        ssm_version = int(param["Parameter"].get("Version") or 0) if param else None
        plan.details["ssm_current"] = current_label
    if to.kind != "deployed-previous":
        return current_label, ssm_version, None
    if not env.ssm_deployed_version:
        plan.refusal = f"{env.inventory} has no ssm.deployed_version_parameter: --to-deployed-previous needs one (002)"
        return current_label, ssm_version, None
    history = lv.ssm_history(target.client("ssm"), env.ssm_deployed_version)
    deployed = lv.previous_deployed(history, current_label)
    plan.details["ssm_history"] = history
    if deployed is None:
        plan.refusal = (
            f"SSM {env.ssm_deployed_version} has no release deployed before {current_label!r} "
            f"(history: {', '.join(history) or 'empty'})"
        )
    return current_label, ssm_version, deployed


def _plan(
    target: TargetLike,
    authority: Authority,
    to: RollbackTo,
    names: list[tuple[str, str | None]],
    action: str,
    scope: str,
) -> Plan[Any]:
    env, now = target.env, target.clock.now()
    plan: Plan[Any] = Plan(action, env.inventory, env.name, target.name, now, verified_by=VERIFIED_BY)
    plan.details.update(rule=to.describe(), scope=scope, approval_rule=APPROVAL_RULE)
    plan.refusal = refusal(target, authority, rule=APPROVAL_RULE)
    if plan.refusal:
        return plan  # decided before any read of the account beyond the account guard
    current_label, ssm_version, deployed = _ssm_reads(target, plan, to)
    if plan.refusal:
        return plan
    decisions = _choose_all(target, to, names, deployed)
    refused = [d.refuse for d in decisions if d.refuse]
    if refused:
        plan.refusal = "; ".join(refused)
        plan.details["functions"] = {d.function: d.to_dict() for d in decisions}
        return plan
    checkpoint = f"{_checkpoint_prefix(env)}{lv.stamp(now)}"
    record_id = f"rollback-{now.strftime(RECORD_STAMP)}-{uuid.uuid4().hex[:6]}"
    for d in decisions:
        if d.skip is None:
            plan.changes += _changes(env, d, checkpoint)
            plan.expect_versions[d.function] = str(d.target)
    moved = [d for d in decisions if d.skip is None]
    if env.api and any(d.function == env.api.function for d in moved):
        plan.verified_by = VERIFIED_BY + API_ROWS  # the API's backing function moved (000 §7.2)
    label = _ssm_label(decisions) if moved and env.ssm_deployed_version else None
    label = label if label != current_label else None
    plan.changes += _record_and_ssm_changes(env, record_id if moved else None, current_label, label)
    if label:
        plan.details["ssm_label"] = label
    plan.details.update(
        functions={d.function: d.to_dict() for d in decisions}, checkpoint=checkpoint, record_id=record_id
    )
    plan.spec = RollbackSpec(
        rule=to.describe(),
        scope=scope,
        moves=tuple(decisions),
        checkpoint=checkpoint,
        record_id=record_id,
        ssm_current=current_label,
        ssm_version=ssm_version,
        ssm_label=label,
        services=tuple(sorted({s for _, s in names if s})),
    )
    plan.notes += _notes(to, decisions, current_label, deployed)
    return plan


def _record_and_ssm_changes(
    env: Environment, record_id: str | None, current_label: str | None, label: str | None
) -> list[Change]:
    """The audit record's write (when a function moves) and the SSM deployed-version update (a new label)."""
    out = []
    if record_id and env.deployments_table is not None:
        out.append(
            Change(
                f"dynamodb:{env.deployments_table.name}",
                "record",
                None,
                record_id,
                "write",
                "IN_PROGRESS, then COMPLETE or FAILED (001 §6.3.2 step 7, 002 §4)",
            )
        )
    if env.ssm_deployed_version and label:
        out.append(
            Change(
                f"ssm:{env.ssm_deployed_version}",
                "Value",
                current_label,
                label,
                "update",
                "after a complete rollback (002)",
            )
        )
    return out


def _notes(to: RollbackTo, decisions: list[Move], current_label: str | None, deployed: str | None) -> list[str]:
    """The plan's notes: canaries, skips, and where the target rule departs from the runbook (seed defects)."""
    notes = [f"{d.function}: canary: {d.weights_line()}" for d in decisions if d.canary and d.skip is None]
    notes += [f"{d.function}: skipped: {d.skip}" for d in decisions if d.skip]
    if to.kind == "previous":
        notes.append(
            "target: the version before the one the alias serves, not the second-to-last published (000 §4.4, seed "
            "defect 4)"
        )
    if to.kind == "deployed-previous":
        notes.append(
            f"SSM history: the release before {current_label!r} first appeared ({deployed}), not Parameters[-2] "
            "(002, seed defect 4)"
        )
    notes.append(
        "health is invoked through fn:alias, never the unqualified function ($LATEST; 001 §3.3, seed defect 3)"
    )
    return notes


def _choose_all(
    target: TargetLike, to: RollbackTo, names: list[tuple[str, str | None]], deployed: str | None
) -> list[Move]:
    """Every function's decision, read concurrently (reads are independent)."""
    if len(names) == 1:
        return [_choose(target, names[0][0], to, deployed)]
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(names))) as pool:
        return list(pool.map(lambda n: _choose(target, n[0], to, deployed), names))


def plan_rollback(target: TargetLike, function: str, authority: Authority, to: RollbackTo | None = None) -> Plan[Any]:
    """Plan one function's alias rollback (000 §4.2); reads only. An unknown function, alias or version,
    no earlier version, or a target equal to the serving version is a refusal."""
    to = to or RollbackTo.previous()
    env = target.env
    plan: Plan[Any] = Plan(
        "rollback", env.inventory, env.name, target.name, target.clock.now(), verified_by=VERIFIED_BY
    )
    plan.details.update(function=function, rule=to.describe())
    why = _refusal_for_name(env, function) or refusal(target, authority, rule=APPROVAL_RULE)
    if why:
        plan.refusal = why
        return plan
    made = _plan(target, authority, to, [(function, lv.service_of(env, function))], "rollback", function)
    made.details["function"] = function
    spec = made.spec if isinstance(made.spec, RollbackSpec) else None
    skip = next((m.skip for m in spec.moves if m.function == function), None) if spec else None
    if not made.refused and skip:
        made.refusal = f"{function}: {skip}: nothing to roll back"
        made.changes = []
    return made


def _empty_all(target: TargetLike) -> Plan[Any]:
    env = target.env
    return Plan("rollback-all", env.inventory, env.name, target.name, target.clock.now(), verified_by=VERIFIED_BY)


def plan_rollback_all(
    target: TargetLike, authority: Authority, to: RollbackTo | None = None, *, service: str | None = None
) -> Plan[Any]:
    """Plan the rollback of every function of the inventory, or of one service (000 §4.4, 002); reads only.

    A function with no earlier version (or already on the target) is skipped with its reason; a
    target the caller named that a function lacks refuses the whole plan (nothing changes).
    """
    to = to or RollbackTo.previous()
    env = target.env
    known = lv.services(env)
    if service is not None and service not in known:
        plan = _empty_all(target)
        plan.refusal = f"unknown service {service!r} in {env.inventory}/{env.name}; services: {', '.join(known)}"
        return plan
    why = refusal(target, authority, rule=APPROVAL_RULE)
    if why:
        plan = _empty_all(target)
        plan.refusal = why
        return plan
    if to.kind == "versions":
        unknown = [why for why in (_refusal_for_name(env, fn) for fn in to.versions) if why]
        if unknown:
            plan = _empty_all(target)
            plan.refusal = "; ".join(unknown)
            return plan
        names: list[tuple[str, str | None]] = [(fn, lv.service_of(env, fn)) for fn in to.versions]
    else:
        names = list(lv.service_functions(env, service, target.client("lambda")))
    if not names:
        plan = _empty_all(target)
        plan.refusal = f"no function found for {service or 'any service'} in {env.inventory}/{env.name}"
        return plan
    plan = _plan(target, authority, to, names, "rollback-all", service or "all services")
    plan.details["services"] = sorted({s for _, s in names if s})
    return plan


# -- apply ------------------------------------------------------------------------------------------
