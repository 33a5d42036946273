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

Longer than 450 lines on purpose: the plan and the apply of one runbook procedure share the Move and
RollbackSpec types and read best side by side.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable, Mapping

from harness import aws
from harness.actions import lambda_versions as lv
from harness.actions.base import COMPLETE, FAILED, REFUSED, SKIPPED, ActionResult, Change, Event, Plan, execute
from harness.actions.guards import Authority, refusal
from harness.actions.interrupt import NOT_STARTED, Interrupts, read_back, run_batch, summary
from harness.inventory.model import Environment
from harness.outcome import Outcome
from harness.records import AuditTrail, DeploymentRecord, FunctionChange, audited, utc_stamp
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


@dataclass(frozen=True)
class RollbackTo:
    """How the target version is chosen (the CLI's ``--to-*`` options)."""

    kind: str  # previous | version | label | backup | deployed-previous | versions
    value: str | None = None
    versions: Mapping[str, str] = field(default_factory=dict)  # kind "versions": function -> version

    @classmethod
    def previous(cls) -> "RollbackTo":
        """The published version before the one the alias serves (002 rollback-service.sh; not 000 §4.4's ``.[-2]``)."""
        return cls("previous")

    @classmethod
    def version(cls, number: str) -> "RollbackTo":
        """An explicit version number (000 §4.2.4 TARGET_VERSION)."""
        return cls("version", str(number))

    @classmethod
    def label(cls, label: str) -> "RollbackTo":
        """The version whose Description is this release label (002 ``Versions[?Description==...]``)."""
        return cls("label", label)

    @classmethod
    def backup(cls, alias: str | None = None) -> "RollbackTo":
        """A ``backup-*`` alias's version: the named one, or the newest (001 §6.2.1)."""
        return cls("backup", alias)

    @classmethod
    def deployed_previous(cls) -> "RollbackTo":
        """The release deployed before the current one, from SSM deployed-version history (002)."""
        return cls("deployed-previous")

    @classmethod
    def each(cls, versions: Mapping[str, str]) -> "RollbackTo":
        """An explicit version per function (a restore: put aliases back where they were)."""
        return cls("versions", None, dict(versions))

    def describe(self) -> str:
        """How the target was chosen, with the runbook reference."""
        return {
            "previous": "the published version before the one the alias serves (002 rollback-service.sh; not 000 "
            "§4.4's .[-2], seed defect 4)",
            "version": f"explicit version {self.value} (000 §4.2.4)",
            "label": f"the version whose Description is {self.value} (002)",
            "backup": f"backup alias {self.value or 'newest backup-*'} (001 §6.2.1)",
            "deployed-previous": "the release deployed before the current one (SSM deployed-version history, 002)",
            "versions": "explicit version per function",
        }[self.kind]

    @property
    def explicit(self) -> bool:
        """True when the caller named the target: a missing target is then a refusal, not a skip."""
        return self.kind != "previous"


@dataclass(frozen=True)
class Move:
    """One function's planned move: from, to, why, or why it is skipped/refused."""

    function: str
    service: str | None
    current: str | None = None
    current_label: str = ""
    target: str | None = None
    target_label: str = ""
    routing: Mapping[str, float] = field(default_factory=dict)
    skip: str | None = None  # a reason: nothing to do for this function
    refuse: str | None = None  # a reason: the whole plan is refused
    revision_id: str | None = None  # the alias's RevisionId as the plan read it: the move is conditional on it
    canary: bool = False  # the alias routed weight to a newer version: the canary is what is rolled back

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (kept in the plan's details)."""
        return dict(vars(self), routing=dict(self.routing))

    def weights_line(self) -> str:
        """What happens to each weight: ``2 at 90 % -> 100 %; 3 at 10 % -> removed``."""
        if not self.routing:
            return ""
        primary = 100.0 - sum(100.0 * w for w in self.routing.values())
        parts = [f"{self.current} at {primary:g} % -> " + ("100 %" if self.target == self.current else "0 %")]
        parts += [f"{v} at {100.0 * w:g} % -> removed" for v, w in sorted(self.routing.items())]
        if self.target != self.current:
            parts.append(f"{self.target} -> 100 %")
        return "; ".join(parts)


@dataclass(frozen=True)
class RollbackSpec:
    """A rollback plan's typed content: what it read and what apply will do (apply reads only this)."""

    rule: str
    scope: str
    moves: tuple[Move, ...] = ()
    checkpoint: str = ""
    record_id: str = ""
    ssm_current: str | None = None
    ssm_version: int | None = None  # the parameter's Version as the plan read it (the update is conditional)
    ssm_label: str | None = None
    services: tuple[str, ...] = ()


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


def spec_of(plan: Plan[Any]) -> RollbackSpec:
    """The rollback plan's typed spec (TypeError for a plan of another action)."""
    if not isinstance(plan.spec, RollbackSpec):
        raise TypeError(f"{plan.action} plan carries no RollbackSpec")
    return plan.spec


# -- apply ------------------------------------------------------------------------------------------


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
