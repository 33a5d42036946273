"""The checklist split across xdist workers: every planned row runs once, no per-row AWS call is made
twice (each worker reads only its own rows' resources; the batched reads serve many rows), and the
controller's merged report is complete. One embedded emulator per worker (README, "Scale")."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from harness.checks.catalogue import rows_for
from harness.inventory import load_inventory
from tests.conftest import run_pytest

POST_ROLLBACK = "scenarios/test_post_rollback_verification.py"
BATCHED = (
    "cloudwatch.GetMetricData",
    "logs.StartQuery",
    "logs.GetQueryResults",
    "ecs.DescribeServices",
    "dynamodb.Scan",
)


def _rows_and_calls(allure: Path) -> tuple[Counter[str], Counter[str]]:
    """(results per row, per-row AWS calls) from the Allure results: each row's step lists its calls."""
    rows: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    for path in allure.glob("*-result.json"):
        result = json.loads(path.read_text())
        row = next((p["value"].strip("'") for p in result.get("parameters", []) if p["name"] == "row"), None)
        if row is None:
            continue
        rows[row] += 1
        for step in result.get("steps", []):
            calls.update(
                s["name"]
                for s in step.get("steps", [])
                if not s["name"].startswith(BATCHED) and "." in s["name"].split(" ")[0]
            )
    return rows, calls


@pytest.mark.timeout(240)
def test_checklist_rows_run_once_across_workers_and_the_report_is_complete(tmp_path: Path) -> None:
    # -n 2 only: "-n auto" is the same two workers on these 2-core machines and cost 12 s of suite time.
    reports = tmp_path / "reports"
    proc = run_pytest(POST_ROLLBACK, "--env", "sit", "-n", "2", "-q", "--reports-dir", str(reports), timeout=200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    planned = rows_for(load_inventory("bbws").environment("sit"), "post-rollback")
    rows, calls = _rows_and_calls(reports / "allure-results")
    assert set(rows) == {f"{p.spec.slug} on {p.row.resource}" for p in planned} and set(rows.values()) == {1}
    twice = {call: n for call, n in calls.items() if n > 1}
    assert not twice, f"per-row calls made more than once: {twice}"
    assert sum(1 for c in calls if c.startswith("lambda.Invoke")) == len(
        [p for p in planned if p.spec.slug == "health-endpoint"]
    )
    (report,) = reports.glob("verification-bbws-sit-*.md")
    text = report.read_text()
    assert (
        f"COMPLETE: {len(planned)} of {len(planned)} planned rows ran" in text
        and "- **throttled and retried**: 0 calls" in text
    )


@pytest.mark.timeout(240)
def test_shared_emulator_serves_every_worker_and_skips_mutating_tests(tmp_path: Path) -> None:
    """--shared-emulator: the controller seeds one emulator, the workers read it; a drill would change
    what another worker verifies, so mutating tests are skipped with the reason."""
    reports = tmp_path / "reports"
    proc = run_pytest(
        POST_ROLLBACK,
        "scenarios/test_lambda_rollback.py",
        "--env",
        "sit",
        "-n",
        "2",
        "--shared-emulator",
        "-rs",
        "--reports-dir",
        str(reports),
        timeout=200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "shared by the xdist workers (--shared-emulator)" in proc.stdout
    assert (
        "SKIPPED" in proc.stdout
        and "--shared-emulator: one emulator account shared by every xdist worker" in proc.stdout
    )
    planned = rows_for(load_inventory("bbws").environment("sit"), "post-rollback")
    (report,) = reports.glob("verification-bbws-sit-*.md")
    assert f"COMPLETE: {len(planned)} of {len(planned)} planned rows ran" in report.read_text()
    rows, calls = _rows_and_calls(reports / "allure-results")
    assert set(rows.values()) == {1} and not {c for c, n in calls.items() if n > 1}
