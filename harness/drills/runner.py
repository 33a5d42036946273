"""The drill runner: steady state -> fault -> detection -> recovery -> verification -> settle -> cleanup, with RTO.

A drill is a :class:`DrillSpec`: a callable per phase, built by the drill modules (``lambda_drills``,
``pitr_drill``, ``state_drill``, ``promotion_drill``). The runner owns the judgement and the clock:

- **steady state**: every row must pass (WARN and SKIP pass); a red steady state stops the drill before any
  fault — it could not tell its fault from what is already broken;
- **fault**: the injector's :class:`~harness.faults.base.Fault` (its ``injected_at`` starts the RTO);
- **detection**: every ``(slug, resource)`` in ``must_detect`` must be observed red; an undetected fault
  fails the drill and nothing is recovered (nobody recovers what nobody saw);
- **recovery**: the harness's action or an external command (swappable: that is how tests prove a drill
  can fail, and how ``--recovery-cmd`` rehearses a team's own script);
- **verification**: every row must pass; its end is "recovery verified", the end of the RTO;
- **settle** (optional): rows that need time after the recovery (000 §7.4's windowed rows) must pass;
- **cleanup**: always, also after a failure or an exception: the drill's steps, then the fault's undo;
  the environment digest (``harness/drills/digest.py``) after cleanup must equal the one before.

RTO = recovery verified - fault injected, on the drill's clock (on the embedded target the rehearsal
clock, which monitors and PITR waits move without waiting: reported with the wall-clock span beside it),
asserted against the inventory's ``[rto]`` minutes for the drill's kind (002 RTO table).

The runner never imports pytest, Allure or ``checks/``: rows come from the spec's probe, and progress is
reported to a :class:`Listener` (the plugin opens an Allure step per phase and fires the fault hooks).
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from harness.actions.base import Event
from harness.clock import Clock, FixedClock, RehearsalClock
from harness.drills.model import (
    CLEANUP,
    DETECTION,
    FAIL,
    FAULT,
    PASS,
    RECOVERY,
    SETTLE,
    SKIPPED,
    STEADY,
    VERIFICATION,
    Detection,
    DrillResult,
    DrillSkipped,
    PhaseRecord,
    Recovery,
    Row,
    fmt_s,
    is_bad,
    row_line,
)
from harness.faults.base import Fault, FaultRefused
from harness.targets.base import TargetLike

SETUP = "setup"
Digest = Callable[[TargetLike], Mapping[str, Any]]


@dataclass
class DrillRun:
    """What the phases of one drill share: the spec, the result being filled, the fault, scratch data."""

    spec: "DrillSpec"
    result: DrillResult
    clock: Clock
    fault: Fault | None = None
    data: dict[str, Any] = field(default_factory=dict)
    wall0: float = 0.0  # perf_counter when the drill began

    def log(self, what: str, at: datetime | None = None) -> None:
        """A timeline entry (000 §8 "Timeline") at ``at`` (default: now on the drill's clock)."""
        self.result.timeline.append(Event(at or self.clock.now(), what))

    def revert_fault(self) -> list[str]:
        """Undo the fault now (idempotent): cleanup steps call it where their order needs it."""
        if self.fault is None or not self.fault.active:
            return []
        done = self.fault.revert(self.clock.now())
        self.log(f"fault {self.fault.name} undone: {'; '.join(done) or 'nothing to undo'}")
        return done


Phase = Callable[[DrillRun], Any]


@dataclass
class DrillSpec:
    """One drill: its identity, the RTO kind it is held to, and a callable per phase."""

    name: str  # stable id: lambda-bad-deployment, all-services-bad-deployment, ...
    title: str
    kind: str  # RTO kind: lambda_code | configuration | infrastructure | full_deployment | database
    ref: str  # runbook sections rehearsed
    target: TargetLike
    steady: Callable[[DrillRun], list[Row]]
    inject: Callable[[DrillRun], Fault]
    detect: Callable[[DrillRun], Detection]
    must_detect: tuple[tuple[str, str], ...]  # (slug, resource) rows the fault must turn red
    recover: Callable[[DrillRun], Recovery]
    verify: Callable[[DrillRun], list[Row]]
    setup: Callable[[DrillRun], None] | None = None  # the drill's own data, before the steady state (not in the RTO)
    settle: Callable[[DrillRun], list[Row]] | None = None
    cleanup: list[Callable[[DrillRun], Sequence[str]]] = field(default_factory=list)
    clock: Clock | None = None  # default: the target's
    digest_of: tuple[TargetLike, ...] = ()  # environments that must be as before once cleaned up
    severity: str = ""
    root_cause: str = ""
    notes: list[str] = field(default_factory=list)


class Listener:
    """Progress callbacks (no-ops): the plugin maps them to Allure steps and the pytest fault hooks."""

    def phase(self, name: str, title: str) -> AbstractContextManager[Any]:
        """A context around one phase (an Allure step in the plugin)."""
        return nullcontext()

    def fault_injected(self, fault: Fault) -> None:
        """A fault was injected."""

    def fault_reverted(self, fault: Fault) -> None:
        """A fault was undone."""


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


class _Phase:
    """Times one phase on both clocks and records it."""

    def __init__(self, run: DrillRun, name: str, listener: Listener, title: str) -> None:
        self.run, self.name, self.listener, self.title = run, name, listener, title

    def __enter__(self) -> "_Phase":
        self.ctx = self.listener.phase(self.name, self.title)
        self.ctx.__enter__()
        self.started, self.wall = self.run.clock.now(), time.perf_counter()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        record = PhaseRecord(
            self.name,
            self.started,
            self.run.clock.now(),
            time.perf_counter() - self.wall,
            ok=exc is None,
            detail="" if exc is None else f"{type(exc).__name__}: {exc}",
            wall_offset_s=self.wall - self.run.wall0,
        )
        self.run.result.phases.append(record)
        self.ctx.__exit__(exc_type, exc, tb)
        return False


def _judge_rows(run: DrillRun, phase: str, rows: list[Row]) -> list[Row]:
    run.result.rows[phase] = rows
    return [r for r in rows if is_bad(r)]


def _missed(rows: list[Row], must: Sequence[tuple[str, str]]) -> list[str]:
    """Why each must-detect row was not seen red: not observed at all, or observed green."""
    out = []
    for slug, resource in must:
        seen = [r for r in rows if r.get("slug") == slug and r.get("resource") == resource]
        if not seen:
            out.append(f"{slug} on {resource} was not observed")
        elif not any(is_bad(r) for r in seen):
            out.append(
                f"{slug} on {resource} stayed green ({str(seen[0].get('verdict')).upper()}: "
                f"{str(seen[0].get('observed'))[:160]})"
            )
    return out


def run_drill(
    spec: DrillSpec, *, listener: Listener | None = None, digest: Digest | None = None, run_id: str = ""
) -> DrillResult:
    """Run every phase of ``spec``; always clean up; return the result (never raises for a failing drill)."""
    listener = listener or Listener()
    clock = spec.clock or spec.target.clock
    env = spec.target.env
    result = DrillResult(
        spec.name,
        spec.title,
        spec.kind,
        spec.ref,
        env.inventory,
        env.name,
        spec.target.name,
        clock_label(clock),
        severity=spec.severity,
        root_cause=spec.root_cause,
        notes=list(spec.notes),
        run_id=run_id,
    )
    result.rto_target_s, result.rto_ref = rto_target_s(spec.target, spec.kind)
    run = DrillRun(spec, result, clock)
    wall0 = run.wall0 = time.perf_counter()
    result.started = clock.now()
    before = {id(t): dict(digest(t)) for t in spec.digest_of} if digest else {}
    current = SETUP
    try:
        if spec.setup is not None:
            with _Phase(run, SETUP, listener, f"{SETUP}: the drill's own data"):
                spec.setup(run)
        current = STEADY
        with _Phase(run, STEADY, listener, f"{STEADY}: the checklist is green before the fault"):
            red = _judge_rows(run, STEADY, spec.steady(run))
        if red:
            result.fail(
                "steady state not green before the fault (the drill could not tell its fault from what is broken "
                "already): " + "; ".join(row_line(r) for r in red)
            )
            return result
        run.log(f"steady state: {len(result.rows[STEADY])} row(s) green")
        current = FAULT
        with _Phase(run, FAULT, listener, f"{FAULT}: inject"):
            # An injector may register its fault on ``run.fault`` before a risky step: if it then raises, the
            # cleanup still undoes what it made.
            run.fault = spec.inject(run)
        listener.fault_injected(run.fault)
        result.fault = run.fault.to_dict()
        result.injected_at = run.fault.injected_at
        run.log(f"fault injected: {run.fault.line()}", run.fault.injected_at)
        current = DETECTION
        with _Phase(run, DETECTION, listener, f"{DETECTION}: the rows that must go red"):
            detection = spec.detect(run)
        _judge_rows(run, DETECTION, detection.rows)
        result.detected_at = detection.at or result.phases[-1].ended
        missed = _missed(detection.rows, spec.must_detect)
        if missed:
            result.fail("fault not detected: " + "; ".join(missed))
            run.log("detection: the fault was NOT detected: " + "; ".join(missed), result.detected_at)
            return result
        seen = [r for r in detection.rows if is_bad(r)]
        run.log("issue detected: " + "; ".join(row_line(r) for r in seen), result.detected_at)
        current = RECOVERY
        with _Phase(run, RECOVERY, listener, f"{RECOVERY}: recover"):
            recovery = spec.recover(run)
        result.recovery = recovery
        result.recovery_started = recovery.started or result.phases[-1].started
        result.recovered_at = recovery.ended or result.phases[-1].ended
        run.log(f"recovery initiated: {recovery.method}", result.recovery_started)
        result.timeline += recovery.events
        run.log(
            f"recovery completed: {recovery.message or ('ok' if recovery.ok else 'reported failure')}",
            result.recovered_at,
        )
        current = VERIFICATION
        with _Phase(run, VERIFICATION, listener, f"{VERIFICATION}: the checklist is green again"):
            red = _judge_rows(run, VERIFICATION, spec.verify(run))
        if not recovery.ok:
            result.fail(f"recovery reported failure ({recovery.method}): {recovery.message}")
        if red:
            must = {(s, r) for s, r in spec.must_detect}
            result.fail(
                "not recovered: "
                + "; ".join(
                    ("stayed red: " if (r.get("slug"), r.get("resource")) in must else "red: ") + row_line(r)
                    for r in red
                )
            )
            run.log("verification FAILED: " + "; ".join(row_line(r) for r in red))
            return result
        result.verified_at = result.phases[-1].ended
        run.log(f"verification completed: {len(result.rows[VERIFICATION])} row(s) green", result.verified_at)
        _rto(result)
        if spec.settle is not None:
            current = SETTLE
            with _Phase(run, SETTLE, listener, f"{SETTLE}: rows that need a window after the recovery"):
                red = _judge_rows(run, SETTLE, spec.settle(run))
            if red:
                result.fail("not settled after the recovery: " + "; ".join(row_line(r) for r in red))
            else:
                run.log(f"settled: {len(result.rows[SETTLE])} windowed row(s) green")
    except (DrillSkipped, FaultRefused) as exc:
        result.outcome, result.failures = SKIPPED, [f"{current}: {exc}"]
    except Exception as exc:  # noqa: BLE001 (a harness error fails the drill, with the phase it happened in)
        result.fail(f"harness error during {current}: {type(exc).__name__}: {exc}")
    finally:
        _cleanup(run, listener)
        if digest and result.outcome != SKIPPED:
            _compare(run, digest, before)
        result.ended = clock.now()
        result.wall_s = time.perf_counter() - wall0
    return result


def _rto(result: DrillResult) -> None:
    """RTO on the drill's clock and on the wall, checked against the inventory's objective."""
    assert result.injected_at is not None and result.verified_at is not None
    result.rto_s = (result.verified_at - result.injected_at).total_seconds()
    result.rto_wall_s = max(_wall_at(result, result.verified_at) - _wall_at(result, result.injected_at), 0.0)
    if result.rto_target_s is not None and result.rto_s > result.rto_target_s:
        result.fail(
            f"RTO {fmt_s(result.rto_s)} ({result.clock}) exceeds the {result.kind} objective of "
            f"{fmt_s(result.rto_target_s)} "
            f"({result.rto_ref})"
        )


def _wall_at(result: DrillResult, at: datetime) -> float:
    """Wall seconds since the drill began at drill-clock time ``at`` (the phase that contains it decides)."""
    inside = [p for p in result.phases if p.started <= at <= p.ended]
    if inside:
        return inside[-1].wall_at(at)
    before = [p for p in result.phases if p.ended <= at]
    return (before[-1].wall_offset_s + before[-1].wall_s) if before else 0.0


def _cleanup(run: DrillRun, listener: Listener) -> None:
    """The spec's cleanup steps, then the fault's undo; every step runs even when one fails."""
    result = run.result
    with _Phase(run, CLEANUP, listener, f"{CLEANUP}: undo the fault, leave the environment as found"):
        errors: list[str] = []
        for step in run.spec.cleanup:
            try:
                for line in step(run) or ():
                    run.log(f"cleanup: {line}")
            except Exception as exc:  # noqa: BLE001 (the next step still runs)
                errors.append(f"{getattr(step, '__name__', 'step')}: {type(exc).__name__}: {exc}")
        if run.fault is not None:
            try:
                if run.fault.active:
                    run.revert_fault()
                listener.fault_reverted(run.fault)
            except Exception as exc:  # noqa: BLE001 (the next step still runs)
                errors.append(f"undo of {run.fault.name}: {type(exc).__name__}: {exc}")
            result.fault = run.fault.to_dict()
        if errors:
            result.fail("cleanup failed (the environment may not be as it was): " + "; ".join(errors))


def _compare(run: DrillRun, digest: Digest, before: Mapping[int, Mapping[str, Any]]) -> None:
    from harness.drills.digest import differences

    diffs: list[str] = []
    for target in run.spec.digest_of:
        found = differences(before[id(target)], digest(target))
        diffs += [f"{target.env.name}: {d}" for d in found]
    run.result.restored = not diffs
    run.result.differences = diffs
    if diffs:
        run.result.fail(
            "the environment is not as the drill found it: "
            + "; ".join(diffs[:10])
            + (" ..." if len(diffs) > 10 else "")
        )


__all__ = ["DrillRun", "DrillSpec", "Listener", "PASS", "FAIL", "SKIPPED", "clock_label", "rto_target_s", "run_drill"]
