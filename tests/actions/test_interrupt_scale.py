"""Ctrl-C 5 s into a 300-function ``harness rollback --all`` against ``harness serve`` tells the truth: exit 130,
every function's record entry equals GetAlias, the report counts moved / not started, no IN_PROGRESS record,
the lease released. A second Ctrl-C aborts at once and the record still ends FAILED."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.inventory import load_inventory
from harness.lease import LeaseSettings, read_lease
from harness.records import IN_PROGRESS, read_records
from harness.targets.aws import AwsTarget
from tests.conftest import REPO, aws_env, serve, stop

FUNCTIONS = 300
ALIAS = "latest-sit"


def inventory(folder: Path, functions: int) -> Path:
    """A bbws-shaped inventory of ``functions`` functions in four services (only what a rollback reads)."""
    per = -(-functions // 4)
    services = []
    for s in range(4):
        names = [f'"scale-svc{s}-fn{i:03d}-{{env}}"' for i in range(s * per, min((s + 1) * per, functions))]
        services.append(f'[[lambda.services]]\nname = "svc{s}"\nfunctions = [{", ".join(names)}]\n')
    path = folder / f"scale{functions}.toml"
    path.write_text(
        f"""[inventory]
name = "scale{functions}"
title = "Interrupted rollback at scale"
sources = ["000 §4.4"]

[environments.sit]
account = "100000000002"
region = "af-south-1"

[lambda]
alias = "latest-{{env}}"
health_payload = {{ httpMethod = "GET", path = "/health", headers = {{}} }}

{chr(10).join(services)}
[[dynamodb.tables]]
name = "scale-deployments-{{env}}"
billing_mode = "PAY_PER_REQUEST"
hash_key = {{ name = "deployment_id" }}
purpose = "deployments"
"""
    )
    return path


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    path = inventory(tmp_path_factory.mktemp("scale"), FUNCTIONS)
    proc, info = serve("sit", inventory=str(path))
    yield path, info
    stop(proc)


@pytest.fixture
def observer(big: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsTarget]:
    path, info = big
    for key, value in aws_env(info["AWS_ENDPOINT_URL"]).items():
        monkeypatch.setenv(key, value)
    target = AwsTarget(load_inventory(str(path)).environment("sit")).start()
    yield target
    lam = target.client("lambda")
    for f in target.env.functions:
        lam.update_alias(FunctionName=f.name, Name=ALIAS, FunctionVersion="3")
    target.close()


def start(big: tuple[Path, dict[str, str]], cwd: Path) -> subprocess.Popen:
    path, info = big
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_", "PYTEST_"))}
    env.update(aws_env(info["AWS_ENDPOINT_URL"]), PYTHONPATH=str(REPO))
    argv = ["rollback", "--env", "sit", "--inventory", str(path), "--target", "aws", "--all", "--allow-mutation"]
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *argv, "--reason", "scale", "--max-workers", "4"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class Output:
    """The command's stdout, read by a thread (a 300-function plan is larger than a pipe's buffer)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        self.thread = threading.Thread(target=lambda: self.lines.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]  # (checked above)
        self.thread.start()

    def wait_for(self, text: str, timeout: float = 180.0) -> None:
        """Until a line containing ``text`` was printed."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in list(self.lines)):
            assert time.monotonic() < deadline, f"never printed {text!r}: {''.join(self.lines)[-2000:]}"
            time.sleep(0.05)

    def text(self) -> str:
        self.thread.join(timeout=60)
        return "".join(self.lines)


PLAN_END = "note: health is invoked through fn:alias"  # the plan's last line: the apply starts next


def serving(target: AwsTarget) -> dict[str, str]:
    lam = target.client("lambda")
    return {f.name: lam.get_alias(FunctionName=f.name, Name=ALIAS)["FunctionVersion"] for f in target.env.functions}


def test_sigint_5_s_into_a_300_function_batch(big, observer, tmp_path: Path) -> None:  # noqa: ANN001
    proc = start(big, tmp_path)
    output = Output(proc)
    output.wait_for(PLAN_END)
    time.sleep(5)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=180)
    err = proc.stderr.read() if proc.stderr else ""
    out = output.text()
    assert proc.returncode == 130, out[-3000:] + err[-3000:]
    now = serving(observer)
    moved = sum(1 for v in now.values() if v == "2")
    verdict = next((line for line in out.splitlines() if line.startswith("INTERRUPTED (SIGINT)")), out[-2000:] + err)
    assert f"{moved} of {FUNCTIONS} moved; {FUNCTIONS - moved} not started" in verdict, verdict
    assert 0 < moved < FUNCTIONS, verdict  # stopped mid-batch
    records = [r for r in read_records(observer.client("dynamodb"), observer.env) if r.action == "rollback"]
    assert [r.status for r in records][:1] == ["FAILED"] and not [r for r in records if r.status == IN_PROGRESS]
    assert {fn: c.final_version for fn, c in records[0].functions.items()} == now
    assert sum(1 for c in records[0].functions.values() if c.outcome == "NOT_STARTED") == FUNCTIONS - moved
    assert sum(1 for line in out.splitlines() if "not started (interrupted)" in line) == FUNCTIONS - moved
    report = next(tmp_path.glob("reports/runs/*/incident-*.md")).read_text()
    assert f"{moved} of {FUNCTIONS} moved; {FUNCTIONS - moved} not started" in report
    assert read_lease(observer.client("dynamodb"), LeaseSettings.of(observer.env).table, observer.env) is None
    table = observer.env.deployments_table
    observer.client("dynamodb").delete_item(TableName=table.name, Key={"deployment_id": {"S": records[0].record_id}})


def test_a_second_sigint_aborts_at_once_and_the_record_ends_failed(big, observer, tmp_path: Path) -> None:  # noqa: ANN001
    proc = start(big, tmp_path)
    output = Output(proc)
    output.wait_for(PLAN_END)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=180)
    err = proc.stderr.read() if proc.stderr else ""
    out = output.text()
    assert proc.returncode == 130, out[-3000:] + err[-3000:]
    assert "harness: interrupted" in err
    records = [r for r in read_records(observer.client("dynamodb"), observer.env) if r.action == "rollback"]
    assert [r.status for r in records][:1] == ["FAILED"] and not [r for r in records if r.status == IN_PROGRESS]
    assert read_lease(observer.client("dynamodb"), LeaseSettings.of(observer.env).table, observer.env) is None
    table = observer.env.deployments_table
    observer.client("dynamodb").delete_item(TableName=table.name, Key={"deployment_id": {"S": records[0].record_id}})
