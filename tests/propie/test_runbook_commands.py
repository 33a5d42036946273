"""The aws CLI and ``--target aws`` against ``harness serve --inventory propie --env production`` (a subprocess):
004's Amplify calls as the CLI makes them, and the harness's commands through the account guard."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import boto3
import jmespath
import pytest

from tests.conftest import REPO, aws_env, serve, stop

RUNBOOK_QUERY = "jobSummaries[?status==`SUCCEED`].jobId | [0]"  # 004 Rollback Amplify Deployment, verbatim
pytestmark = pytest.mark.filterwarnings(
    "ignore:deprecated string literal syntax"
)  # 004's query quotes SUCCEED with backticks
REHEARSAL = {
    "PROPIE_ACCOUNT_ID": "111122223333",
    "PROPIE_AMPLIFY_APP_ID": "d1rehearsal",
}  # propie.toml rehearsal.defaults


# -- harness serve --inventory propie --env production ------------------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, str]]:
    proc, info = serve("production", inventory="propie")
    yield info
    stop(proc)


def aws_cli(served: dict[str, str], *args: str) -> dict:
    """``aws <args> --output json`` against the served rehearsal (dummy credentials, AWS_ENDPOINT_URL)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **aws_env(served["AWS_ENDPOINT_URL"]),
        "AWS_DEFAULT_REGION": served["AWS_DEFAULT_REGION"],
    }
    out = subprocess.run(["aws", *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else {}


def test_target_aws_against_harness_serve(served: dict[str, str], tmp_path) -> None:
    """What the aws CLI calls (a plain boto3 session: no account header, dummy keys), then the harness's own
    commands with --target aws: the account guard passes, the approval guard refuses, plans are printed (dry runs:
    builds and domain updates take real minutes on a served rehearsal; the stack's previous template comes from
    004's backup file, as on AWS, which keeps no template history)."""
    session = boto3.Session(
        aws_access_key_id="dummy", aws_secret_access_key="dummy", region_name=served["AWS_DEFAULT_REGION"]
    )
    amplify = session.client("amplify", endpoint_url=served["AWS_ENDPOINT_URL"])
    app = REHEARSAL["PROPIE_AMPLIFY_APP_ID"]
    assert amplify.get_app(appId=app)["app"]["appId"] == app
    assert jmespath.search(RUNBOOK_QUERY, amplify.list_jobs(appId=app, branchName="production", maxResults=10))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_", "PYTEST_"))},
        **aws_env(served["AWS_ENDPOINT_URL"]),
        "AWS_DEFAULT_REGION": served["AWS_DEFAULT_REGION"],
        **REHEARSAL,
    }

    def harness(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "harness.cli", *args, "--env", "production", "--target", "aws"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    signed = ("--approved-by", "DevOps Lead", "--reason", "test")
    refused = harness("amplify-switch-back")
    assert refused.returncode == 3 and "prod-rollback needs 1 distinct approver (" in refused.stdout, (
        refused.stdout + refused.stderr
    )
    kept = harness("amplify-switch-back", *signed)
    assert kept.returncode == 3 and "needs --allow-mutation" in kept.stdout, kept.stdout + kept.stderr
    redeploy = harness("amplify-redeploy", *signed, "--allow-mutation", "--dry-run")
    assert redeploy.returncode == 0 and "dry run: nothing changed" in redeploy.stdout, redeploy.stdout + redeploy.stderr
    assert "create amplify:d1rehearsal:branch/production serving build" in redeploy.stdout
    (tmp_path / "appsync-previous.yml").write_text(
        "Description: previous\nResources:\n  T:\n    Type: AWS::SNS::Topic\n"
    )
    with_files = harness(
        "stack-rollback",
        *signed,
        "--allow-mutation",
        "--dry-run",
        "--template-file",
        str(tmp_path / "appsync-previous.yml"),
    )
    assert with_files.returncode == 0 and "update-stack with the previous template" in with_files.stdout, (
        with_files.stdout + with_files.stderr
    )
    assert "seed defect 6" in with_files.stdout


@pytest.mark.skipif(
    shutil.which("aws") is None, reason="the aws CLI is not on PATH (pip install awscli in a separate venv to run this)"
)
def test_the_aws_cli_runs_004s_amplify_commands_against_harness_serve(served: dict[str, str]) -> None:
    app, domain = REHEARSAL["PROPIE_AMPLIFY_APP_ID"], "prop-ie-app.com"
    assert aws_cli(served, "amplify", "get-app", "--app-id", app)["app"]["appId"] == app
    jobs = aws_cli(
        served,
        "amplify",
        "list-jobs",
        "--app-id",
        app,
        "--branch-name",
        "production",
        "--max-results",
        "10",
        "--query",
        RUNBOOK_QUERY,
    )
    assert (
        jobs
        == aws_cli(served, "amplify", "get-branch", "--app-id", app, "--branch-name", "production")["branch"][
            "activeJobId"
        ]
    )
    moved = aws_cli(
        served,
        "amplify",
        "update-domain-association",
        "--app-id",
        app,
        "--domain-name",
        domain,
        "--sub-domain-settings",
        "prefix=,branchName=green",
    )
    assert [s["subDomainSetting"] for s in moved["domainAssociation"]["subDomains"]] == [
        {"prefix": "", "branchName": "green"}
    ]
    got = aws_cli(served, "amplify", "get-domain-association", "--app-id", app, "--domain-name", domain)
    assert got["domainAssociation"]["domainStatus"] == "UPDATING"
