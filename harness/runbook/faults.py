"""The game-day faults a rehearsal may inject before a section runs (``--fault NAME``), by name.

Each is the drills' own injector (harness/faults/), aimed at the resource the section is about: the function
in ``FUNCTION_NAME`` when the caller binds it (``--var FUNCTION_NAME=...``), else the drills' choice (the
API's backing function, 000 §4.2's example); the first table, bucket, ECS service or state key otherwise.
"""

from __future__ import annotations

from typing import Callable, Mapping

from harness.actions.guards import Authority
from harness.errors import HarnessError
from harness.faults import deployment, dynamodb, ecs, s3, terraform
from harness.faults.base import Fault
from harness.targets.base import TargetLike

Injector = Callable[[TargetLike, Authority, Mapping[str, str]], Fault]
AUTHORITY = Authority(allow_mutation=True, reason="runbook rehearsal: a game-day fault before the section runs")


def _function(target: TargetLike, variables: Mapping[str, str]) -> str:
    env = target.env
    if variables.get("FUNCTION_NAME"):
        return variables["FUNCTION_NAME"]
    if env.api:
        return env.api.function
    if not env.functions:
        raise HarnessError(f"{env.inventory}/{env.name} has no function for a Lambda fault")
    return env.functions[0].name


def _first(items: tuple[str, ...], what: str, target: TargetLike) -> str:
    if not items:
        raise HarnessError(f"{target.env.inventory}/{target.env.name} has no {what} for this fault")
    return str(items[0])


def _bad_version(target: TargetLike, who: Authority, variables: Mapping[str, str]) -> Fault:
    return deployment.bad_deployment(target, [_function(target, variables)], who)


def _bad_all(target: TargetLike, who: Authority, variables: Mapping[str, str]) -> Fault:
    return deployment.bad_deployment(target, [f.name for f in target.env.functions], who)


def _pitr(target: TargetLike, who: Authority, variables: Mapping[str, str]) -> Fault:
    tables = tuple(t.name for t in target.env.tables if t.pitr != "none")
    return dynamodb.pitr_disabled(target, _first(tables, "PITR table", target), who)


def _public(target: TargetLike, who: Authority, variables: Mapping[str, str]) -> Fault:
    buckets = tuple(b.name for b in target.env.buckets if b.public_access_block)
    return s3.public_access_removed(target, _first(buckets, "bucket", target), who)


def _tasks(target: TargetLike, who: Authority, variables: Mapping[str, str]) -> Fault:
    services = target.env.ecs.services if target.env.ecs else ()
    return ecs.tasks_down(target, _first(services, "ECS service", target), who)


def _lock(target: TargetLike, who: Authority, variables: Mapping[str, str]) -> Fault:
    keys = target.env.terraform.state_keys if target.env.terraform else ()
    return terraform.stuck_lock(target, _first(keys, "Terraform state key", target), who)


def _state(target: TargetLike, who: Authority, variables: Mapping[str, str]) -> Fault:
    keys = target.env.terraform.state_keys if target.env.terraform else ()
    return terraform.corrupted_state(target, _first(keys, "Terraform state key", target), who)


FAULTS: dict[str, Injector] = {
    "bad-lambda-version": _bad_version,
    "bad-deployment": _bad_all,
    "pitr-disabled": _pitr,
    "public-access-removed": _public,
    "ecs-tasks-down": _tasks,
    "stuck-lock": _lock,
    "corrupted-state": _state,
}


def inject(name: str, target: TargetLike, variables: Mapping[str, str] | None = None) -> Fault:
    """Inject fault ``name`` on ``target`` (HarnessError names the known faults)."""
    if name not in FAULTS:
        raise HarnessError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
    return FAULTS[name](target, AUTHORITY, variables or {})
