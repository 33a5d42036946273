"""``harness init``: the scaffold ships the repository's own scenarios and workflows; an empty folder, then the
Quickstart's main job there, is green; existing files are kept."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

from harness.cli import main
from harness.cli.init import plan
from tests.conftest import REPO


def test_the_scaffold_is_the_repositorys_own_scenarios_and_workflows() -> None:
    files = plan("bbws")
    scenarios = {p for p in files if p.startswith("scenarios/")}
    repo = {p.relative_to(REPO).as_posix() for p in (REPO / "scenarios").rglob("*.py") if "__pycache__" not in p.parts}
    assert scenarios == repo
    for rel in sorted(repo) + [".github/workflows/rollback.yml", ".github/workflows/gameday.yml"]:
        source = files[rel]
        assert isinstance(source, Path) and filecmp.cmp(source, REPO / rel, shallow=False), rel


def test_init_keeps_existing_files(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def] (capsys)
    (tmp_path / "conftest.py").write_text("# mine\n")
    assert main(["init", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "conftest.py").read_text() == "# mine\n" and "kept 1 existing file(s)" in out
    assert f"next: cd {tmp_path} && pytest scenarios/ --env sit" in out
    assert main(["init", str(tmp_path), "--inventory", str(tmp_path / "nope.toml")]) == 2


def test_init_in_an_empty_folder_then_pytest_scenarios_is_green(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_", "PYTEST_"))}
    init = subprocess.run(
        [sys.executable, "-m", "harness.cli", "init"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert init.returncode == 0, init.stdout + init.stderr
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "scenarios/", "--env", "sit", "-q", "-n", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    tail = run.stdout[-3000:] + run.stderr[-2000:]
    assert run.returncode == 0 and " passed" in run.stdout and "failed" not in run.stdout.splitlines()[-1], tail
    assert (tmp_path / "reports").is_dir() and ".gitignore" in os.listdir(tmp_path)
