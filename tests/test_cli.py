"""`harness serve`: first line AWS_ENDPOINT_URL, the env's account for any client, clean stop on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys

import boto3

from tests.conftest import REPO


def test_serve_prints_endpoint_first_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "serve", "--env", "sit"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline().strip()
        assert first.startswith("AWS_ENDPOINT_URL=http://127.0.0.1:"), first + proc.stderr.read()
        assert proc.stdout.readline().strip() == "AWS_ACCOUNT_ID=815856636111"
        assert proc.stdout.readline().strip() == "AWS_DEFAULT_REGION=af-south-1"
        endpoint = first.split("=", 1)[1]
        session = boto3.Session(aws_access_key_id="any", aws_secret_access_key="any", region_name="af-south-1")
        assert session.client("sts", endpoint_url=endpoint).get_caller_identity()["Account"] == "815856636111"
        tables = session.client("dynamodb", endpoint_url=endpoint).list_tables()["TableNames"]
        assert "tenants-sit" in tables
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "# stopped" in out and "Traceback" not in err


def test_serve_unknown_env_is_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "serve", "--env", "qa"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("harness: ") and "valid: dev, sit, prod" in proc.stderr
    assert "Traceback" not in proc.stderr
