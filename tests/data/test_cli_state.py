"""The state and table commands end to end against ``harness serve`` in another process, with ``--target aws``
(a kept target: the plan is printed first and nothing changes without --allow-mutation).

Most commands run through ``harness.cli.main`` in this process (the served rehearsal is the other process);
two run as the ``harness`` program itself, so the entry point and its exit statuses are covered too.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from tests.conftest import REPO, aws_env, passing_restores, serve, stop

pytestmark = pytest.mark.xdist_group("data-cli")
BUCKET, LOCKS = "bbws-terraform-state-sit", "bbws-terraform-locks-sit"


@pytest.fixture(scope="module")
def served():
    """``harness serve --env sit`` for this module: its process environment, and boto3 clients on it."""
    proc, info = serve("sit")
    env = aws_env(info["AWS_ENDPOINT_URL"])
    session = boto3.Session(
        aws_access_key_id="dummy", aws_secret_access_key="dummy", region_name=info["AWS_DEFAULT_REGION"]
    )
    clients = lambda service: session.client(service, endpoint_url=info["AWS_ENDPOINT_URL"])  # noqa: E731 (a factory)
    clients.printed = info  # type: ignore[attr-defined] (the rehearsal clock's endpoint and region)
    yield env, clients
    stop(proc)


def program(served, *args: str) -> subprocess.CompletedProcess:
    """The ``harness`` program itself in a subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_"))} | served[0]
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args, "--env", "sit", "--target", "aws"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _state(client, key: str) -> tuple[int, bytes, str]:
    versions = [v for v in client("s3").list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"] if v["Key"] == key]
    body = client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    digest = client("dynamodb").get_item(TableName=LOCKS, Key={"LockID": {"S": f"{BUCKET}/{key}-md5"}})["Item"][
        "Digest"
    ]["S"]
    return len(versions), body, digest


def test_state_restore_needs_allow_mutation_and_fixes_the_digest(served, harness) -> None:
    """state-versions lists; state-restore prints the plan and stops without --allow-mutation; with it, Digest = md5."""
    _, client = served
    key = "tenants/tenant-001/terraform.tfstate"
    code, out, _ = harness("state-versions", "--key", key)
    assert code == 0 and "3 version(s)" in out and "(matches)" in out, out
    before = _state(client, key)
    held = program(served, "state-restore", "--key", key, "--previous")
    assert (
        held.returncode == 3
        and held.stdout.startswith("plan: state-restore")
        and "needs --allow-mutation" in held.stdout
    ), held.stdout + held.stderr
    assert "Digest" in held.stdout and _state(client, key) == before
    code, out, err = harness("state-restore", "--key", key, "--previous", "--allow-mutation", "--reason", "cli test")
    assert code == 0 and "COMPLETE: state-restore" in out, out + err
    count, body, digest = _state(client, key)
    assert count == before[0] + 1 and digest == hashlib.md5(body).hexdigest() != before[2]


def test_state_unlock_is_refused_without_force(served, harness) -> None:
    """state-locks shows the stuck lock's owner and age; state-unlock without --force is one REFUSED line; with it,
    released."""
    _, client = served
    key = "tenants/tenant-002/terraform.tfstate"
    created = (datetime.now(timezone.utc) - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S.000000000Z")
    info = json.dumps(
        {
            "ID": "stuck-1",
            "Operation": "OperationTypeApply",
            "Who": "bob@ci",
            "Version": "1.15.5",
            "Created": created,
            "Path": f"{BUCKET}/{key}",
            "Info": "",
        }
    )
    lock_key = {"LockID": {"S": f"{BUCKET}/{key}"}}
    client("dynamodb").put_item(TableName=LOCKS, Item={**lock_key, "Info": {"S": info}})
    code, out, _ = harness("state-locks")
    assert code == 0 and re.search(r"stuck-1 by bob@ci \(OperationTypeApply\), 18\d min old — STUCK", out), out
    refused = program(
        served, "state-unlock", "--key", key, "--lock-id", "stuck-1", "--allow-mutation", "--reason", "crashed runner"
    )
    assert (
        refused.returncode == 3
        and "REFUSED:" in refused.stdout
        and "--force" in refused.stdout
        and "Traceback" not in refused.stderr
    )
    assert client("dynamodb").get_item(TableName=LOCKS, Key=lock_key).get("Item")
    code, out, err = harness(
        "state-unlock",
        "--key",
        key,
        "--lock-id",
        "stuck-1",
        "--force",
        "--allow-mutation",
        "--reason",
        "crashed runner",
    )
    assert code == 0 and "COMPLETE: state-unlock" in out, out + err
    assert not client("dynamodb").get_item(TableName=LOCKS, Key=lock_key).get("Item")


def test_restore_verify_and_drop_a_table(served, harness) -> None:
    """restore-table (progress on stderr), verify-table against the source, drop-table; a refusal is one line, exit
    3."""
    _, client = served
    code, out, _ = harness("restore-table", "--table", "Site-Generation-State", "--latest", "--allow-mutation")
    assert code == 3 and "REFUSED: Site-Generation-State: PITR DISABLED" in out
    with passing_restores(client.printed):
        code, out, err = harness(
            "restore-table", "--table", "users-sit", "--latest", "--allow-mutation", "--reason", "cli test"
        )
    assert code == 0 and "ACTIVE" in err, out + err
    name = re.search(r"into (users-sit-restored-\d{14})", out).group(1)
    items = client("dynamodb").scan(TableName=name, Select="COUNT")["Count"]
    code, out, _ = harness("verify-table", "--table", name, "--against", "users-sit")
    assert code == (0 if items == 5 else 1) and f"vs dynamodb:users-sit: {items} vs 5 items" in out, out
    code, out, _ = harness("drop-table", "--table", name, "--allow-mutation")
    assert code == 0 and name not in client("dynamodb").list_tables()["TableNames"]
