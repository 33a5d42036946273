"""What a game-day drill is made of, and what it leaves: phases, rows, recovery, result (plain data).

Rows are plain mappings in the shape of ``CheckResult.to_dict()`` (slug, resource, expected, observed,
verdict, ref, evidence): ``harness/`` never imports ``checks/``, so checklist rows come from a *probe* the
plugin (or a test) supplies, and the drills' own rows (``data-integrity``, ``auto-rollback-trigger``,
``audit-record``) are built here with :func:`row`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Protocol, Sequence

from harness.actions.base import ActionResult, Event
from harness.outcome import Outcome
from harness.targets.base import TargetLike

Row = dict[str, Any]
BAD = ("fail", "error")  # verdicts that fail a row (WARN and SKIP do not: checks/result.py)
PASS, FAIL, SKIPPED = Outcome.PASS, Outcome.FAIL, Outcome.SKIPPED

# Phase names, in the order a drill runs them (000 §8 timeline: issue detected, rollback initiated,
# rollback completed, verification completed).
STEADY, FAULT, DETECTION, RECOVERY, VERIFICATION, SETTLE, CLEANUP = (
    "steady state",
    "fault",
    "detection",
    "recovery",
    "verification",
    "settle",
    "cleanup",
)


@dataclass(frozen=True)
class Check:
    """Checklist rows a phase asks the probe for: slugs on resources, optionally on another target."""

    slugs: tuple[str, ...]
    resources: tuple[str, ...]
    expect_versions: Mapping[str, str] = field(default_factory=dict)  # fn -> version the alias-version row must see
    target: TargetLike | None = None  # e.g. a promotion's destination; None: the drill's target

    def narrowed(self, slugs: Sequence[str]) -> "Check":
        """The same rows restricted to ``slugs``."""
        return Check(tuple(s for s in self.slugs if s in slugs), self.resources, self.expect_versions, self.target)


class Probe(Protocol):
    """Runs checklist rows now, on a fresh context, and returns them as row mappings (the plugin supplies it)."""

    def __call__(self, check: Check, phase: str) -> list[Row]:
        """Rows for ``check`` during ``phase`` (``phase`` decides whether they count in the run's report)."""


def row(slug: str, resource: str, expected: str, observed: str, ok: bool | str, ref: str, **evidence: Any) -> Row:
    """A drill's own row in the checklist rows' shape (``ok`` True/False, or a verdict such as ``"warn"``)."""
    verdict = ok if isinstance(ok, str) else ("pass" if ok else "fail")
    return {
        "slug": slug,
        "resource": resource,
        "expected": expected,
        "observed": observed,
        "verdict": verdict,
        "ref": ref,
        "evidence": evidence,
    }


def is_bad(r: Mapping[str, Any]) -> bool:
    """True when the row fails (FAIL or ERROR)."""
    return str(r.get("verdict")).lower() in BAD


def row_line(r: Mapping[str, Any]) -> str:
    """``health-endpoint on fn: FAIL — statusCode 500 (...)``."""
    return f"{r.get('slug')} on {r.get('resource')}: {str(r.get('verdict')).upper()} — {str(r.get('observed'))[:200]}"


@dataclass
class Detection:
    """What the detection phase observed; ``at`` when the detector saw it (default: when the phase ended)."""

    rows: list[Row]
    at: datetime | None = None


@dataclass
class CommandRun:
    """An external recovery command: what ran, where it pointed, how it ended, what it printed."""

    command: list[str]
    environment: dict[str, str]  # the variables the harness set (never credentials of a real account)
    exit_code: int | None
    seconds: float
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """True when the command exited 0 in time."""
        return self.exit_code == 0 and not self.timed_out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (output tails only)."""
        return {
            "command": self.command,
            "environment": self.environment,
            "exit_code": self.exit_code,
            "seconds": round(self.seconds, 3),
            "timed_out": self.timed_out,
            "stdout": self.stdout[-4000:],
            "stderr": self.stderr[-4000:],
        }


@dataclass
class Recovery:
    """What the recovery phase did: the harness's actions or an external command, and whether it says it worked."""

    method: str  # "harness rollback (000 §4.2)", "command: bash ops/rollback.sh sit", "automatic rollback (001 §6.3.1)"
    ok: bool
    message: str = ""
    actions: list[ActionResult] = field(default_factory=list)
    command: CommandRun | None = None
    started: datetime | None = None  # when the recovery began, if not when the phase began (an automatic rollback)
    ended: datetime | None = None
    events: list[Event] = field(default_factory=list)
    expect_versions: dict[str, str] = field(default_factory=dict)  # where the recovery says aliases now stand

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "method": self.method,
            "ok": self.ok,
            "message": self.message,
            "actions": [
                {
                    "action": a.plan.action,
                    "outcome": a.outcome,
                    "message": a.message,
                    "record": a.record.record_id if a.record else None,
                }
                for a in self.actions
            ],
            "command": self.command.to_dict() if self.command else None,
            "expect_versions": dict(self.expect_versions),
        }


