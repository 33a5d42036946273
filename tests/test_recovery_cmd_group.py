"""A drill's ``--recovery-cmd`` runs in its own process group: on its time limit the whole group stops, the
children it started included (before, a timed-out script's children kept running)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from harness.drills.external import run_command
from harness.inventory import load_inventory


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_timed_out_command_stops_with_its_children(tmp_path: Path) -> None:
    target = SimpleNamespace(env=load_inventory("bbws").environment("sit"), disposable=False, name="aws")
    pidfile = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time; "
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pidfile)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    began = time.monotonic()
    ran = run_command([sys.executable, "-c", script], target, timeout_s=2)  # type: ignore[arg-type] (a stand-in)
    assert ran.timed_out and time.monotonic() - began < 20
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), f"the command's child {child} outlived the time limit"


def test_a_command_that_finishes_is_unchanged(tmp_path: Path) -> None:
    target = SimpleNamespace(env=load_inventory("bbws").environment("sit"), disposable=False, name="aws")
    ran = run_command([sys.executable, "-c", "print('ok')"], target, timeout_s=30)  # type: ignore[arg-type] (a stand-in)
    assert ran.exit_code == 0 and ran.stdout.strip() == "ok" and not ran.timed_out
