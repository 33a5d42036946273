"""Ctrl-C partway into a ``harness copy-back`` of 500 items against ``harness serve`` tells the truth: exit 130,
the record's counts equal what a scan of the table shows, no IN_PROGRESS record, the writers unfrozen, the
lease released, the report INTERRUPTED with the counts. A second Ctrl-C aborts at once and the record still
ends FAILED.

To stop the copy partway on a machine fast enough to copy 500 items in a fraction of a second, the test
pauses the served account (SIGSTOP) once the first items landed, signals the command, then resumes it: the
BatchWriteItem in flight finishes, and no new one may start."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.inventory import load_inventory
from harness.records import IN_PROGRESS, read_records
from harness.targets.aws import AwsTarget
from tests.actions.test_incident_ops import harness_proc, lease_of
from tests.conftest import aws_env, serve, stop

TABLE, SOURCE, ITEMS = "tenants-sit", "tenants-sit-bulk", 500
COPY = ("copy-back", "--env", "sit", "--target", "aws", "--table", TABLE, "--from", SOURCE, "--allow-shrink")
MUTATE = ("--allow-mutation", "--reason", "INC-9", "--actor", "carol")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[subprocess.Popen, dict[str, str]]]:
    """A seeded SIT of its own (the copy changes tenants-sit) and the serving process (paused by the test)."""
    proc, info = serve("sit")
    yield proc, info
    stop(proc)


@pytest.fixture
def observer(served, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsTarget]:  # noqa: ANN001 (fixture)
    """The served SIT through an ordinary client, with a 500-item source table and the table's writers' timeouts at
    1 s (the copy waits out the longest one on the wall clock); afterwards tenants-sit holds its seeded items again."""
    for key, value in aws_env(served[1]["AWS_ENDPOINT_URL"]).items():
        monkeypatch.setenv(key, value)
    target = AwsTarget(load_inventory("bbws").environment("sit")).start()
    ddb, lam = target.client("dynamodb"), target.client("lambda")
    writers = target.env.table(TABLE).functions
    timeouts = {fn: lam.get_function_configuration(FunctionName=fn)["Timeout"] for fn in writers}
    for fn in writers:
        lam.update_function_configuration(FunctionName=fn, Timeout=1)
    seeded = ddb.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    ddb.create_table(
        TableName=SOURCE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    rows = [{"id": {"S": f"bulk-{i:04d}"}, "name": {"S": f"tenant {i}"}} for i in range(ITEMS)]
    for i in range(0, ITEMS, 25):
        ddb.batch_write_item(RequestItems={SOURCE: [{"PutRequest": {"Item": r}} for r in rows[i : i + 25]]})
    yield target
    ddb.delete_table(TableName=SOURCE)
    for item in ddb.scan(TableName=TABLE, ConsistentRead=True)["Items"]:
        ddb.delete_item(TableName=TABLE, Key={"id": item["id"]})
    for item in seeded:
        ddb.put_item(TableName=TABLE, Item=item)
    for fn, seconds in timeouts.items():
        lam.update_function_configuration(FunctionName=fn, Timeout=seconds)
    target.close()


class Lines:
    """A pipe read by a thread, so the test can wait for a line while the command runs."""

    def __init__(self, pipe) -> None:  # noqa: ANN001 (a text pipe)
        self.lines: list[str] = []
        self.thread = threading.Thread(target=lambda: self.lines.extend(pipe), daemon=True)
        self.thread.start()

    def text(self) -> str:
        self.thread.join(timeout=60)
        return "".join(self.lines)


def table_ids(target: AwsTarget) -> set[str]:
    """The ids in tenants-sit now (a consistent scan)."""
    ddb = target.client("dynamodb")
    return {
        i["id"]["S"]
        for page in ddb.get_paginator("scan").paginate(TableName=TABLE, ConsistentRead=True)
        for i in page["Items"]
    }


def interrupt_partway(served, target: AwsTarget, proc: subprocess.Popen, signals: int) -> None:  # noqa: ANN001
    """Once some bulk items landed: pause the account, send ``signals`` SIGINTs, resume it."""
    ddb = target.client("dynamodb")
    deadline = time.monotonic() + 120
    while ddb.scan(TableName=TABLE, Select="COUNT", ConsistentRead=True)["Count"] <= 5:
        assert proc.poll() is None and time.monotonic() < deadline, "the copy never started"
        time.sleep(0.005)
    os.kill(served[0].pid, signal.SIGSTOP)  # the BatchWriteItem in flight (if any) waits on the account
    try:
        for _ in range(signals):
            proc.send_signal(signal.SIGINT)
            time.sleep(0.3)
    finally:
        os.kill(served[0].pid, signal.SIGCONT)


def copy_records(target: AwsTarget) -> list:
    return [r for r in read_records(target.client("dynamodb"), target.env) if r.action == "copy-back"]


def test_sigint_partway_into_a_copy_back_records_and_reports_what_a_scan_shows(served, observer, tmp_path) -> None:
    lam = observer.client("lambda")
    writers = observer.env.table(TABLE).functions
    before = {fn: lam.get_function_concurrency(FunctionName=fn).get("ReservedConcurrentExecutions") for fn in writers}
    proc = harness_proc(served[1], tmp_path, *COPY, *MUTATE)
    out_lines = Lines(proc.stdout)
    interrupt_partway(served, observer, proc, signals=1)
    proc.wait(timeout=120)
    out, err = out_lines.text(), proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == 130, out[-3000:] + err[-3000:]
    ids = table_ids(observer)
    put, kept = sum(1 for i in ids if i.startswith("bulk-")), sum(1 for i in ids if not i.startswith("bulk-"))
    assert 0 < put < ITEMS, (put, out[-2000:])  # stopped partway
    counts = f"{put} of {ITEMS} put; {5 - kept} of 5 deleted; {ITEMS - put + kept} not started"
    verdict = next((line for line in out.splitlines() if line.startswith("INTERRUPTED (SIGINT)")), out[-2000:])
    assert counts in verdict and "record copy-back-" in verdict and "FAILED" in verdict, verdict
    records = copy_records(observer)
    assert records and records[0].status == "FAILED" and not [r for r in records if r.status == IN_PROGRESS]
    extra = records[0].extra
    assert (int(extra["items_put"]), int(extra["items_deleted"]), int(extra["items_not_started"])) == (
        put,
        5 - kept,
        ITEMS - put + kept,
    ), extra
    assert extra["interrupted"] == "SIGINT" and counts in extra["summary"]
    assert lease_of(observer) is None
    assert {
        fn: lam.get_function_concurrency(FunctionName=fn).get("ReservedConcurrentExecutions") for fn in writers
    } == (before)  # the writers were unfrozen on the way out
    report = next(tmp_path.glob("reports/runs/*/copy-back-bbws-sit-*.md"))
    text = report.read_text()
    assert text.startswith("# harness copy-back") and "INTERRUPTED" in text.splitlines()[0], text[:300]
    assert counts in text and "REHEARSAL" not in report.name  # the aws target is not labelled a rehearsal


def test_a_second_sigint_aborts_the_copy_at_once_and_the_record_ends_failed(served, observer, tmp_path) -> None:
    proc = harness_proc(served[1], tmp_path, *COPY, *MUTATE)
    out_lines = Lines(proc.stdout)
    interrupt_partway(served, observer, proc, signals=2)
    proc.wait(timeout=120)
    out, err = out_lines.text(), proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == 130 and "harness: interrupted" in err, out[-3000:] + err[-3000:]
    assert not any(line.startswith("INTERRUPTED (SIGINT)") for line in out.splitlines())  # no read-back: aborted
    records = copy_records(observer)
    assert records and records[0].status == "FAILED" and not [r for r in records if r.status == IN_PROGRESS]
    assert lease_of(observer) is None
    report = next(Path(tmp_path).glob("reports/runs/*/copy-back-bbws-sit-*.md")).read_text()
    assert "INTERRUPTED (aborted)" in report.splitlines()[0] and "ends FAILED" in report, report[:500]
