"""What makes a report read right at a glance: failing rows first, and a long reason as one short line with the
whole text below it (000 §8 asks for a report an on-call engineer reads in a hurry; the verification report in
harness/checks/verification_report.py orders its rows the same way)."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence, TypeVar

ORDER = ("error", "fail", "warn", "skip", "pass")  # worst first
OUTCOME_ORDER = ("FAIL", "FAILED", "INTERRUPTED", "REFUSED", "SKIPPED", "PASS", "COMPLETE")
SHORT = 160  # characters of a reason shown on its summary line

R = TypeVar("R", bound=Mapping[str, Any])


def failing_first(rows: Iterable[R]) -> list[R]:
    """Rows ordered ERROR, FAIL, WARN, SKIP, PASS (anything else last), otherwise as given."""
    rank = {v: i for i, v in enumerate(ORDER)}
    return sorted(rows, key=lambda r: rank.get(str(r.get("verdict")).lower(), len(ORDER)))


def outcome_first(results: Iterable[R], key: str = "outcome") -> list[R]:
    """Drill (or action) results with the failed ones first, then by name."""
    rank = {v: i for i, v in enumerate(OUTCOME_ORDER)}
    return sorted(results, key=lambda r: (rank.get(str(r.get(key)).upper(), len(OUTCOME_ORDER)), str(r.get("name"))))


def short(text: str, limit: int = SHORT) -> str:
    """The first line of ``text``, cut at ``limit`` characters (with an ellipsis when cut)."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def reason_lines(head: str, reasons: Sequence[str], limit: int = SHORT) -> list[str]:
    """``head: <short reason>`` as a list item, then (when anything was cut) every reason in full, indented below,
    one clause (``; ``-separated) a line."""
    text = "; ".join(r for r in reasons if r)
    if not text:
        return [f"- {head}"]
    line = f"- {head}: {short(reasons[0], limit)}"
    if len(reasons) == 1 and short(reasons[0], limit) == reasons[0].strip():
        return [line]
    if len(reasons) > 1:
        line += f" (+{len(reasons) - 1} more)"
    parts = [part for r in reasons for line_ in r.strip().splitlines() for part in line_.split("; ") if part]
    return [line, "", "  ```text", *[f"  {part}" for part in parts], "  ```", ""]
