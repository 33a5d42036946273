"""Guards every action applies at plan time, whoever calls it (pytest, CLI, library).

- a non-disposable target (a real account, a LocalStack someone else may use) needs the explicit
  mutation permission (``--allow-mutation``);
- a protected environment needs the runbook's approvals: distinct approvers and a reason
  (000 §9.3 PROD rollback, 001 §2.2 / §4.2 SIT -> PROD), and for a promotion the maintenance window
  (001 §4.1.2) unless the emergency rule's approvers sign it (001 §4.1.2 "Emergency Deployments");
- PROD destroy is refused always.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime

from harness.inventory.model import Environment
from harness.safety import approval_refusal, mutation_refusal, window_refusal
from harness.targets.base import TargetLike


@dataclass(frozen=True)
class Authority:
    """Who asks for a mutation, with what permission and approvals (CLI flags or pytest options)."""

    allow_mutation: bool = False
    approvers: tuple[str, ...] = ()
    reason: str | None = None
    actor: str = ""
    incident: str | None = None  # an incident ticket (the emergency rule needs one)
    emergency: bool = False  # promote outside the maintenance window under the emergency rule

    @property
    def who(self) -> str:
        """The actor recorded in audit records (the OS user when none was given)."""
        if self.actor:
            return self.actor
        try:
            return getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (containers)
            return "unknown"


def refusal(target: TargetLike, authority: Authority, *, rule: str, env: Environment | None = None) -> str | None:
    """Why ``authority`` may not mutate ``env`` (default: the target's) under approval ``rule``, or None."""
    env = env or target.env
    return mutation_refusal(
        disposable=bool(getattr(target, "disposable", False)),
        target=target.name,
        env=env,
        allow_mutation=authority.allow_mutation,
        approvers=authority.approvers,
        reason=authority.reason,
        rule_name=rule,
    )


def window_or_emergency_refusal(
    env: Environment, authority: Authority, when: datetime, *, emergency_rule: str = "emergency"
) -> str | None:
    """Outside the maintenance window (001 §4.1.2) only under the emergency rule: its approvers and an incident."""
    outside = window_refusal(env, when)
    if outside is None:
        return None
    if not authority.emergency:
        return (
            f"{outside}; an emergency promotion needs --emergency, an incident ticket and the {emergency_rule} "
            "approvers"
        )
    rule = env.approvals.get(emergency_rule)
    why = approval_refusal(rule, emergency_rule, list(authority.approvers), authority.reason)
    if why:
        return f"emergency promotion outside the maintenance window: {why}"
    if not (authority.incident and authority.incident.strip()):
        return (
            "emergency promotion outside the maintenance window needs an incident ticket (001 §4.1.2); pass "
            "--incident ID"
        )
    return None
