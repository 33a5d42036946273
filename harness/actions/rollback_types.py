"""Lambda alias rollback: the plan's types (000 §4.2, §4.4; 001 §6.2.1): the target rule, one move, the spec.

Re-exported by harness/actions/rollback.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from harness.actions.base import Plan


@dataclass(frozen=True)
class RollbackTo:
    """How the target version is chosen (the CLI's ``--to-*`` options)."""

    kind: str  # previous | version | label | backup | deployed-previous | versions
    value: str | None = None
    versions: Mapping[str, str] = field(default_factory=dict)  # kind "versions": function -> version

    @classmethod
    def previous(cls) -> "RollbackTo":
        """The published version before the one the alias serves (002 rollback-service.sh; not 000 §4.4's ``.[-2]``)."""
        return cls("previous")

    @classmethod
    def version(cls, number: str) -> "RollbackTo":
        """An explicit version number (000 §4.2.4 TARGET_VERSION)."""
        return cls("version", str(number))

    @classmethod
    def label(cls, label: str) -> "RollbackTo":
        """The version whose Description is this release label (002 ``Versions[?Description==...]``)."""
        return cls("label", label)

    @classmethod
    def backup(cls, alias: str | None = None) -> "RollbackTo":
        """A ``backup-*`` alias's version: the named one, or the newest (001 §6.2.1)."""
        return cls("backup", alias)

    @classmethod
    def deployed_previous(cls) -> "RollbackTo":
        """The release deployed before the current one, from SSM deployed-version history (002)."""
        return cls("deployed-previous")

    @classmethod
    def each(cls, versions: Mapping[str, str]) -> "RollbackTo":
        """An explicit version per function (a restore: put aliases back where they were)."""
        return cls("versions", None, dict(versions))

    def describe(self) -> str:
        """How the target was chosen, with the runbook reference."""
        return {
            "previous": "the published version before the one the alias serves (002 rollback-service.sh; not 000 "
            "§4.4's .[-2], seed defect 4)",
            "version": f"explicit version {self.value} (000 §4.2.4)",
            "label": f"the version whose Description is {self.value} (002)",
            "backup": f"backup alias {self.value or 'newest backup-*'} (001 §6.2.1)",
            "deployed-previous": "the release deployed before the current one (SSM deployed-version history, 002)",
            "versions": "explicit version per function",
        }[self.kind]

    @property
    def explicit(self) -> bool:
        """True when the caller named the target: a missing target is then a refusal, not a skip."""
        return self.kind != "previous"


@dataclass(frozen=True)
class Move:
    """One function's planned move: from, to, why, or why it is skipped/refused."""

    function: str
    service: str | None
    current: str | None = None
    current_label: str = ""
    target: str | None = None
    target_label: str = ""
    routing: Mapping[str, float] = field(default_factory=dict)
    skip: str | None = None  # a reason: nothing to do for this function
    refuse: str | None = None  # a reason: the whole plan is refused
    revision_id: str | None = None  # the alias's RevisionId as the plan read it: the move is conditional on it
    canary: bool = False  # the alias routed weight to a newer version: the canary is what is rolled back

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (kept in the plan's details)."""
        return dict(vars(self), routing=dict(self.routing))

    def weights_line(self) -> str:
        """What happens to each weight: ``2 at 90 % -> 100 %; 3 at 10 % -> removed``."""
        if not self.routing:
            return ""
        primary = 100.0 - sum(100.0 * w for w in self.routing.values())
        parts = [f"{self.current} at {primary:g} % -> " + ("100 %" if self.target == self.current else "0 %")]
        parts += [f"{v} at {100.0 * w:g} % -> removed" for v, w in sorted(self.routing.items())]
        if self.target != self.current:
            parts.append(f"{self.target} -> 100 %")
        return "; ".join(parts)


@dataclass(frozen=True)
class RollbackSpec:
    """A rollback plan's typed content: what it read and what apply will do (apply reads only this)."""

    rule: str
    scope: str
    moves: tuple[Move, ...] = ()
    checkpoint: str = ""
    record_id: str = ""
    ssm_current: str | None = None
    ssm_version: int | None = None  # the parameter's Version as the plan read it (the update is conditional)
    ssm_label: str | None = None
    services: tuple[str, ...] = ()


def spec_of(plan: Plan[Any]) -> RollbackSpec:
    """The rollback plan's typed spec (TypeError for a plan of another action)."""
    if not isinstance(plan.spec, RollbackSpec):
        raise TypeError(f"{plan.action} plan carries no RollbackSpec")
    return plan.spec
