"""The verification report: the runbook's checklist table (000 §7.4) filled in, failing rows first.

Rows that read a time window (metrics, logs) carry it in ``window``; each distinct window of a
procedure gets a marker (``[W1]``) after the row's observed value and one line under the table
("Windows"), so a reader can reconcile the metric rows (CloudWatch starts them at the minute) with
the log rows (to the millisecond).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Mapping

ORDER = ("error", "fail", "warn", "skip", "pass")
LABEL = {"error": "ERROR", "fail": "FAIL", "warn": "WARN", "skip": "SKIP", "pass": "PASS"}


def _cell(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\r", " ").replace("\n", " ").strip()


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


def render(
    rows: list[Mapping[str, Any]], header: Mapping[str, str], procedures: Mapping[str, str] | None = None
) -> str:
    """Markdown: a header, a summary line and one table per procedure (Check, Resource, Expected, Observed, Result,
    Ref)."""
    counts = Counter(str(r.get("verdict")) for r in rows)
    lines = [f"# Verification report: {header.get('title', '')}".rstrip(": "), ""]
    for k, v in header.items():
        if k != "title":
            lines.append(f"- **{k}**: {v}")
    summary = ", ".join(f"{counts[v]} {LABEL[v]}" for v in ORDER if counts[v])
    lines += [f"- **result**: {overall(rows)} ({len(rows)} rows: {summary or 'none'})", ""]
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault(str(r.get("procedure") or "checks"), []).append(r)
    for proc, items in groups.items():
        title = (procedures or {}).get(proc, proc)
        lines += [
            f"## {title}",
            "",
            "| Check | Resource | Expected | Observed | Result | Ref |",
            "|---|---|---|---|---|---|",
        ]
        windows = window_markers(items)
        for r in sort_rows(items):
            verdict = LABEL.get(str(r.get("verdict")), str(r.get("verdict")).upper())
            observed = _cell(r.get("observed"))
            if r.get("window"):
                observed += f" [{windows[str(r['window'])]}]"
            lines.append(
                f"| {_cell(r.get('check') or r.get('slug'))} (`{_cell(r.get('slug'))}`) | {_cell(r.get('resource'))} | "
                f"{_cell(r.get('expected'))} | {observed} | **{verdict}** | {_cell(r.get('ref'))} |"
            )
        if windows:
            lines += ["", "Windows:"]
            for text, marker in windows.items():
                slugs = sorted({str(r.get("slug")) for r in items if r.get("window") == text})
                lines.append(f"- [{marker}] {_cell(text)} ({', '.join(slugs)})")
        lines.append("")
    return "\n".join(lines)


def window_markers(rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Each distinct ``window`` of ``rows`` (in report order) and its marker: W1, W2, ..."""
    out: dict[str, str] = {}
    for r in sort_rows(rows):
        text = r.get("window")
        if text and str(text) not in out:
            out[str(text)] = f"W{len(out) + 1}"
    return out
