"""The drill runner: steady state -> fault -> detection -> recovery -> verification -> settle -> cleanup, with RTO.

A drill is a :class:`~harness.drills.base.Drill`: an object with a method per phase, made by the drill modules
(``lambda_drills``, ``pitr_drill``, ``state_drill``, ``promotion_drill``). The runner owns the judgement and the
clock:

- **steady state**: every row must pass (WARN and SKIP pass); a red steady state stops the drill before any
  fault — it could not tell its fault from what is already broken;
- **fault**: the injector's :class:`~harness.faults.base.Fault` (its ``injected_at`` starts the RTO);
- **detection**: every ``(slug, resource)`` in ``must_detect`` must be observed red; an undetected fault
  fails the drill and nothing is recovered (nobody recovers what nobody saw);
- **recovery**: the harness's action or an external command (swappable: that is how tests prove a drill
  can fail, and how ``--recovery-cmd`` rehearses a team's own script);
- **verification**: every row must pass; its end is "recovery verified", the end of the RTO;
- **settle** (optional): rows that need time after the recovery (000 §7.4's windowed rows) must pass;
- **cleanup**: always, also after a failure or an exception: the drill's undo, then the fault's undo;
  the environment digest (``harness/drills/digest.py``) after cleanup must equal the one before.

RTO = recovery verified - fault injected, on the drill's clock (on the embedded target the rehearsal
clock, which monitors and PITR waits move without waiting: reported with the wall-clock span beside it),
asserted against the inventory's ``[rto]`` minutes for the drill's kind (002 RTO table).

The runner never imports pytest, Allure or ``checks/``: rows come from the drill's probe, and progress is
reported to a :class:`Listener` (the plugin opens an Allure step per phase and fires the fault hooks).
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any, Callable, Literal, Mapping, Sequence

from harness.drills.base import Drill, DrillRun, UndoFailed, clock_label, optional_phase, rto_target_s
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
    DrillResult,
    DrillSkipped,
    PhaseRecord,
    Row,
    fmt_s,
    is_bad,
    row_line,
)
from harness.faults.base import Fault, FaultRefused
from harness.targets.base import TargetLike

SETUP = "setup"
Digest = Callable[[TargetLike], Mapping[str, Any]]


class Listener:
    """Progress callbacks (no-ops): the plugin maps them to Allure steps and the pytest fault hooks."""

    def phase(self, name: str, title: str) -> AbstractContextManager[Any]:
        """A context around one phase (an Allure step in the plugin)."""
        return nullcontext()

    def fault_injected(self, fault: Fault) -> None:
        """A fault was injected."""

    def fault_reverted(self, fault: Fault) -> None:
        """A fault was undone."""


class _Phase:
    """Times one phase on both clocks and records it."""

    def __init__(self, run: DrillRun, name: str, listener: Listener, title: str) -> None:
        self.run, self.name, self.listener, self.title = run, name, listener, title

    def __enter__(self) -> "_Phase":
        self.ctx = self.listener.phase(self.name, self.title)
        self.ctx.__enter__()
        self.started, self.wall = self.run.clock.now(), time.perf_counter()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Literal[False]:
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


class _Phases:
    """The phases of one run, in order; each returns False when the drill stops there (its verdict recorded)."""

    def __init__(self, run: DrillRun, listener: Listener) -> None:
        self.run, self.listener, self.drill, self.result = run, listener, run.drill, run.result
        self.current = SETUP

    def phase(self, name: str, title: str) -> _Phase:
        """Enter phase ``name`` (the phase a harness error is blamed on)."""
        self.current = name
        return _Phase(self.run, name, self.listener, title)

    def steady(self) -> bool:
        """The drill's setup (if any), then the steady state: every row green."""
        setup = optional_phase(self.drill, "setup")
        if setup is not None:
            with self.phase(SETUP, f"{SETUP}: the drill's own data"):
                setup(self.run)
        with self.phase(STEADY, f"{STEADY}: the checklist is green before the fault"):
            red = _judge_rows(self.run, STEADY, self.drill.steady(self.run))
        if red:
            self.result.fail(
                "steady state not green before the fault (the drill could not tell its fault from what is broken "
                "already): " + "; ".join(row_line(r) for r in red)
            )
            return False
        self.run.log(f"steady state: {len(self.result.rows[STEADY])} row(s) green")
        return True

    def inject(self) -> bool:
        """The fault; its ``injected_at`` starts the RTO."""
        with self.phase(FAULT, f"{FAULT}: inject"):
            # An injector may register its fault on ``run.fault`` before a risky step: if it then raises, the
            # cleanup still undoes what it made.
            fault = self.run.fault = self.drill.inject(self.run)
        self.listener.fault_injected(fault)
        self.result.fault = fault.to_dict()
        self.result.injected_at = fault.injected_at
        self.run.log(f"fault injected: {fault.line()}", fault.injected_at)
        return True

    def detect(self) -> bool:
        """Every must-detect row red, or the drill fails unrecovered."""
        with self.phase(DETECTION, f"{DETECTION}: the rows that must go red"):
            detection = self.drill.detect(self.run)
        _judge_rows(self.run, DETECTION, detection.rows)
        result = self.result
        result.detected_at = detection.at or result.phases[-1].ended
        missed = _missed(detection.rows, self.drill.must_detect)
        if missed:
            result.fail("fault not detected: " + "; ".join(missed))
            self.run.log("detection: the fault was NOT detected: " + "; ".join(missed), result.detected_at)
            return False
        seen = [r for r in detection.rows if is_bad(r)]
        self.run.log("issue detected: " + "; ".join(row_line(r) for r in seen), result.detected_at)
        return True

    def recover(self) -> bool:
        """The recovery; its start and end on the timeline."""
        with self.phase(RECOVERY, f"{RECOVERY}: recover"):
            recovery = self.drill.recover(self.run)
        result = self.result
        result.recovery = recovery
        result.recovery_started = recovery.started or result.phases[-1].started
        result.recovered_at = recovery.ended or result.phases[-1].ended
        self.run.log(f"recovery initiated: {recovery.method}", result.recovery_started)
        result.timeline += recovery.events
        self.run.log(
            f"recovery completed: {recovery.message or ('ok' if recovery.ok else 'reported failure')}",
            result.recovered_at,
        )
        return True

    def verify(self) -> bool:
        """Every row green again: the end of the RTO."""
        with self.phase(VERIFICATION, f"{VERIFICATION}: the checklist is green again"):
            red = _judge_rows(self.run, VERIFICATION, self.drill.verify(self.run))
        result = self.result
        recovery = result.recovery
        if recovery is not None and not recovery.ok:
            result.fail(f"recovery reported failure ({recovery.method}): {recovery.message}")
        if red:
            must = set(self.drill.must_detect)
            result.fail(
                "not recovered: "
                + "; ".join(
                    ("stayed red: " if (r.get("slug"), r.get("resource")) in must else "red: ") + row_line(r)
                    for r in red
                )
            )
            self.run.log("verification FAILED: " + "; ".join(row_line(r) for r in red))
            return False
        result.verified_at = result.phases[-1].ended
        self.run.log(f"verification completed: {len(result.rows[VERIFICATION])} row(s) green", result.verified_at)
        _rto(result)
        return True

    def settle(self) -> bool:
        """The windowed rows, when the drill has a settle phase."""
        settle = optional_phase(self.drill, "settle")
        if settle is None:
            return True
        with self.phase(SETTLE, f"{SETTLE}: rows that need a window after the recovery"):
            red = _judge_rows(self.run, SETTLE, settle(self.run))
        if red:
            self.result.fail("not settled after the recovery: " + "; ".join(row_line(r) for r in red))
        else:
            self.run.log(f"settled: {len(self.result.rows[SETTLE])} windowed row(s) green")
        return True