@dataclass
class PhaseRecord:
    """One phase: when it ran on the drill's clock and on the wall, whether it passed, what it says."""

    name: str
    started: datetime
    ended: datetime
    wall_s: float
    ok: bool = True
    detail: str = ""
    wall_offset_s: float = 0.0  # when the phase began, in wall seconds since the drill began

    @property
    def seconds(self) -> float:
        """Duration on the drill's clock (the rehearsal clock on the embedded target)."""
        return max((self.ended - self.started).total_seconds(), 0.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "started": self.started.isoformat(),
            "ended": self.ended.isoformat(),
            "seconds": round(self.seconds, 3),
            "wall_s": round(self.wall_s, 3),
            "ok": self.ok,
            "detail": self.detail,
            "wall_offset_s": round(self.wall_offset_s, 3),
        }

    def wall_at(self, at: datetime) -> float:
        """Wall seconds since the drill began at drill-clock time ``at`` inside this phase (clamped to it).

        Exact while the drill's clock flows with the wall; a rehearsal sleep inside the phase is counted
        at its wall cost (none).
        """
        return self.wall_offset_s + min(max((at - self.started).total_seconds(), 0.0), self.wall_s)


class DrillSkipped(Exception):
    """The drill cannot run here (no such resource in the inventory, a capability missing, refused): skip with the
    reason."""


@dataclass
class DrillResult:
    """Everything a drill did and saw: the verdict, RTO on both clocks, phases, rows, fault and recovery evidence."""

    name: str
    title: str
    kind: str  # the RTO kind (harness/inventory/schema.py RTO_KINDS)
    ref: str
    inventory: str
    env: str
    target: str
    clock: str  # "rehearsal clock" | "wall clock" | "fixed clock": what RTO is measured on
    outcome: str = PASS  # PASS | FAIL | SKIPPED
    failures: list[str] = field(default_factory=list)
    phases: list[PhaseRecord] = field(default_factory=list)
    rows: dict[str, list[Row]] = field(default_factory=dict)  # phase -> rows
    fault: dict[str, Any] | None = None
    recovery: Recovery | None = None
    timeline: list[Event] = field(default_factory=list)
    injected_at: datetime | None = None
    detected_at: datetime | None = None
    recovery_started: datetime | None = None
    recovered_at: datetime | None = None
    verified_at: datetime | None = None
    rto_s: float | None = None  # fault injected -> recovery verified, on the drill's clock
    rto_wall_s: float | None = None  # the same span on the wall clock
    rto_target_s: float | None = None
    rto_ref: str = ""
    wall_s: float = 0.0  # the whole drill, setup and cleanup included
    severity: str = ""
    root_cause: str = ""
    notes: list[str] = field(default_factory=list)
    restored: bool | None = None  # the environment digest after cleanup equals the one before (None: not compared)
    differences: list[str] = field(default_factory=list)
    started: datetime | None = None
    ended: datetime | None = None
    run_id: str = ""

    @property
    def ok(self) -> bool:
        """True when the drill passed (a skipped drill is not a pass)."""
        return self.outcome == PASS

    def fail(self, message: str) -> None:
        """Record a failure (the drill's verdict becomes FAIL)."""
        self.outcome = FAIL
        self.failures.append(message)

    def phase(self, name: str) -> PhaseRecord | None:
        """The record of phase ``name``."""
        return next((p for p in self.phases if p.name == name), None)

    def message(self) -> str:
        """One paragraph: verdict and every failure."""
        if self.outcome == PASS:
            return f"{self.title}: PASS, RTO {fmt_s(self.rto_s)} ({self.clock}), {fmt_s(self.rto_wall_s)} wall"
        return f"{self.title}: {self.outcome}: " + "; ".join(self.failures)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the per-drill file the game-day summary is built from)."""
        return {
            "name": self.name,
            "title": self.title,
            "kind": self.kind,
            "ref": self.ref,
            "inventory": self.inventory,
            "env": self.env,
            "target": self.target,
            "clock": self.clock,
            "outcome": self.outcome,
            "failures": list(self.failures),
            "phases": [p.to_dict() for p in self.phases],
            "rows": self.rows,
            "fault": self.fault,
            "recovery": self.recovery.to_dict() if self.recovery else None,
            "timeline": [e.to_dict() for e in sorted(self.timeline, key=lambda e: e.at)],
            "injected_at": iso(self.injected_at),
            "detected_at": iso(self.detected_at),
            "recovery_started": iso(self.recovery_started),
            "recovered_at": iso(self.recovered_at),
            "verified_at": iso(self.verified_at),
            "rto_s": self.rto_s,
            "rto_wall_s": self.rto_wall_s,
            "rto_target_s": self.rto_target_s,
            "rto_ref": self.rto_ref,
            "wall_s": round(self.wall_s, 3),
            "severity": self.severity,
            "root_cause": self.root_cause,
            "notes": list(self.notes),
            "restored": self.restored,
            "differences": list(self.differences),
            "started": iso(self.started),
            "ended": iso(self.ended),
            "run_id": self.run_id,
        }


def iso(at: datetime | None) -> str | None:
    """``at`` in ISO 8601, or None."""
    return at.isoformat() if at else None


def fmt_s(seconds: float | None) -> str:
    """``4.2 s``, ``5 min 3 s``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest} s"
