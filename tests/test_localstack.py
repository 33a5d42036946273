"""LocalStack target: compose file valid (offline), endpoints and per-env accounts from settings."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.inventory import load_inventory
from harness.targets import make_target
from harness.targets.localstack import NOT_REHEARSABLE
from tests.conftest import REPO


def test_compose_file_is_valid_compose_spec() -> None:
    # check-jsonschema is in the test extra; its compose-spec schema is vendored (works offline).
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(REPO / "docker-compose.localstack.yml"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_compose_file_starts_the_services_the_harness_uses() -> None:
    import yaml

    doc = yaml.safe_load((REPO / "docker-compose.localstack.yml").read_text())
    services = set(doc["services"]["localstack"]["environment"]["SERVICES"].split(","))
    assert {"sts", "lambda", "dynamodb", "s3", "ssm", "cloudwatch", "logs", "ecs"} <= services
    assert "127.0.0.1:4566:4566" in doc["services"]["localstack"]["ports"]


def test_localstack_target_uses_settings_and_account_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    env = load_inventory("bbws").environment("sit")
    target = make_target("localstack", env)
    client = target.client("lambda")
    assert client.meta.endpoint_url == "http://localhost:4566"
    assert target.session.get_credentials().access_key == env.account, (
        "LocalStack maps a 12-digit key id to the account"
    )
    assert "not a real account" in target.describe()
    assert set(NOT_REHEARSABLE) >= {"pitr-restore", "ecs"}
