"""The scheduled game-day workflow (valid GitHub workflow, offline; cron and dispatch; drills, Allure, history cache,
artifacts), the inventory's [rto] table (002 "Rollback Scenarios & Recovery Times"), and the drill layer's imports."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
import yaml

from harness.errors import InventoryError
from harness.inventory import load_inventory
from tests.conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "gameday.yml"


def test_workflow_is_a_valid_github_workflow() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_runs_the_drills_builds_allure_keeps_history_and_uploads() -> None:
    doc = yaml.safe_load(WORKFLOW.read_text())
    on = doc.get("on") or doc.get(True)  # YAML 1.1 reads a bare `on` as true
    assert on["schedule"][0]["cron"] and "workflow_dispatch" in on
    assert "prod" not in on["workflow_dispatch"]["inputs"]["environment"]["options"]
    steps = doc["jobs"]["gameday"]["steps"]
    runs = "\n".join(str(s.get("run", "")) for s in steps)
    assert "scenarios/gameday" in runs and "-n 2" in runs and "--recovery-cmd" in runs
    assert "npm ci && npx allure generate reports/allure-results" in runs
    caches = [s for s in steps if str(s.get("uses", "")).startswith("actions/cache/")]
    # both histories survive between scheduled runs: the drills' RTO trend and Allure's history (historyPath)
    assert {c["with"]["path"] for c in caches} == {"reports/gameday-history.jsonl", "reports/allure-history.jsonl"}
    assert len(caches) == 4  # a restore and a save for each
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert upload["with"]["path"] == "reports/" and upload["if"] == "always()"
    assert doc["jobs"]["gameday"]["env"]["HARNESS_TARGET"] == "embedded"


def test_rto_objectives_come_from_the_inventory() -> None:
    rto = load_inventory("bbws").environment("sit").rto
    assert (rto.lambda_code, rto.infrastructure, rto.full_deployment, rto.database) == (5, 15, 30, 60)
    assert rto.ref == "002 Rollback Scenarios & Recovery Times" and rto.minutes("database") == 60
    assert load_inventory("propie").environment("production").rto is None  # no [rto]: drills report RTO unasserted
    with pytest.raises(KeyError, match="unknown recovery kind"):
        rto.minutes("coffee")


def test_a_bad_rto_value_names_its_key(tmp_path) -> None:
    text = (REPO / "harness/inventory/bundled/bbws.toml").read_text().replace("database = 60 ", "database = -1 ")
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(InventoryError, match="rto.database"):
        load_inventory(tmp_path / "bad.toml")


def test_drills_and_faults_import_no_front_end() -> None:
    bad = []
    for folder in ("harness/drills", "harness/faults"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else []
                )
                bad += [
                    f"{path.name} imports {n}"
                    for n in names
                    if n.split(".")[0] in ("pytest", "allure")
                    or n.startswith(("harness.cli", "harness.checks", "harness.pytest_plugin"))
                ]
    assert not bad, bad
