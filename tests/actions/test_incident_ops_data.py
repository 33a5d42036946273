"""One operator at a time for the data commands, against ``harness serve --env sit`` from two working folders
(two ``harness`` processes, as two on-call engineers would run them): two concurrent ``restore-table`` runs of
one table, the second refused naming the holder, or with ``--lock-timeout`` waiting and then planning from the
state the first left. A refused run changes nothing (the account's tables and their items are as before)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator

import jsonschema
import pytest

from harness.cli.output import SCHEMA
from harness.targets.aws import AwsTarget
from tests.actions.conftest import observing
from tests.actions.test_incident_ops import harness_proc, lease_of, wait_for_lease
from tests.conftest import passing_restores

TABLE, RECOVERY = "tenants-sit", "tenants-sit-recovery"
RESTORE = ("restore-table", "--env", "sit", "--target", "aws", "--table", TABLE, "--latest", "--name", RECOVERY)
MUTATE = ("--allow-mutation", "--reason", "INC-7")


@pytest.fixture
def observer(served: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsTarget]:
    """An ordinary AWS client view of the served SIT; afterwards the tables a test created are dropped."""
    target = observing(served, monkeypatch)
    seeded = set(target.client("dynamodb").list_tables()["TableNames"])
    yield target
    ddb = target.client("dynamodb")
    for name in set(ddb.list_tables()["TableNames"]) - seeded:
        ddb.delete_table(TableName=name)
    target.close()


def account_state(target: AwsTarget) -> dict[str, list]:
    """Every table of the account with its items (sorted): what a refused run must leave as it found. The lease
    item is left out: a waiting run may take the released lease between two reads (lease_of checks it)."""
    ddb = target.client("dynamodb")
    return {
        name: sorted(
            json.dumps(i, sort_keys=True)
            for i in ddb.scan(TableName=name, ConsistentRead=True)["Items"]
            if "lease_started" not in i
        )
        for name in sorted(ddb.list_tables()["TableNames"])
    }


def test_two_concurrent_restores_of_one_table_one_acts_the_other_is_refused(served, observer, tmp_path) -> None:
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    with passing_restores(served):
        first = harness_proc(served, tmp_path / "a", *RESTORE, *MUTATE, "--actor", "alice")
        held = wait_for_lease(observer, first)
        os.kill(first.pid, signal.SIGSTOP)  # hold it mid-operation while the second operator tries
        try:
            before = account_state(observer)
            second = harness_proc(served, tmp_path / "b", *RESTORE, *MUTATE, "--actor", "bob")
            out, err = second.communicate(timeout=120)
            after = account_state(observer)
        finally:
            os.kill(first.pid, signal.SIGCONT)
        first_out, first_err = first.communicate(timeout=180)
    assert second.returncode == 5, out + err
    assert f"lease {held.lease_id} on bbws/sit" in err and "held by alice@" in err and f"(pid {first.pid})" in err
    assert f"`harness restore-table (table {TABLE})`" in err and " s old" in err and "nothing changed" in err, err
    assert "plan: " not in out and after == before  # refused before planning; nothing changed
    assert first.returncode == 0, first_out + first_err
    assert "COMPLETE: pitr-restore" in first_out, first_out
    tables = observer.client("dynamodb").list_tables()["TableNames"]
    assert tables.count(RECOVERY) == 1 and lease_of(observer) is None


def test_restore_with_lock_timeout_waits_then_plans_from_the_new_state(served, observer, tmp_path) -> None:
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    with passing_restores(served):
        first = harness_proc(served, tmp_path / "a", *RESTORE, *MUTATE, "--actor", "alice")
        wait_for_lease(observer, first)
        os.kill(first.pid, signal.SIGSTOP)
        try:
            second = harness_proc(served, tmp_path / "b", *RESTORE, *MUTATE, "--actor", "bob", "--lock-timeout", "180s")
            assert second.stdout is not None
            line = second.stdout.readline()
            assert line.startswith("waiting up to 180 s for lease") and "held by alice@" in line, line
            assert RECOVERY not in observer.client("dynamodb").list_tables()["TableNames"]
        finally:
            os.kill(first.pid, signal.SIGCONT)
        assert first.wait(timeout=180) == 0
        done = account_state(observer)
        out, err = second.communicate(timeout=180)
    # the second plans only after the first released the lease: from the state it left, where the recovery
    # table exists, so its fresh plan refuses (a restore never writes over a table, 000 §6.4) and acts on nothing
    assert "planning from the current state" in out, out + err
    fresh = out[out.index("planning from the current state") :]
    assert "plan: pitr-restore" in fresh and f"REFUSED: table {RECOVERY} already exists" in fresh, out
    assert second.returncode == 3, out + err
    assert account_state(observer) == done and lease_of(observer) is None


def test_copy_back_json_applied_validates_against_the_schema(served, observer, tmp_path) -> None:
    """copy-back applied with ``--output json``: the document on stdout, the human lines on stderr."""
    (tmp_path / "a").mkdir()
    with passing_restores(served):
        restore = harness_proc(served, tmp_path / "a", *RESTORE, *MUTATE)
        assert restore.wait(timeout=180) == 0, restore.communicate()
    proc = harness_proc(
        served,
        tmp_path / "a",
        *("copy-back", "--env", "sit", "--target", "aws", "--table", TABLE, "--from", RECOVERY),
        *(*MUTATE, "--allow-shrink", "--output", "json"),
    )
    out, err = proc.communicate(timeout=180)
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    assert proc.returncode == 0 and doc["exit_status"] == 0 and doc["outcome"] == "COMPLETE", (doc, err)
    assert doc["command"] == "copy-back" and doc["plan"]["action"] == "copy-back" and doc["record_id"], doc
    assert "COMPLETE: copy-back" in err and "plan: copy-back" in err
    state = account_state(observer)
    assert state[TABLE] == state[RECOVERY]  # the original now holds what the restored table holds
    assert [i["item"] for i in doc["items"]] and all(i["outcome"] == "COMPLETE" for i in doc["items"]), doc["items"]


def test_ctrl_c_while_a_restore_is_creating_releases_the_lease_and_records_the_truth(served, observer, tmp_path):
    from harness.records import read_records

    (tmp_path / "a").mkdir()
    proc = harness_proc(served, tmp_path / "a", *RESTORE, *MUTATE, "--actor", "alice")
    wait_for_lease(observer, proc)
    ddb = observer.client("dynamodb")
    deadline = time.monotonic() + 60
    while RECOVERY not in ddb.list_tables()["TableNames"] and time.monotonic() < deadline:
        time.sleep(0.05)  # the restore was started: the process now waits for ACTIVE (20 s between polls)
    assert ddb.describe_table(TableName=RECOVERY)["Table"]["TableStatus"] == "CREATING"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err, out + err
    assert lease_of(observer) is None  # released on the way out
    record = next(r for r in read_records(ddb, observer.env) if r.action == "pitr-restore" and r.actor == "alice")
    assert record.status == "FAILED" and record.extra.get("restored_table") == RECOVERY  # never IN_PROGRESS
    assert RECOVERY in ddb.list_tables()["TableNames"]  # a restore once started goes on in the account: the truth
