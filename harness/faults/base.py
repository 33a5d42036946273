"""What every game-day fault is: an inject/undo pair (chaostoolkit-aws's habit) that carries its evidence.

An injector (``harness.faults.<module>.<fault>``) checks the guards first (:func:`guard`: never a
protected environment, the mutation permission on a target that is not disposable, the capabilities it
needs), then makes its change and returns a :class:`Fault`: what it changed (``before``/``after``), when,
which checklist rows should notice (``detected_by``, data: ``harness/`` never imports ``checks/``), and
its ``undo``. ``Fault.revert()`` runs the undo once (idempotent), so a drill can always call it in a
finalizer, also after a recovery already repaired what the fault broke.

Faults never import Allure or pytest: the drill runner reports them through its listener, which the
plugin turns into the ``pytest_harness_fault_injected`` / ``pytest_harness_fault_reverted`` hooks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence

from harness.actions.guards import Authority, refusal
from harness.clock import Clock
from harness.errors import RefusedError
from harness.targets.base import TargetLike

# The approval rule a fault's refusal is decided under: faults never run on a protected environment, so
# the rule only names what would be needed; a disposable rehearsal or --allow-mutation lets them run.
RULE = "prod-rollback"
Undo = Callable[[], Sequence[str]]


class FaultRefused(RefusedError):
    """A safety rule or a missing capability refused the fault: nothing was changed."""


def guard(target: TargetLike, authority: Authority, *, needs: Iterable[str] = ()) -> None:
    """Raise :class:`FaultRefused` (one line, nothing changed) unless ``target`` may take a game-day fault.

    - never on a protected environment, whatever the approvals (a game day rehearses; 000 §9.3's approvals
      are for real rollbacks, not for breaking PROD on purpose);
    - on a target that is not disposable, only with the mutation permission (``--allow-mutation``);
    - only where the target can rehearse every capability in ``needs``.
    """
    env = target.env
    if env.protected:
        raise FaultRefused(
            f"game-day faults never run on protected environment {env.inventory}/{env.name} (approvals do not change "
            "that)"
        )
    why = refusal(target, authority, rule=RULE)
    if why:
        raise FaultRefused(why)
    for capability in needs:
        if not target.supports(capability):
            raise FaultRefused(
                target.unsupported_reason(capability) or f"{capability} not rehearsable on {target.name}"
            )


def fault_id(name: str, at: datetime) -> str:
    """``bad-lambda-version-20260125T220000-1a2b3c``: unique per injection (records and reports name it)."""
    return f"{name}-{at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


@dataclass
class Fault:
    """One injected fault: what it changed, when, who should notice, and how to take it back."""

    name: str  # bad-lambda-version | weighted-routing | error-spike | ... (the injector's name)
    resource: str  # what it broke: ``lambda:fn:alias/latest-sit``, ``dynamodb:tenants-sit``, ``s3://bucket/key``
    ref: str  # the runbook section whose situation it rehearses (000 §1.2 "Critical functionality is broken")
    before: dict[str, Any]
    after: dict[str, Any]
    injected_at: datetime
    undo: Undo = field(repr=False)
    detected_by: tuple[str, ...] = ()  # checklist slugs that should go red while the fault holds
    simulated: str | None = None  # why this is a simulation, not the real failure (e.g. moto never evaluates alarms)
    notes: list[str] = field(default_factory=list)
    id: str = ""
    children: list["Fault"] = field(default_factory=list)  # a compound fault's parts (reverted last-first)
    reverted_at: datetime | None = None
    undo_log: list[str] = field(default_factory=list)
    undo_error: str | None = None

    def __post_init__(self) -> None:
        if not self.id:
            self.id = fault_id(self.name, self.injected_at)

    @property
    def active(self) -> bool:
        """True until :meth:`revert` ran."""
        return self.reverted_at is None

    def revert(self, at: datetime | None = None) -> list[str]:
        """Run the undo once (later calls do nothing); returns what it did.

        An undo that raises leaves the fault active (a later call tries again) and is recorded, then re-raised.
        """
        if not self.active:
            return []
        try:
            done = list(self.undo())
        except Exception as exc:
            self.undo_error = f"{type(exc).__name__}: {exc}"
            raise
        self.reverted_at = at or self.injected_at
        self.undo_error = None
        self.undo_log += done
        return done

    def line(self) -> str:
        """``bad-lambda-version on lambda:fn:alias/latest-sit (000 §1.2): version 3 -> 4``."""
        change = ", ".join(
            f"{k} {self.before.get(k)} -> {self.after.get(k)}"
            for k in self.after
            if self.before.get(k) != self.after.get(k)
        )
        sim = f" [simulated: {self.simulated}]" if self.simulated else ""
        return f"{self.name} on {self.resource} ({self.ref}){': ' + change if change else ''}{sim}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready evidence: what changed, when, who should notice, what the undo did."""
        return {
            "id": self.id,
            "name": self.name,
            "resource": self.resource,
            "ref": self.ref,
            "before": self.before,
            "after": self.after,
            "injected_at": self.injected_at.isoformat(),
            "detected_by": list(self.detected_by),
            "simulated": self.simulated,
            "notes": list(self.notes),
            "reverted_at": self.reverted_at.isoformat() if self.reverted_at else None,
            "undo_log": list(self.undo_log),
            "undo_error": self.undo_error,
            "children": [c.to_dict() for c in self.children],
        }


def compound(
    name: str,
    resource: str,
    ref: str,
    faults: Sequence[Fault],
    *,
    notes: Iterable[str] = (),
    clock: Clock | None = None,
) -> Fault:
    """Several faults as one (a corrupted state plus its stuck lock); undone last-first, every part tried."""

    def undo() -> list[str]:
        done: list[str] = []
        errors: list[str] = []
        for f in reversed(faults):
            try:
                done += f.revert(clock.now() if clock else None)
            except Exception as exc:  # noqa: BLE001 (undo every part, then report what failed)
                errors.append(f"{f.name} on {f.resource}: {type(exc).__name__}: {exc}")
        if errors:
            raise RuntimeError("; ".join(errors))
        return done

    first = min((f.injected_at for f in faults), default=None)
    if first is None:
        raise ValueError(f"{name}: a compound fault needs at least one fault")
    return Fault(
        name=name,
        resource=resource,
        ref=ref,
        before={f.resource: f.before for f in faults},
        after={f.resource: f.after for f in faults},
        injected_at=first,
        undo=undo,
        detected_by=tuple(dict.fromkeys(s for f in faults for s in f.detected_by)),
        simulated="; ".join(sorted({f.simulated for f in faults if f.simulated})) or None,
        notes=list(notes) + [n for f in faults for n in f.notes],
        children=list(faults),
    )
