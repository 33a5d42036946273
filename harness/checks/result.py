"""The value every check returns: what was read, what was expected, and the verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class Verdict(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"  # not rehearsable on this target; ``observed`` says why
    ERROR = "error"  # the harness could not evaluate the row (a harness/permission error, not a finding)


@dataclass(frozen=True)
class CheckResult:
    """One checklist row, filled in: slug, resource, expected, observed, verdict, evidence, runbook ref."""

    slug: str
    resource: str
    expected: str
    observed: str
    verdict: Verdict
    ref: str
    evidence: dict[str, Any] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    # The exact time window the row read (metric and log rows), as one line a report can show, e.g.
    # "metrics [12:30:00Z, 12:35:27Z), period 300 s (...)"; empty for rows that read no window.
    window: str = ""

    @property
    def ok(self) -> bool:
        """True unless the verdict is FAIL or ERROR (WARN and SKIP do not fail a run)."""
        return self.verdict not in (Verdict.FAIL, Verdict.ERROR)

    def message(self) -> str:
        """One line for an assertion: resource, expected and observed."""
        return (
            f"[{self.slug}] {self.resource}: expected {self.expected}, observed {self.observed} "
            f"({self.verdict.value.upper()}, {self.ref})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for reports and Allure attachments."""
        d = asdict(self)
        d["verdict"] = self.verdict.value
        return d
