"""Safety rule 1: with --target aws, STS caller identity must be the env's account before any other call."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from harness.errors import AccountMismatch
from harness.inventory import load_inventory
from harness.targets.aws import AwsTarget
from harness.targets.embedded import EmbeddedTarget
from tests.conftest import aws_env, run_pytest


class RequestLog:
    """WSGI middleware recording the AWS service of every request the emulator receives."""

    def __init__(self) -> None:
        self.services: list[str] = []
        self.lock = threading.Lock()

    def wrap(self, app):
        def middleware(environ, start_response):
            auth = environ.get("HTTP_AUTHORIZATION", "")
            # Credential=<key>/<date>/<region>/<service>/aws4_request
            scope = auth.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
            with self.lock:
                self.services.append(scope[3] if len(scope) > 3 else "?")
            return app(environ, start_response)

        return middleware


@pytest.fixture(scope="module")
def sit_server() -> Iterator[tuple[EmbeddedTarget, RequestLog]]:
    """A seeded SIT rehearsal whose default account is SIT's (what `harness serve --env sit` runs)."""
    target = EmbeddedTarget(load_inventory("bbws").environment("sit"))
    log = RequestLog()
    target.server.middlewares.append(log.wrap)
    target.start()
    yield target, log
    target.close()


def test_matching_account_proceeds(sit_server, monkeypatch: pytest.MonkeyPatch) -> None:
    target, _ = sit_server
    for key, value in aws_env(target.server.url).items():
        monkeypatch.setenv(key, value)
    aws = AwsTarget(load_inventory("bbws").environment("sit")).start()
    assert aws.verified_account == "815856636111"
    assert aws.client("lambda").get_alias(FunctionName="bbws-tenant-instance-management-sit", Name="latest-sit")


def test_other_account_stops_before_any_other_call(sit_server, monkeypatch: pytest.MonkeyPatch) -> None:
    target, _ = sit_server
    for key, value in aws_env(target.server.url).items():
        monkeypatch.setenv(key, value)
    prod = AwsTarget(load_inventory("bbws").environment("prod"))
    calls: list[str] = []
    prod.add_call_listener(lambda service, op, params: calls.append(f"{service}:{op}"))
    with pytest.raises(AccountMismatch) as info:
        prod.start()
    assert "815856636111" in str(info.value) and "093646564004" in str(info.value)
    assert calls == ["sts:GetCallerIdentity"]


def test_pytest_session_for_prod_stops_with_one_line_and_no_other_call(sit_server, tmp_path) -> None:
    target, log = sit_server
    before = len(log.services)
    proc = run_pytest(
        "scenarios/", "--env", "prod", "--target", "aws", "--reports-dir", str(tmp_path), env=aws_env(target.server.url)
    )
    assert proc.returncode != 0
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and "815856636111" in errors[0] and "093646564004" in errors[0], proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert set(log.services[before:]) == {"sts"}, log.services[before:]


def test_pytest_session_for_sit_passes_the_guard_and_runs(sit_server, tmp_path) -> None:
    target, _ = sit_server
    proc = run_pytest(
        "scenarios/test_smoke.py",
        "--env",
        "sit",
        "--target",
        "aws",
        "--reports-dir",
        str(tmp_path),
        env=aws_env(target.server.url),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "target=aws via AWS_ENDPOINT_URL=" in proc.stdout and " passed" in proc.stdout
