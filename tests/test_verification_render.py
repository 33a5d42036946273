"""The verification report is rendered once, by one renderer: the result line, the checklist tables, the rows not
run and the rows verified after actions come out of ``verification_report.render`` (nothing edits it afterwards)."""

from __future__ import annotations

from typing import Any

from harness.checks import verification_report
from harness.markdown import cell


def _row(slug: str, verdict: str, observed: str = "ok", **extra: Any) -> dict[str, Any]:
    return {
        "slug": slug,
        "resource": "fn-sit",
        "procedure": "post-rollback",
        "check": slug.title(),
        "expected": "green",
        "observed": observed,
        "verdict": verdict,
        "ref": "000 §7.4",
        "nodeid": f"scenarios/t.py::test_row[{slug}]",
        **extra,
    }


def _outcome(complete: bool, planned: int, ran: int, result: str) -> dict[str, Any]:
    counts = f"{ran} of {planned} planned rows ran" + ("" if complete else f", {planned - ran} not run (interrupted)")
    return {"complete": complete, "planned": planned, "counts": counts, "result": result}


def test_a_complete_run_reads_its_rows_verdict_once() -> None:
    rows = [_row("health-endpoint", "pass"), _row("error-rate", "warn", "no datapoints")]
    md = verification_report.render(rows, {"title": "bbws/sit"}, outcome=_outcome(True, 2, 2, "WARN"))
    assert [line for line in md.splitlines() if line.startswith("- **result**")] == [
        "- **result**: WARN (2 rows: 1 WARN, 1 PASS)"
    ]
    assert "## Not run" not in md and "## Verified after actions" not in md
    assert md == verification_report.render(rows, {"title": "bbws/sit"})  # without an outcome: the same report


def test_an_incomplete_run_says_so_and_lists_the_rows_not_run() -> None:
    rows = [_row("health-endpoint", "pass")]
    not_run = [_row("error-rate", "notrun", "not run (interrupted) | worker 2\ncrashed")]
    md = verification_report.render(
        rows, {"title": "bbws/sit"}, outcome=_outcome(False, 2, 1, "INCOMPLETE"), not_run=not_run
    )
    results = [line for line in md.splitlines() if line.startswith("- **result**")]
    assert results == ["- **result**: INCOMPLETE (1 of 2 planned rows ran, 1 not run (interrupted): 1 PASS)"]
    assert "## Not run (1 of 2 planned rows)" in md
    assert f"| {cell(not_run[0]['observed'])} |" in md and "\\| worker 2 crashed" in md
    assert md.endswith("\n") and not md.endswith("\n\n")


def test_a_failed_row_after_an_action_makes_the_run_fail() -> None:
    rows = [_row("health-endpoint", "pass")]
    after = {
        "scenarios/t.py::test_rollback": [_row("lambda-alias-version", "fail", "alias on 7", phase="verification")]
    }
    md = verification_report.render(
        rows, {"title": "bbws/sit"}, outcome=_outcome(True, 1, 1, "FAIL"), after_actions=after
    )
    results = [line for line in md.splitlines() if line.startswith("- **result**")]
    assert results == ["- **result**: FAIL (1 of 1 planned rows ran: 1 PASS; 1 rows verified after actions: 1 FAIL)"]
    assert "## Verified after actions (1 rows in 1 tests)" in md
    assert "### `scenarios/t.py::test_rollback` (verification)" in md and "**FAIL**" in md
