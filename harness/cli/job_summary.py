"""``python -m harness.cli.job_summary FILE...``: the ``--output json`` documents of a CI job as one Markdown
summary (GitHub's ``$GITHUB_STEP_SUMMARY``): per document the verdict first, then the items that did not
complete (the failing rows first, 000 §8 "what to look at"), then the rest counted, the audit record and the
reports. A missing or unreadable document is said, never skipped: a summary that hides a failed run would
read as healthy.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from harness.cli.common import EXIT_STATUSES
from harness.markdown import cell

DONE = {"COMPLETE", "SKIPPED", "DRY_RUN"}
STATUS = {
    0: "done",
    1: "FAILED",
    2: "usage mistake",
    3: "REFUSED",
    4: "ACCOUNT GUARD",
    5: "LEASE HELD",
    130: "INTERRUPTED",
}


def render(doc: dict[str, Any], name: str) -> list[str]:
    """One document as Markdown lines: verdict, the items that did not complete, counts, record, reports."""
    status = int(doc.get("exit_status", 1))
    plan = doc.get("plan") or {}
    where = f"{plan.get('inventory', '?')}/{plan.get('env', '?')} (target {plan.get('target', '?')})"
    verdict = doc.get("outcome") or EXIT_STATUSES.get(status, f"exit {status}")
    lines = [f"### {'✅' if status == 0 else '❌'} `harness {doc.get('command', '?')}` {where}: {verdict}", ""]
    for reason in (doc.get("error"), plan.get("refusal")):
        if reason:
            lines += [f"> {reason}", ""]
    items = list(doc.get("items") or [])
    bad = [i for i in items if i.get("outcome") not in DONE]
    if bad:
        lines += ["| item | outcome | message |", "|---|---|---|"]
        lines += [f"| {cell(i.get('item'))} | **{cell(i.get('outcome'))}** | {cell(i.get('message'))} |" for i in bad]
        lines.append("")
    counts = Counter(str(i.get("outcome")) for i in items)
    if counts:
        lines.append("Items: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    lines.append(f"Audit record: `{doc.get('record_id') or 'none'}`; exit status {status}; from `{name}`")
    lines += [f"- report: `{r}`" for r in doc.get("reports") or []]
    return [*lines, ""]


def summary(paths: Sequence[Path]) -> str:
    """Every document's section, the failed ones first; a missing or unreadable file is a section too."""
    sections: list[tuple[bool, list[str]]] = []
    for path in paths:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            sections.append((False, [f"### ❌ {path}: no readable result ({exc})", ""]))
            continue
        sections.append((int(doc.get("exit_status", 1)) == 0, render(doc, path.name)))
    if not sections:
        return "### ❌ no harness result was written\n"
    return "\n".join(line for _, lines in sorted(sections, key=lambda s: s[0]) for line in lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the summary of the given documents; exit 0 (the job's own steps carry its status)."""
    print(summary([Path(a) for a in (sys.argv[1:] if argv is None else argv)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
