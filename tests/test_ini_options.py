"""The plugin's settings as ``[tool.pytest.ini_options]`` keys (``harness_<option>``); the command line wins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SETTINGS = """[tool.pytest.ini_options]
harness_reports_dir = "ini-reports"
harness_allow_mutation = true
harness_approved_by = ["Engineering Lead", "Product Owner"]
"""
PROBE = """import json


def test_probe(pytestconfig, tmp_path_factory):
    seen = {k: pytestconfig.getoption(k) for k in ("--reports-dir", "--allow-mutation", "--approved-by")}
    print("SEEN " + json.dumps(seen))
"""


def _seen(project: Path, *args: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "HARNESS_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-n", "0", "-p", "no:cacheprovider", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("SEEN ")), None)
    assert proc.returncode == 0 and line, proc.stdout + proc.stderr
    return json.loads(line[5:])


def test_ini_keys_set_the_plugins_options_and_the_command_line_wins(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(SETTINGS, encoding="utf-8")
    (tmp_path / "test_probe.py").write_text(PROBE, encoding="utf-8")
    assert _seen(tmp_path) == {
        "--reports-dir": "ini-reports",
        "--allow-mutation": True,
        "--approved-by": ["Engineering Lead", "Product Owner"],
    }
    seen = _seen(tmp_path, "--reports-dir", "cli-reports", "--approved-by", "Ops")
    assert seen["--reports-dir"] == "cli-reports" and seen["--approved-by"] == ["Ops"], seen
