"""Every user mistake is one ``ERROR:`` line and a non-zero exit, found before any target starts (no
seeding time spent): a typo must never cost a seeding, and never turn a check off silently.

The option mistakes run pytest in this process (``pytest.main``: a run that stops in pytest_configure
leaves nothing behind) with ``Target.start`` replaced by a recorder; the ones that need a real process
(xdist workers, a signal) run in a subprocess with ``-p tests.pause_plugin``, whose
``HARNESS_TEST_START_LOG`` file records every ``Target.start``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.targets.base import Target
from harness.targets.embedded import EmbeddedTarget
from tests.conftest import REPO, aws_env, run_pytest

SMOKE = "scenarios/test_smoke.py"
FN = "bbws-tenant-instance-management-sit"

MISTAKES = {
    "endpoint-without-scheme": (
        ("--target", "aws"),
        {**aws_env("http://x"), "AWS_ENDPOINT_URL": "127.0.0.1:4566"},
        "ERROR: AWS_ENDPOINT_URL='127.0.0.1:4566' is not an http(s) URL; did you mean http://127.0.0.1:4566?",
    ),
    "harness-target-bogus": (
        (),
        {"HARNESS_TARGET": "bogus"},
        "ERROR: HARNESS_TARGET='bogus': unknown target; valid: embedded, localstack, aws",
    ),
    "harness-target-wrong-case": (
        (),
        {"HARNESS_TARGET": "Embedded"},
        "ERROR: HARNESS_TARGET='Embedded': unknown target; valid: embedded, localstack, aws; did you mean 'embedded'?",
    ),
    "target-option-wrong-case": (("--target", "Embedded"), {}, "ERROR: --target='Embedded': unknown target"),
    "reports-dir-not-writable": (
        ("--reports-dir", "{file}/reports"),
        {},
        "ERROR: --reports-dir {file}/reports: cannot write reports to",
    ),
    "api-base-url-no-scheme": (
        ("--api-base-url", "localhost:8080/v1"),
        {},
        "ERROR: --api-base-url 'localhost:8080/v1': not an http(s) URL; did you mean http://localhost:8080/v1?",
    ),
    "api-base-url-env-ftp": (
        (),
        {"HARNESS_API_BASE_URL": "ftp://example.com"},
        "ERROR: HARNESS_API_BASE_URL 'ftp://example.com': not an http(s) URL",
    ),
    "expect-version-no-equals": (
        ("--expect-version", "foo"),
        {},
        "ERROR: --expect-version 'foo': expected FUNCTION=VERSION",
    ),
    "expect-version-no-version": (
        ("--expect-version", f"{FN}="),
        {},
        f"ERROR: --expect-version '{FN}=': expected FUNCTION=VERSION",
    ),
    "expect-version-no-function": (
        ("--expect-version", "=3"),
        {},
        "ERROR: --expect-version '=3': expected FUNCTION=VERSION",
    ),
    "expect-version-unknown-function": (
        ("--expect-version", "bbws-tenant-instance-managment-sit=3"),
        {},
        "ERROR: --expect-version bbws-tenant-instance-managment-sit=3: no function "
        f"'bbws-tenant-instance-managment-sit' in bbws/sit; did you mean '{FN}'?",
    ),
    "keep-runs-not-a-number": (("--keep-runs", "ten"), {}, "ERROR: --keep-runs 'ten': expected a whole number"),
    "rehearsal-start-garbage": (("--rehearsal-start", "yesterday"), {}, "ERROR: --rehearsal-start:"),
}


def _one_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout + proc.stderr
    assert "Traceback" not in lines[0]
    return lines[0]


STARTED = "ERROR: a target started (recorded by the test)"


def _main(
    run_here, args: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, list[str]]:
    """``pytest.main(args)`` here with ``env``; every ``Target.start`` is recorded and stops the run."""
    started: list[str] = []

    def start(self: Target) -> Target:
        started.append(self.name)
        raise pytest.UsageError(STARTED.removeprefix("ERROR: "))

    monkeypatch.setattr(Target, "start", start)
    monkeypatch.setattr(EmbeddedTarget, "start", start)
    proc = run_here(*args, env=env)
    return proc.returncode, _one_line(proc), started


@pytest.mark.parametrize("case", MISTAKES, ids=list(MISTAKES))
def test_mistake_is_one_error_line_before_any_target_starts(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_here
) -> None:
    args, env, expected = MISTAKES[case]
    file = tmp_path / "a-file"
    file.write_text("not a directory")
    args = tuple(a.replace("{file}", str(file)) for a in args)
    reports = () if any(a == "--reports-dir" for a in args) else ("--reports-dir", str(tmp_path / "reports"))
    code, line, started = _main(run_here, [SMOKE, "--env", "sit", *reports, *args], env, monkeypatch)
    assert code == pytest.ExitCode.USAGE_ERROR, line
    assert line.startswith(expected.replace("{file}", str(file))), line
    assert not started
    assert not (tmp_path / "reports" / "runs").exists(), "no run directory for a mistake"


@pytest.mark.parametrize(
    ("inventory_name", "fn"),
    [("bbws", FN), ("bbws-access", "bbws-access-sit-lambda-team-service-v2")],
    ids=["inventory-function", "discovered-by-prefix"],
)
def test_expect_version_for_a_known_function_is_accepted(
    inventory_name: str, fn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_here
) -> None:
    args = [
        SMOKE,
        "--inventory",
        inventory_name,
        "--env",
        "sit",
        "--reports-dir",
        str(tmp_path),
        "--expect-version",
        f"{fn}=3",
    ]
    code, line, started = _main(run_here, args, {}, monkeypatch)
    assert line == STARTED and started == ["embedded"], "validation passed: the run went on to start its target"


def test_mistake_in_a_real_process_is_one_line(tmp_path: Path) -> None:
    """The same as above, end to end: stderr and the exit status of a real ``pytest`` process."""
    starts = tmp_path / "starts.log"
    proc = run_pytest(
        SMOKE,
        "--env",
        "sit",
        "--reports-dir",
        str(tmp_path / "reports"),
        "--expect-version",
        "typo-fn=3",
        "-p",
        "tests.pause_plugin",
        env={"HARNESS_TEST_START_LOG": str(starts)},
    )
    assert _one_line(proc).startswith("ERROR: --expect-version typo-fn=3: no function 'typo-fn' in bbws/sit")
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR and not starts.exists()


def test_missing_path_under_xdist_says_so(tmp_path: Path) -> None:
    starts = tmp_path / "starts.log"
    proc = run_pytest(
        "scenarios/test_no_such_file.py",
        "--env",
        "sit",
        "-n",
        "2",
        "--reports-dir",
        str(tmp_path),
        "-p",
        "tests.pause_plugin",
        env={"HARNESS_TEST_START_LOG": str(starts)},
    )
    assert _one_line(proc) == "ERROR: file or directory not found: scenarios/test_no_such_file.py"
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR and not starts.exists()


def test_sigint_during_seeding_is_one_line(tmp_path: Path) -> None:
    starts = tmp_path / "starts.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_", "PYTEST_"))}
    env["HARNESS_TEST_START_LOG"] = str(starts)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.pause_plugin",
            SMOKE,
            "--env",
            "sit",
            "--reports-dir",
            str(tmp_path / "r"),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not starts.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        time.sleep(0.5)  # inside start(): the server is up, seeding is under way
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    line = _one_line(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    assert proc.returncode == pytest.ExitCode.INTERRUPTED
    assert (
        "stopped: interrupted while starting target embedded for inventory=bbws env=sit" in line
        and "no test ran" in line
    ), line
