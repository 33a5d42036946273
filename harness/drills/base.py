"""What a drill is: the :class:`Drill` protocol, the run it acts in, and a base with the shared parts.

A drill is an object whose phases are methods (000 §8 timeline: steady state, fault, detection, recovery,
verification, then cleanup). What one phase learns for a later one (the snapshot, the restore point, the
versions the aliases served) is kept on the drill instance, so each phase can be called alone in a test:
build the drill, set what the phase reads, call it with :meth:`DrillRun.begin`'s run.

Required phases: ``steady``, ``inject``, ``detect``, ``recover``, ``verify``, ``undo``. Optional ones, run
only when the drill defines them: ``setup`` (the drill's own data, before the steady state, not in the RTO)
and ``settle`` (rows that need a window after the recovery). The runner (:mod:`harness.drills.runner`) owns
the order, the judgement and the clock; a phase only does its job and returns what it saw.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence

from harness.actions.base import Event
from harness.clock import Clock, FixedClock, RehearsalClock
from harness.drills.model import Detection, DrillResult, Recovery, Row
from harness.faults.base import Fault
from harness.targets.base import TargetLike


class Drill(Protocol):
    """One game-day drill: identity, the RTO kind it is held to, and one method per phase."""

    name: str  # stable id: lambda-bad-deployment, all-services-bad-deployment, ...
    title: str
    kind: str  # RTO kind: lambda_code | configuration | infrastructure | full_deployment | database
    ref: str  # runbook sections rehearsed
    target: TargetLike
    must_detect: tuple[tuple[str, str], ...]  # (slug, resource) rows the fault must turn red
    clock: Clock | None  # None: the target's
    digest_of: tuple[TargetLike, ...]  # environments that must be as before once cleaned up
    severity: str
    root_cause: str
    notes: list[str]

    def steady(self, run: DrillRun) -> list[Row]:
        """The rows that must be green before the fault."""

    def inject(self, run: DrillRun) -> Fault:
        """Inject the fault (register it on ``run.fault`` before a risky step: the cleanup then undoes it)."""

    def detect(self, run: DrillRun) -> Detection:
        """The rows that must see the fault."""

    def recover(self, run: DrillRun) -> Recovery:
        """The harness's recovery (or a team's command): what it did and whether it says it worked."""

    def verify(self, run: DrillRun) -> list[Row]:
        """The rows that must be green again after the recovery."""

    def undo(self, run: DrillRun) -> Iterable[str]:
        """Put back what the drill made beyond the fault (yields what it did; the runner then undoes the fault)."""


@dataclass
class DrillRun:
    """What the runner shares with a drill's phases: the result being filled, the clock, the fault, the log."""

    drill: Drill
    result: DrillResult
    clock: Clock
    fault: Fault | None = None
    wall0: float = field(default_factory=time.perf_counter)  # perf_counter when the drill began

    @classmethod
    def begin(cls, drill: Drill, *, run_id: str = "") -> DrillRun:
        """A fresh run of ``drill`` (the runner's start; a test calls it to run one phase alone)."""
        clock = drill.clock or drill.target.clock
        env = drill.target.env
        result = DrillResult(
            drill.name,
            drill.title,
            drill.kind,
            drill.ref,
            env.inventory,
            env.name,
            drill.target.name,
            clock_label(clock),
            severity=drill.severity,
            root_cause=drill.root_cause,
            notes=list(drill.notes),
            run_id=run_id,
        )
        result.rto_target_s, result.rto_ref = rto_target_s(drill.target, drill.kind)
        return cls(drill, result, clock)

    def log(self, what: str, at: datetime | None = None) -> None:
        """A timeline entry (000 §8 "Timeline") at ``at`` (default: now on the drill's clock)."""
        self.result.timeline.append(Event(at or self.clock.now(), what))

    def revert_fault(self) -> list[str]:
        """Undo the fault now (idempotent): an undo step calls it where its order needs it."""
        if self.fault is None or not self.fault.active:
            return []
        done = self.fault.revert(self.clock.now())
        self.log(f"fault {self.fault.name} undone: {'; '.join(done) or 'nothing to undo'}")
        return done


class UndoFailed(Exception):
    """One or more undo steps failed (every step still ran); ``errors`` names each."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = list(errors)


UndoStep = Callable[[DrillRun], Sequence[str]]


class BaseDrill:
    """Defaults shared by the drills: no extra environment to compare, no undo step of its own."""

    name: str
    title: str
    kind: str
    ref: str
    target: TargetLike
    must_detect: tuple[tuple[str, str], ...] = ()
    clock: Clock | None = None
    digest_of: tuple[TargetLike, ...] = ()
    severity: str = ""
    root_cause: str = ""
    notes: list[str]

    def undo_steps(self) -> list[UndoStep]:
        """The drill's own undo steps, in order (each runs even when an earlier one failed)."""
        return []

    def undo(self, run: DrillRun) -> Iterator[str]:
        """Every undo step, in order; raises :class:`UndoFailed` at the end when any failed."""
        errors: list[str] = []
        for step in self.undo_steps():
            try:
                yield from step(run) or ()
            except Exception as exc:  # noqa: BLE001 (the next step still runs; the failure is reported)
                errors.append(f"{getattr(step, '__name__', 'step')}: {type(exc).__name__}: {exc}")
        if errors:
            raise UndoFailed(errors)


def clock_label(clock: Clock) -> str:
    """What RTO is measured on: the rehearsal clock (moves with monitors and waits), a fixed test clock, or wall
    time."""
    if isinstance(clock, RehearsalClock):
        return "rehearsal clock"
    if isinstance(clock, FixedClock):
        return "fixed clock"
    return "wall clock"


def rto_target_s(target: TargetLike, kind: str) -> tuple[float | None, str]:
    """The inventory's objective for ``kind`` in seconds, and its reference (None: the inventory gives none)."""
    rto = getattr(target.env, "rto", None)
    if rto is None:
        return None, ""
    minutes = rto.minutes(kind)
    return (minutes * 60.0 if minutes is not None else None), rto.ref


def optional_phase(drill: Drill, name: str) -> Callable[[DrillRun], Any] | None:
    """The drill's ``setup`` or ``settle`` method, or None when it has none."""
    phase = getattr(drill, name, None)
    return phase if callable(phase) else None
