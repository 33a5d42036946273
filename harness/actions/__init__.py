"""Mutating runbook procedures: rollback, promotion, state and data recovery (plan, then apply).

Importable without pytest. Every action takes a target (clients, environment, clock), an
``Authority`` (mutation permission, approvals) and returns typed results; guards decide refusals at
plan time, so a refused or failed plan changes nothing.
"""

from harness.actions.base import COMPLETE, DRY_RUN, FAILED, REFUSED, SKIPPED, ActionResult, Change, Event, Plan, execute
from harness.actions.guards import Authority

__all__ = [
    "COMPLETE",
    "DRY_RUN",
    "FAILED",
    "REFUSED",
    "SKIPPED",
    "ActionResult",
    "Authority",
    "Change",
    "Event",
    "Plan",
    "execute",
]
