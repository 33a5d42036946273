"""Allure keeps its history: allurerc.mjs names a ``historyPath`` (each generate appends to it and reads the
earlier runs), the game-day workflow restores and saves that file around the generate step, and the docs say
to keep it. (npm is not run here: the config, workflow and docs are read.)"""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO


def _history_path() -> str:
    config = (REPO / "allurerc.mjs").read_text(encoding="utf-8")
    found = re.search(r'^\s*historyPath:\s*"([^"]+)"', config, re.M)
    assert found, "allurerc.mjs names no historyPath: every report would list each test as new"
    return found.group(1)


def test_the_config_names_a_history_file_outside_the_generated_report():
    path = _history_path()
    assert path.endswith(".jsonl") and not path.startswith("reports/allure-report"), path  # generate rewrites that


def test_the_gameday_workflow_keeps_the_history_across_runs():
    path = _history_path()
    workflow = yaml.safe_load((REPO / ".github/workflows/gameday.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["gameday"]["steps"]
    names = [s.get("uses", "").split("@")[0] + ":" + s.get("with", {}).get("path", "") for s in steps]
    generate = next(i for i, s in enumerate(steps) if "allure generate" in s.get("run", ""))
    restore = names.index(f"actions/cache/restore:{path}")
    save = names.index(f"actions/cache/save:{path}")
    assert restore < generate < save, names
    assert steps[save].get("if") == "always()" and steps[restore]["with"]["key"] == steps[save]["with"]["key"]


def test_the_docs_allure_command_says_to_keep_the_history():
    path = _history_path()
    for page in ("docs/checklists.md", "docs/reports.md"):
        text = (REPO / page).read_text(encoding="utf-8")
        assert "npx allure generate" in text and path in text, page
