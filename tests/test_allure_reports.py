"""Allure as its users read it, from real runs: a small scenario set with a failing checklist row, the smoke
test (one test per inventory resource) and a drill that fails, run twice into one reports directory.

- the evidence reads right: readable parameters (the resource's name, not a repr), ``§`` as ``§``, the error once,
  the failed drill titled and grouped with its runbook, no ``None`` in any title, the same test ids both runs;
- two reports generated in a row with the pinned Allure CLI (package.json / package-lock.json, allurerc.mjs):
  the second shows the first run in every test's history. Without the CLI the test installs it as .ci/run does
  (``npm ci``): it never skips.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.inventory import load_inventory
from tests.checks.test_violations import api_front
from tests.conftest import REPO, run_pytest

SCENARIOS = (
    "scenarios/test_post_rollback_verification.py",
    "scenarios/test_smoke.py",
    "tests/gameday/fixtures/failing_drill.py",
)
ALLURE = REPO / "node_modules" / ".bin" / "allure"


def _failing_api() -> dict[str, tuple[int, str]]:
    """The API answers every path healthily but /health (HTTP 500): one failing row, api-health."""
    sit = load_inventory("bbws").environment("sit")
    out = {p: (200, json.dumps({"status": "healthy" if p.endswith("/health") else "ok"})) for p in sit.api.paths}
    health = next(p for p in sit.api.paths if p.endswith("/health"))
    out[health] = (500, json.dumps({"status": "error"}))
    return out


def _results(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in (run_dir / "allure-results").glob("*-result.json")]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[Path]]]:
    """Two runs of the scenario set into one reports directory: (reports root, run directories oldest first)."""
    root = tmp_path_factory.mktemp("allure-runs")
    reports = root / "reports"
    for _ in range(2):
        with api_front(_failing_api()) as url:
            proc = run_pytest(
                *SCENARIOS, "--env", "sit", "-n", "0", "--reports-dir", str(reports), "--api-base-url", url, timeout=300
            )
        assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert "2 failed" in proc.stdout, proc.stdout[-3000:]
    yield root, sorted((reports / "runs").iterdir())


def _by_name(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in results}


def test_parameters_read_as_names_and_the_section_sign_as_itself(runs) -> None:
    _, (first, _second) = runs
    results = _results(first)
    params = [p for r in results for p in r.get("parameters", [])]
    assert params, "no parameters at all"
    for p in params:
        assert not re.match(r"^['\"]|^\w+\(", p["value"]), p  # no quotes, no Resource(kind=...)
    resources = [p["value"] for p in params if p["name"] == "resource"]
    assert resources and all(re.match(r"^[a-z0-9-]+ \S+$", v) for v in resources), resources
    assert "env" in {p["name"] for p in params} and {"bbws/sit"} == {p["value"] for p in params if p["name"] == "env"}
    for path in (first / "allure-results").glob("*"):
        text = path.read_text(encoding="utf-8", errors="replace")
        assert "\\u00a7" not in text and "Â§" not in text, path.name  # § as itself, no escapes or mojibake
    assert any("§" in path.read_text(encoding="utf-8") for path in (first / "allure-results").glob("*-attachment.json"))


def test_the_failing_row_states_its_error_once(runs) -> None:
    _, (first, _second) = runs
    (row,) = [r for r in _results(first) if r["name"] == "API health: /v1/health"]
    assert row["status"] == "failed"
    message = row["statusDetails"]["message"]
    assert message.startswith("[api-health] /v1/health: expected") and "observed HTTP 500" in message, message
    assert not row["statusDetails"].get("trace"), row["statusDetails"]  # the same text again is no trace

    def repeats(steps: list[dict[str, Any]]) -> list[str]:
        out = [s["name"] for s in steps if "observed HTTP 500" in (s.get("statusDetails") or {}).get("message", "")]
        return out + [n for s in steps for n in repeats(s.get("steps", []))]

    assert row["steps"][0]["status"] == "failed" and not repeats(row["steps"]), row["steps"]
    assert [a["name"] for a in row["attachments"]] == ["observed"]  # evidence, not a third copy of the error


def test_the_failed_drill_is_titled_and_grouped_with_its_runbook(runs) -> None:
    _, (first, _second) = runs
    results = _results(first)
    (drill,) = [r for r in results if {"name": "drill", "value": "lambda-bad-deployment"} in r["labels"]]
    labels = {label["name"]: label["value"] for label in drill["labels"]}
    assert drill["status"] == "failed" and drill["name"].endswith(": FAIL"), drill["name"]
    assert labels["epic"].startswith("000 Rollback Runbook") and labels["feature"].startswith("Game day: 000 §"), labels
    rows = [r for r in results if r["name"] == "API health: /v1/health"]
    assert {label["value"] for label in rows[0]["labels"] if label["name"] == "epic"} == {labels["epic"]}

    def titles(steps: list[dict[str, Any]]) -> list[str]:
        return [s["name"] for s in steps] + [t for s in steps for t in titles(s.get("steps", []))]

    every = [r["name"] for r in results] + [t for r in results for t in titles(r.get("steps", []))]
    assert not [t for t in every if re.search(r"\bNone\b", t)], [t for t in every if "None" in t]
    assert any("RTO not measured" in t for t in titles(drill["steps"]))

    def hides_red(step: dict[str, Any]) -> bool:  # a passed step holding a failed one
        inner = step.get("steps", [])
        return (step["status"] == "passed" and any(s["status"] in ("failed", "broken") for s in inner)) or any(
            hides_red(s) for s in inner
        )

    # the API's /health answers 500 all along: the drill's steady state is red, and its phase step says so
    (steady,) = [s for s in drill["steps"] if s["name"].startswith("steady state")]
    assert steady["status"] == "failed" and not [s["name"] for s in drill["steps"] if hides_red(s)], steady


def test_test_ids_are_the_same_in_both_runs(runs) -> None:
    _, (first, second) = runs
    ids = [{r["historyId"] for r in _results(d)} for d in (first, second)]
    assert ids[0] == ids[1] and len(ids[0]) == len(_results(first)), "a test id changed between runs"


def _allure_cli() -> Path:
    """The pinned Allure CLI, installed from package-lock.json as .ci/run does when it is missing."""
    if not ALLURE.exists():
        npm = shutil.which("npm")
        assert npm, "npm is needed for the Allure CLI (package.json): install Node.js 20"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=REPO, check=True, capture_output=True, timeout=300)
    return ALLURE


def _generate(cli: Path, workdir: Path, results: Path) -> Path:
    """``allure generate`` with the repository's allurerc.mjs, its relative paths (report, history) under workdir."""
    proc = subprocess.run(
        [str(cli), "generate", "--config", str(REPO / "allurerc.mjs"), "--cwd", str(workdir), str(results)],
        cwd=workdir,  # the config's paths are relative to the process's directory, whatever --cwd says
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return workdir / "reports" / "allure-report" / "index.html"


def _report_tests(index: Path) -> dict[str, dict[str, Any]]:
    """Every test result embedded in a single-file Allure 3 report, by name."""
    html = index.read_text(encoding="utf-8")
    found = re.findall(r'd\("(data/test-results/[^"]+\.json)","([A-Za-z0-9+/=]*)"\)', html)
    assert found, "no test results embedded in the report"
    return {doc["name"]: doc for doc in (json.loads(base64.b64decode(body)) for _, body in found)}


def test_the_second_report_shows_the_first_run_in_every_tests_history(runs) -> None:
    root, (first, second) = runs
    cli = _allure_cli()
    workdir = root / "allure"
    workdir.mkdir()
    _generate(cli, workdir, first / "allure-results")
    assert (workdir / "reports" / "allure-history.jsonl").is_file()
    tests = _report_tests(_generate(cli, workdir, second / "allure-results"))
    first_starts = {r["historyId"]: r["start"] for r in _results(first)}
    assert len(tests) == len(_results(second))
    missing = [name for name, t in tests.items() if not t.get("history")]
    assert not missing, f"no history in: {missing[:5]}"
    for name, t in tests.items():
        starts = {h["start"] for h in t["history"]}
        assert starts & set(first_starts.values()), (name, t["history"])
    failing = tests["API health: /v1/health"]
    assert failing["history"][0]["status"] == "failed"


def test_a_broken_rows_trace_is_its_own_traceback_and_readable_values_stay_readable() -> None:
    from allure_commons.model2 import Parameter, StatusDetails, TestResult, TestStepResult

    from harness.inventory.resources import Resource
    from harness.pytest_plugin.allure_tidy import readable, tidy

    error = "[dynamodb-pitr] t: could not read: AccessDenied (ERROR, 000 §6.1)"
    step = TestStepResult(name="dynamodb-pitr on t: ERROR", status="broken")
    step.statusDetails = StatusDetails(message=f"harness.pytest_plugin.checklist.RowBroken: {error}\n", trace="x")
    result = TestResult(
        name="PITR: t",
        statusDetails=StatusDetails(
            message=f"harness.pytest_plugin.checklist.CheckHarnessError: {error}", trace="checklist.py:240: raise"
        ),
        parameters=[Parameter(name="env", value="'bbws/sit'"), Parameter(name="resource", value="Resource(...)")],
        steps=[step],
    )
    resource = Resource("lambda-alias", "latest-sit", "af-south-1", "000 §3.2", parent="fn")
    tidy(result, {"resource": resource}, traceback="Traceback (most recent call last):\n  botocore AccessDenied")
    assert result.statusDetails.message == error
    assert result.statusDetails.trace.startswith("Traceback") and step.statusDetails is None
    assert [(p.name, p.value) for p in result.parameters] == [
        ("env", "bbws/sit"),
        ("resource", "lambda-alias fn:latest-sit"),
    ]
    assert readable(3) == "3" and readable("a b") == "a b"


def test_a_step_holding_a_red_row_is_red_and_detection_rows_stay_passed() -> None:
    from allure_commons.model2 import TestResult, TestStepResult

    from harness.pytest_plugin.allure_tidy import tidy

    def step(name: str, status: str, *inner: TestStepResult) -> TestStepResult:
        return TestStepResult(name=name, status=status, steps=list(inner))

    detection = step("detection", "passed", step("rows", "passed", step("api-health: FAIL", "passed")))
    verification = step("verification", "passed", step("rows", "passed", step("api-health: FAIL", "failed")))
    result = TestResult(name="drill", steps=[detection, verification])
    tidy(result, {})
    assert [verification.status, verification.steps[0].status, detection.status] == ["failed", "failed", "passed"]
