"""The verification report: the runbook's checklist table (000 §7.4) filled in, failing rows first.

Rows that read a time window (metrics, logs) carry it in ``window``; each distinct window of a
procedure gets a marker (``[W1]``) after the row's observed value and one line under the table
("Windows"), so a reader can reconcile the metric rows (CloudWatch starts them at the minute) with
the log rows (to the millisecond).

One renderer for the whole report: a run that did not run every planned row, or verified rows after
actions, gets its result line, its "Not run" table and its "Verified after actions" tables here too
(the pytest plugin passes the run's outcome; nothing edits the markdown afterwards).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Mapping, Sequence

from harness.markdown import cell as _cell
from harness.markdown import header

ORDER = ("error", "fail", "warn", "skip", "pass")
LABEL = {"error": "ERROR", "fail": "FAIL", "warn": "WARN", "skip": "SKIP", "pass": "PASS"}
COLUMNS = ("Check", "Resource", "Expected", "Observed", "Result", "Ref")


def sort_rows(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Failing rows first (ERROR, FAIL, WARN, SKIP, PASS), then by slug and resource."""
    rank = {v: i for i, v in enumerate(ORDER)}
    return sorted(
        rows, key=lambda r: (rank.get(str(r.get("verdict")), len(ORDER)), str(r.get("slug")), str(r.get("resource")))
    )


def overall(rows: Iterable[Mapping[str, Any]]) -> str:
    """FAIL when any row failed or errored, WARN when any warned, else PASS."""
    seen = {str(r.get("verdict")) for r in rows}
    if seen & {"fail", "error"}:
        return "FAIL"
    return "WARN" if "warn" in seen else "PASS"


def counts(rows: Iterable[Mapping[str, Any]]) -> str:
    """``3 FAIL, 40 PASS`` (worst first), or ``none``."""
    seen = Counter(str(r.get("verdict")) for r in rows)
    return ", ".join(f"{seen[v]} {LABEL[v]}" for v in ORDER if seen[v]) or "none"


def result_line(
    rows: Sequence[Mapping[str, Any]],
    outcome: Mapping[str, Any] | None = None,
    extra: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The report's result: the rows' verdict, or the run's (``outcome``: an incomplete run never reads PASS, a
    failed row after an action makes it FAIL)."""
    if outcome is None or (outcome["complete"] and not extra):
        return f"- **result**: {overall(rows)} ({len(rows)} rows: {counts(rows)})"
    detail = f"{outcome['counts']}: {counts(rows)}"
    if extra:
        detail += f"; {len(extra)} rows verified after actions: {counts(extra)}"
    return f"- **result**: {outcome['result']} ({detail})"


def _check_cell(r: Mapping[str, Any]) -> str:
    return f"{_cell(r.get('check') or r.get('slug'))} (`{_cell(r.get('slug'))}`)"


def _result_row(r: Mapping[str, Any], marker: str = "") -> str:
    """One row of a results table; ``marker``: its window's (``[W1]``), after the observed value."""
    verdict = LABEL.get(str(r.get("verdict")), str(r.get("verdict")).upper())
    observed = _cell(r.get("observed")) + (f" [{marker}]" if marker else "")
    return (
        f"| {_check_cell(r)} | {_cell(r.get('resource'))} | "
        f"{_cell(r.get('expected'))} | {observed} | **{verdict}** | {_cell(r.get('ref'))} |"
    )


def _table(title: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """One procedure's table (failing rows first), with its window markers and the windows under it."""
    lines = [f"## {title}", "", *header(COLUMNS)]
    windows = window_markers(rows)
    lines += [_result_row(r, windows[str(r["window"])] if r.get("window") else "") for r in sort_rows(rows)]
    if windows:
        lines += ["", "Windows:"]
        for text, marker in windows.items():
            slugs = sorted({str(r.get("slug")) for r in rows if r.get("window") == text})
            lines.append(f"- [{marker}] {_cell(text)} ({', '.join(slugs)})")
    return lines + [""]


def _not_run(not_run: Sequence[Mapping[str, Any]], planned: Any) -> list[str]:
    """The planned rows that did not run, and why."""
    lines = [f"## Not run ({len(not_run)} of {planned} planned rows)", "", *header(("Check", "Resource", "Why"))]
    for r in sorted(not_run, key=lambda r: (str(r.get("procedure")), str(r.get("slug")), str(r.get("resource")))):
        lines.append(f"| {_check_cell(r)} | {_cell(r.get('resource'))} | {_cell(r.get('observed'))} |")
    return lines + [""]


def _after_actions(after: Mapping[str, Sequence[Mapping[str, Any]]], extra: int) -> list[str]:
    """The rows verified inside tests after their actions, one table per test."""
    lines = [f"## Verified after actions ({extra} rows in {len(after)} tests)", ""]
    for nodeid, verified in after.items():
        phases = sorted({str(r.get("phase") or "verification") for r in verified})
        lines += [f"### `{nodeid}` ({', '.join(phases)})", "", *header(COLUMNS)]
        lines += [_result_row(r) for r in sort_rows(verified)] + [""]
    return lines


def render(
    rows: Sequence[Mapping[str, Any]],
    header: Mapping[str, str],
    procedures: Mapping[str, str] | None = None,
    *,
    outcome: Mapping[str, Any] | None = None,
    not_run: Sequence[Mapping[str, Any]] = (),
    after_actions: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> str:
    """Markdown: a header, the result line, one table per procedure (Check, Resource, Expected, Observed, Result,
    Ref), then the planned rows not run and the rows verified after actions (``outcome``: the run's planned/ran
    summary; without it the rows alone decide the result)."""
    after = {k: v for k, v in (after_actions or {}).items() if v}
    extra = [r for v in after.values() for r in v]
    lines = [f"# Verification report: {header.get('title', '')}".rstrip(": "), ""]
    lines += [result_line(rows, outcome, extra)]  # the verdict first, then where and when
    lines += [f"- **{k}**: {v}" for k, v in header.items() if k != "title"] + [""]
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in sort_rows(rows):  # the procedure with the worst row comes first: its failing rows open the report
        groups.setdefault(str(r.get("procedure") or "checks"), []).append(r)
    for proc, items in groups.items():
        lines += _table((procedures or {}).get(proc, proc), items)
    if not_run:
        lines += _not_run(not_run, (outcome or {}).get("planned", "?"))
    if after:
        lines += _after_actions(after, len(extra))
    return "\n".join(lines).rstrip("\n") + "\n"


def window_markers(rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Each distinct ``window`` of ``rows`` (in report order) and its marker: W1, W2, ..."""
    out: dict[str, str] = {}
    for r in sort_rows(rows):
        text = r.get("window")
        if text and str(text) not in out:
            out[str(text)] = f"W{len(out) + 1}"
    return out
