"""``pytest --lf`` works with the project's pytest settings: no blanket ``-p no:cacheprovider``, so a rerun after
one failing row runs only that row (the cache stays out of git: .gitignore ``.pytest_cache/``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

ROWS = """import os

import pytest


@pytest.mark.parametrize("row", ["a", "b", "c"])
def test_row(row):
    assert row != os.environ.get("FAIL_ROW")
"""


def _project_settings() -> str:
    """The repository's ``[tool.pytest.ini_options]`` section, without its testpaths (the tmp project has none)."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    section = re.search(r"^\[tool\.pytest\.ini_options\]\n(.*?)(?=^\[)", text, re.S | re.M)
    assert section, "pyproject.toml has no [tool.pytest.ini_options]"
    kept = [line for line in section.group(1).splitlines() if not line.startswith("testpaths")]
    return "[tool.pytest.ini_options]\n" + "\n".join(kept) + "\n"


def _pytest(project: Path, *args: str, fail: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "HARNESS_", "FAIL_ROW"))}
    if fail:
        env["FAIL_ROW"] = fail
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-n", "0", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_lf_after_one_failing_row_reruns_only_that_row(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(_project_settings(), encoding="utf-8")
    (tmp_path / "test_rows.py").write_text(ROWS, encoding="utf-8")
    first = _pytest(tmp_path, fail="b")
    assert first.returncode == 1 and "1 failed, 2 passed" in first.stdout, first.stdout + first.stderr
    again = _pytest(tmp_path, "--lf")
    ran = re.findall(r"^(PASSED|FAILED) (\S+)", again.stdout, re.M)
    assert again.returncode == 0 and ran == [("PASSED", "test_rows.py::test_row[b]")], again.stdout + again.stderr


def test_the_cache_stays_out_of_git() -> None:
    assert ".pytest_cache/" in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
