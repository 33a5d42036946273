"""The empty-restore sequence as a user met it, against ``harness serve --env sit`` with ``--target aws``:
``restore-table --latest`` right after the table was filled restores an EMPTY table; ``switch-table`` and
``copy-back`` from it each print a one-line refusal and exit 3, and the live table is untouched (count and
items); with ``--allow-shrink`` copy-back runs, and its output and the audit record name the backup."""

from __future__ import annotations

import re

import boto3
import pytest

from tests.conftest import aws_env, passing_restores, serve, stop

pytestmark = pytest.mark.xdist_group("data-cli-shrink")
TABLE = "tenants-sit"
MUTATE = ("--allow-mutation", "--reason", "cli shrink test")


@pytest.fixture(scope="module")
def served():
    """A fresh ``harness serve --env sit``: its tables were filled a moment ago."""
    proc, info = serve("sit")
    session = boto3.Session(
        aws_access_key_id="dummy", aws_secret_access_key="dummy", region_name=info["AWS_DEFAULT_REGION"]
    )
    yield (
        aws_env(info["AWS_ENDPOINT_URL"]),
        lambda service: session.client(service, endpoint_url=info["AWS_ENDPOINT_URL"]),
        info,
    )
    stop(proc)


def _items(client) -> list[dict]:
    items = client("dynamodb").scan(TableName=TABLE, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda i: str(i["id"]))


def test_the_empty_restore_is_refused_then_copied_only_with_consent(served, harness) -> None:
    _, client, _ = served
    live = _items(client)
    assert live, "the seeded tenants-sit has items"
    with passing_restores(served[2]):
        code, out, err = harness("restore-table", "--table", TABLE, "--latest", *MUTATE)
    assert code == 0, out + err
    name = re.search(rf"into ({TABLE}-restored-\d{{14}})", out).group(1)
    assert f"0 items restored, {len(live)} in {TABLE} when planned" in out and "EMPTY" in out, out
    assert "restore " in err  # progress on stderr while it was CREATING / on the way to ACTIVE

    code, out, err = harness("switch-table", "--table", TABLE, "--to", name, *MUTATE)
    refusals = [line for line in out.splitlines() if line.startswith("REFUSED")]
    assert code == 3 and len(refusals) == 1 and "--allow-shrink" in refusals[0], out + err
    assert f"{name} is EMPTY while {TABLE} has {len(live)} items" in refusals[0]
    code, out, err = harness("copy-back", "--table", TABLE, "--from", name, *MUTATE)
    refusals = [line for line in out.splitlines() if line.startswith("REFUSED")]
    assert code == 3 and len(refusals) == 1 and f"would delete {len(live)} and put 0" in refusals[0], out + err
    assert _items(client) == live and not client("dynamodb").list_backups(TableName=TABLE)["BackupSummaries"]

    code, out, err = harness("copy-back", "--table", TABLE, "--from", name, "--allow-shrink", *MUTATE)
    assert code == 0 and f"(0 put, {len(live)} deleted)" in out, out + err
    assert f"0 put from {name}" in out and f"{len(live)} deleted: id=" in out  # the plan's counts, before the change
    (backup,) = client("dynamodb").list_backups(TableName=TABLE)["BackupSummaries"]
    assert backup["BackupArn"] in out and "restore-table-from-backup" in out
    assert _items(client) == []
    assert "copy-back: waiting" in err and f"0 put, {len(live)} deleted on {TABLE}" in err  # progress on stderr
    assert "copy-back:" not in out.replace("plan: copy-back", "").replace("COMPLETE: copy-back", "")
