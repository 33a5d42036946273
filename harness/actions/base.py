"""What every action is made of: a plan that reads only and lists each change, and an apply that
executes exactly that plan (docs/architecture.md "Actions are plan, then apply").

An action module provides ``plan_<action>(target, ..., authority) -> Plan[Any]`` and
``apply_<action>(target, plan) -> ActionResult``; :func:`execute` runs the pair with the guards: a
refused plan, or a dry run, never reaches apply, so a refusal changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Generic, Mapping, TypeVar

from harness.outcome import Outcome
from harness.records import DeploymentRecord

COMPLETE, FAILED, REFUSED, DRY_RUN, SKIPPED = (
    Outcome.COMPLETE,
    Outcome.FAILED,
    Outcome.REFUSED,
    Outcome.DRY_RUN,
    Outcome.SKIPPED,
)


@dataclass(frozen=True)
class Change:
    """One change a plan will make: which resource, which attribute, from what to what."""

    resource: str  # e.g. "lambda:bbws-tenant-instance-management-sit:alias/latest-sit"
    attribute: str  # e.g. "FunctionVersion", "object", "Digest", "record"
    before: str | None
    after: str | None
    kind: str = "update"  # create | update | delete | write
    note: str = ""  # why, with the runbook reference (000 §4.2.4)

    def line(self) -> str:
        """``update lambda:fn:alias/live FunctionVersion 3 -> 2 (000 §4.2)``."""
        arrow = f"{self.before if self.before is not None else '-'} -> {self.after if self.after is not None else '-'}"
        note = f" ({self.note})" if self.note else ""
        return f"{self.kind} {self.resource} {self.attribute} {arrow}{note}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(vars(self))


S = TypeVar("S")


@dataclass
class Plan(Generic[S]):
    """Everything an apply will do, decided while only reading; ``refusal`` set means apply never runs.

    ``spec`` is the action's own frozen dataclass (what the plan read, what it will change); apply reads
    its attributes and never writes into the plan. ``details`` is the older untyped form, being retired.
    """

    action: str  # rollback | rollback-all | promote | state-restore | pitr-restore | ...
    inventory: str
    env: str
    target: str
    planned_at: datetime
    changes: list[Change] = field(default_factory=list)
    refusal: str | None = None
    verified_by: tuple[str, ...] = ()  # checklist slugs that verify the action (data; 000 §7.4)
    expect_versions: dict[str, str] = field(default_factory=dict)  # fn -> version the checks must see
    details: dict[str, Any] = field(default_factory=dict)  # legacy untyped form of ``spec``; being retired
    spec: S | None = None  # the action's frozen dataclass: what it read and what it will change
    notes: list[str] = field(default_factory=list)  # where the harness departs from the runbook, and why

    @property
    def refused(self) -> bool:
        """True when a guard refused the plan."""
        return self.refusal is not None

    def render(self) -> str:
        """The plan as text: a header, one line per change, notes, or the refusal."""
        head = (
            f"plan: {self.action} on {self.inventory}/{self.env} (target {self.target}) at "
            f"{self.planned_at.isoformat(timespec='seconds')}"
        )
        if self.refused:
            return f"{head}\nREFUSED: {self.refusal}"
        lines = [head, *(f"  {c.line()}" for c in self.changes)] or [head]
        if not self.changes:
            lines.append("  (no change)")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for reports and Allure."""
        return {
            "action": self.action,
            "inventory": self.inventory,
            "env": self.env,
            "target": self.target,
            "planned_at": self.planned_at.isoformat(),
            "changes": [c.to_dict() for c in self.changes],
            "refusal": self.refusal,
            "verified_by": list(self.verified_by),
            "expect_versions": dict(self.expect_versions),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Event:
    """One timestamped step of an action (the incident report's timeline, 000 §8)."""

    at: datetime
    what: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"at": self.at.isoformat(), "what": self.what}


@dataclass
class ActionResult:
    """What an action did: the plan, the outcome, the changes made with times, the audit record."""

    plan: Plan[Any]
    outcome: str  # COMPLETE | FAILED | REFUSED | DRY_RUN | SKIPPED
    message: str = ""
    applied: list[tuple[datetime, Change]] = field(default_factory=list)
    timeline: list[Event] = field(default_factory=list)
    record: DeploymentRecord | None = None
    children: list["ActionResult"] = field(default_factory=list)  # per-function results of a batch action
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True for COMPLETE, DRY_RUN and SKIPPED; False for FAILED and REFUSED."""
        return self.outcome in (COMPLETE, DRY_RUN, SKIPPED)

    def log(self, at: datetime, what: str) -> None:
        """Add a timeline entry."""
        self.timeline.append(Event(at, what))

    def changed(self, at: datetime, change: Change) -> None:
        """Record a change as made at ``at``."""
        self.applied.append((at, change))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for reports and Allure."""
        return {
            "plan": self.plan.to_dict(),
            "outcome": self.outcome,
            "message": self.message,
            "applied": [{"at": at.isoformat(), **c.to_dict()} for at, c in self.applied],
            "timeline": [e.to_dict() for e in self.timeline],
            "record": self.record.summary() if self.record else None,
            "children": [c.to_dict() for c in self.children],
            "evidence": self.evidence,
        }


Planner = Callable[[], Plan[Any]]
Applier = Callable[[Plan[Any]], ActionResult]


def execute(plan: Plan[Any] | Planner, apply: Applier, *, dry_run: bool = False) -> ActionResult:
    """Plan (or take a plan), then apply it unless refused or a dry run."""
    made = plan() if callable(plan) else plan
    if made.refused:
        return ActionResult(made, REFUSED, message=made.refusal or "refused")
    if dry_run:
        return ActionResult(made, DRY_RUN, message="dry run: nothing changed")
    return apply(made)


def summary_line(result: ActionResult, extra: Mapping[str, str] | None = None) -> str:
    """One line for the CLI and reports: action, env, outcome and message."""
    bits = " ".join(f"{k}={v}" for k, v in (extra or {}).items())
    return (
        f"{result.plan.action} {result.plan.inventory}/{result.plan.env}: {result.outcome}"
        + (f" {bits}" if bits else "")
        + (f" — {result.message}" if result.message else "")
    )