def run_drill(
    drill: Drill, *, listener: Listener | None = None, digest: Digest | None = None, run_id: str = ""
) -> DrillResult:
    """Run every phase of ``drill``; always clean up; return the result (never raises for a failing drill)."""
    listener = listener or Listener()
    run = DrillRun.begin(drill, run_id=run_id)
    result = run.result
    result.started = run.clock.now()
    before = {id(t): dict(digest(t)) for t in drill.digest_of} if digest else {}
    phases = _Phases(run, listener)
    try:
        for step in (phases.steady, phases.inject, phases.detect, phases.recover, phases.verify, phases.settle):
            if not step():
                break
    except (DrillSkipped, FaultRefused) as exc:
        result.outcome, result.failures = SKIPPED, [f"{phases.current}: {exc}"]
    except Exception as exc:  # noqa: BLE001 (a harness error fails the drill, with the phase it happened in)
        result.fail(f"harness error during {phases.current}: {type(exc).__name__}: {exc}")
    finally:
        _cleanup(run, listener)
        if digest and result.outcome != SKIPPED:
            _compare(run, digest, before)
        result.ended = run.clock.now()
        result.wall_s = time.perf_counter() - run.wall0
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
    """The drill's undo, then the fault's; every step runs even when one fails."""
    result = run.result
    with _Phase(run, CLEANUP, listener, f"{CLEANUP}: undo the fault, leave the environment as found"):
        errors: list[str] = []
        try:
            for line in run.drill.undo(run):
                run.log(f"cleanup: {line}")
        except UndoFailed as exc:
            errors += exc.errors
        except Exception as exc:  # noqa: BLE001 (the fault's undo still runs)
            errors.append(f"undo: {type(exc).__name__}: {exc}")
        if run.fault is not None:
            try:
                if run.fault.active:
                    run.revert_fault()
                listener.fault_reverted(run.fault)
            except Exception as exc:  # noqa: BLE001 (the failure is reported with the others)
                errors.append(f"undo of {run.fault.name}: {type(exc).__name__}: {exc}")
            result.fault = run.fault.to_dict()
        if errors:
            result.fail("cleanup failed (the environment may not be as it was): " + "; ".join(errors))


def _compare(run: DrillRun, digest: Digest, before: Mapping[int, Mapping[str, Any]]) -> None:
    from harness.drills.digest import differences

    diffs: list[str] = []
    for target in run.drill.digest_of:
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


__all__ = ["DrillRun", "Listener", "PASS", "FAIL", "SKIPPED", "clock_label", "rto_target_s", "run_drill"]
