"""The audit record of a state or data action (state-restore, state-unlock, pitr-restore, table-switch,
copy-back, table-cleanup), written through ``harness.records.audited`` in the inventory's deployments
table when it has one (001 §6.3.2 flat or 002 §4 PK/SK): IN_PROGRESS first, then always COMPLETE
or FAILED.

A record about a state object or a table carries ``resource`` (``s3://bucket/key``,
``dynamodb:table``) so the ``lambda-alias-version`` check never reads its versions as a function's.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator, Mapping

from harness.actions.base import Plan
from harness.records import AuditTrail, DeploymentRecord, FunctionChange, audited, utc_stamp
from harness.targets.base import TargetLike


def plan_authority(plan: Plan[Any]) -> dict[str, Any]:
    """Who asked, and why, as the plan carries it for the apply (``details["authority"]``)."""
    return dict(plan.details.get("authority") or {})


def authority_details(authority: Any) -> dict[str, Any]:
    """The parts of an ``Authority`` an apply records: actor, reason, approvers, incident."""
    return {
        "actor": authority.who,
        "reason": authority.reason,
        "approvers": list(authority.approvers),
        "incident": authority.incident,
    }


def new_plan(
    action: str, target: TargetLike, authority: Any, verified_by: tuple[str, ...], now: datetime | None = None
) -> Plan[Any]:
    """An empty Plan for ``action`` on ``target``'s environment at its clock's now, carrying who asked (for the
    apply)."""
    env = target.env
    plan: Plan[Any] = Plan(
        action, env.inventory, env.name, target.name, now or target.clock.now(), verified_by=verified_by
    )
    plan.details["authority"] = authority_details(authority)
    return plan


@contextmanager
def audit(
    target: TargetLike,
    plan: Plan[Any],
    *,
    resource: str | None,
    from_version: str | None = None,
    to_version: str | None = None,
    functions: Mapping[str, FunctionChange] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Iterator[AuditTrail]:
    """``with audit(target, plan, resource=...) as trail:`` — the action's record, never left IN_PROGRESS."""
    who = plan_authority(plan)
    now = target.clock.now()
    record = DeploymentRecord(
        record_id=f"{plan.action}-{now.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}",
        action=plan.action,
        environment=target.env.name,
        timestamp=utc_stamp(now),
        from_version=from_version,
        to_version=to_version,
        functions=dict(functions or {}),
        actor=who.get("actor") or None,
        reason=who.get("reason"),
        resource=resource,
        extra={
            k: v
            for k, v in {
                **(extra or {}),
                "incident": who.get("incident"),
                "approvers": ",".join(who.get("approvers") or []) or None,
            }.items()
            if v is not None
        },
    )
    with audited(target.client("dynamodb"), target.env.deployments_table, record, target.clock) as trail:
        yield trail
