"""Incident-grade operations against ``harness serve``: one operator at a time (the lease), the truth after
Ctrl-C, evidence before change, a canary rolled back to its primary, a stale RevisionId refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.actions import Authority
from harness.actions import lambda_versions as lv
from harness.actions.rollback import RollbackTo, apply_rollback, plan_rollback, plan_rollback_all, rollback_all
from harness.lease import LeaseSettings, read_lease
from harness.records import IN_PROGRESS, read_records
from harness.targets.aws import AwsTarget
from tests.actions.conftest import observing
from tests.conftest import REPO, aws_env

FN = "bbws-tenant-instance-management-sit"
ALIAS = "latest-sit"
WHO = Authority(allow_mutation=True, reason="test", actor="tester")


@pytest.fixture
def observer(served: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsTarget]:
    """An ordinary AWS client view of the served SIT; afterwards every alias is back on 3 with no routing."""
    target = observing(served, monkeypatch)
    yield target
    lam = target.client("lambda")
    for f in target.env.functions:
        lam.update_alias(
            FunctionName=f.name, Name=ALIAS, FunctionVersion="3", RoutingConfig={"AdditionalVersionWeights": {}}
        )
    target.close()


def serving(target: AwsTarget) -> dict[str, str]:
    """Every function's alias version, as GetAlias says."""
    lam = target.client("lambda")
    return {f.name: lam.get_alias(FunctionName=f.name, Name=ALIAS)["FunctionVersion"] for f in target.env.functions}


def lease_of(target: AwsTarget):  # noqa: ANN201 (a Holder or None)
    """The environment's lease as stored."""
    return read_lease(target.client("dynamodb"), LeaseSettings.of(target.env).table, target.env)


def harness_proc(served: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen:
    """``harness <args>`` in a fresh interpreter from ``cwd`` (an operator's own working folder)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_", "PYTEST_"))}
    env.update(aws_env(served["AWS_ENDPOINT_URL"]), PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


ROLLBACK_ALL = ("rollback", "--env", "sit", "--target", "aws", "--all", "--allow-mutation", "--reason", "5xx")


def wait_for_lease(target: AwsTarget, proc: subprocess.Popen, timeout: float = 60.0):  # noqa: ANN201 (Holder)
    """Poll until ``proc`` holds the lease (it takes it before planning)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        held = lease_of(target)
        if held is not None and held.pid == proc.pid:
            return held
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("the first operator never took the lease")


def test_two_concurrent_rollbacks_one_acts_the_other_is_refused_naming_the_holder(served, observer, tmp_path) -> None:
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = harness_proc(served, tmp_path / "a", *ROLLBACK_ALL, "--actor", "alice")
    held = wait_for_lease(observer, first)
    os.kill(first.pid, signal.SIGSTOP)  # hold it mid-operation while the second operator tries
    try:
        second = harness_proc(served, tmp_path / "b", *ROLLBACK_ALL, "--actor", "bob")
        out, err = second.communicate(timeout=120)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    first_out, first_err = first.communicate(timeout=120)
    assert second.returncode == 5, out + err
    assert "held by alice@" in err and f"(pid {first.pid})" in err and "harness rollback all services" in err, err
    assert " s old" in err and "nothing changed" in err
    assert first.returncode == 0, first_out + first_err
    assert "COMPLETE: rollback-all bbws/sit — 7 rolled back" in first_out
    assert set(serving(observer).values()) == {"2"}  # every alias exactly one release back (3 -> 2)
    assert lease_of(observer) is None and held.command.startswith("harness rollback")
    assert not list((tmp_path / "b").glob("reports/runs/*/*.md"))  # the refused run leaves no empty report
    assert len(list((tmp_path / "a").glob("reports/runs/*/*-REHEARSAL-*.md"))) == 0  # aws target: not a rehearsal


def waited_behind_alice(
    served: dict[str, str], observer: AwsTarget, tmp_path: Path, *rule: str
) -> tuple[str, str, subprocess.Popen]:
    """alice's ``rollback --all RULE`` takes the lease and is paused; bob's, with ``--lock-timeout 90s``, says it
    waits for her; alice resumes and finishes; bob's (stdout, stderr, process) once he has finished too."""
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = harness_proc(served, tmp_path / "a", *ROLLBACK_ALL, *rule, "--actor", "alice")
    wait_for_lease(observer, first)
    os.kill(first.pid, signal.SIGSTOP)
    try:
        second = harness_proc(served, tmp_path / "b", *ROLLBACK_ALL, *rule, "--actor", "bob", "--lock-timeout", "90s")
        assert second.stdout is not None
        line = second.stdout.readline()
        assert line.startswith("waiting up to 90 s for lease") and "held by alice@" in line, line
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert first.wait(timeout=120) == 0
    out, err = second.communicate(timeout=120)
    return out, err, second


def test_lock_timeout_waits_then_plans_from_the_new_state(served, observer, tmp_path) -> None:
    out, err, second = waited_behind_alice(served, observer, tmp_path, "--to-version", "2")
    assert second.returncode == 0, out + err
    assert "planning from the current state" in out
    plan = out[out.index("planning from the current state") :]
    assert f"{FN}: skipped: alias latest-sit already serves version 2" in plan  # a fresh plan, not the stale one
    assert set(serving(observer).values()) == {"2"} and lease_of(observer) is None


def test_the_default_rule_after_waiting_behind_another_rollback_is_refused(served, observer, tmp_path) -> None:
    """Two operators roll back the same bad release with the default rule; the second waits (--lock-timeout). The
    first moves every alias 3 -> 2; the second's rule would now take them 2 -> 1, a second release back: it is
    refused naming the other rollback, and every alias stays at most one release back."""
    out, err, second = waited_behind_alice(served, observer, tmp_path)
    refusal = next((x for x in out.splitlines() if x.startswith("REFUSED: while this run waited")), out + err)
    assert second.returncode == 3 and "alice ran a rollback of sit" in refusal, out + err
    assert "second release back" in refusal and "--to-version" in refusal
    assert set(serving(observer).values()) == {"2"} and lease_of(observer) is None  # one release back, no further


def test_stale_revision_id_with_aws_semantics_refuses_that_function_only(served, observer, monkeypatch) -> None:
    """The harness side against AWS's documented behaviour (a changed alias has a new RevisionId and UpdateAlias
    with the old one is PreconditionFailedException): simulated by a client wrapper, since moto keeps one id."""
    plan = plan_rollback(observer, FN, WHO)
    lam = observer.client("lambda")
    lam.update_alias(FunctionName=FN, Name=ALIAS, FunctionVersion="1")  # someone else moves it after the plan
    real = lam.update_alias

    def aws_update_alias(**kw):  # noqa: ANN202, ANN003 (botocore's signature)
        from botocore.exceptions import ClientError

        if kw.get("RevisionId") == plan.spec.moves[0].revision_id and kw["FunctionName"] == FN:
            raise ClientError({"Error": {"Code": "PreconditionFailedException", "Message": "stale"}}, "UpdateAlias")
        return real(**kw)

    monkeypatch.setattr(lam, "update_alias", aws_update_alias)
    before_aliases = [a["Name"] for a in lam.list_aliases(FunctionName=FN)["Aliases"]]
    result = apply_rollback(observer, plan, WHO)
    child = result.children[0]
    assert child.outcome == "REFUSED" and "alias latest-sit moved since the plan: was 3, now 1" in child.message
    assert result.outcome == "FAILED" and result.record is not None and result.record.status == "FAILED"
    assert lam.get_alias(FunctionName=FN, Name=ALIAS)["FunctionVersion"] == "1"  # left where the other put it
    assert [a["Name"] for a in lam.list_aliases(FunctionName=FN)["Aliases"]] == before_aliases  # no checkpoint left
    assert result.record.functions[FN].outcome == "REFUSED" and result.record.functions[FN].final_version == "1"


def test_stale_revision_id_on_the_emulator(served, observer) -> None:
    plan = plan_rollback_all(observer, WHO)
    observer.client("lambda").update_alias(FunctionName=FN, Name=ALIAS, FunctionVersion="1")
    result = apply_rollback(observer, plan, WHO)
    by_fn = {c.plan.details["function"]: c for c in result.children}
    assert by_fn[FN].outcome == "REFUSED" and "moved since the plan: was 3, now 1" in by_fn[FN].message
    assert serving(observer)[FN] == "1"
    assert {fn: v for fn, v in serving(observer).items() if fn != FN} == {
        fn: "2" for fn in serving(observer) if fn != FN
    }


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_at_the_first_alias_move_tells_the_truth(served, observer, tmp_path, monkeypatch, capsys, sig) -> None:  # noqa: ANN001
    from harness.cli import main

    real, calls = lv.point_alias, []

    def first_move_interrupted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 (point_alias's signature)
        calls.append(args[1])
        if len(calls) == 1:
            os.kill(os.getpid(), sig)  # Ctrl-C (or a SIGTERM) as the first alias moves
        return real(*args, **kwargs)

    monkeypatch.setattr(lv, "point_alias", first_move_interrupted)
    rc = main([*ROLLBACK_ALL, "--max-workers", "2", "--reports-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 130, out
    now = serving(observer)
    moved = [fn for fn, v in now.items() if v == "2"]
    assert 1 <= len(moved) <= 2 and len(calls) == len(moved), (now, calls)  # in flight finished; nothing new started
    verdict = next(line for line in out.splitlines() if line.startswith("INTERRUPTED"))
    assert f"{len(moved)} of 7 moved; {7 - len(moved)} not started" in verdict, verdict
    record = next(r for r in read_records(observer.client("dynamodb"), observer.env) if r.action == "rollback")
    assert record.status == "FAILED" and record.extra.get("interrupted") == signal.Signals(sig).name
    assert {fn: c.final_version for fn, c in record.functions.items()} == now  # the record says what GetAlias says
    assert {c.outcome for fn, c in record.functions.items() if fn not in moved} == {"NOT_STARTED"}
    assert not [r for r in read_records(observer.client("dynamodb"), observer.env) if r.status == IN_PROGRESS]
    assert lease_of(observer) is None
    report = next(tmp_path.glob("runs/*/incident-*.md")).read_text()
    assert f"{len(moved)} of 7 moved; {7 - len(moved)} not started" in report and "NOT_STARTED" in report


def test_unwritable_reports_dir_is_refused_before_any_change(served, observer, tmp_path, capsys) -> None:
    from harness.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    rc = main([*ROLLBACK_ALL, "--reports-dir", str(blocker / "reports")])
    err = capsys.readouterr().err
    assert rc == 3, err
    assert f"reports cannot be written at {blocker / 'reports'}" in err and "nothing changed" in err
    assert set(serving(observer).values()) == {"3"} and lease_of(observer) is None


def test_canary_rolls_back_to_the_primary_and_clears_routing(served, observer) -> None:
    lam = observer.client("lambda")
    lam.update_alias(
        FunctionName=FN, Name=ALIAS, FunctionVersion="2", RoutingConfig={"AdditionalVersionWeights": {"3": 0.1}}
    )
    plan = plan_rollback(observer, FN, WHO)
    assert "weights: 2 at 90 % -> 100 %; 3 at 10 % -> removed" in plan.render(), plan.render()
    result = apply_rollback(observer, plan, WHO)
    assert result.outcome == "COMPLETE", result.message
    alias = lam.get_alias(FunctionName=FN, Name=ALIAS)
    assert alias["FunctionVersion"] == "2" and not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")


def test_no_canary_routing_older_than_primary_keeps_the_previous_rule(served, observer) -> None:
    lam = observer.client("lambda")
    lam.update_alias(
        FunctionName=FN, Name=ALIAS, FunctionVersion="3", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}}
    )
    plan = plan_rollback(observer, FN, WHO)
    assert plan.expect_versions == {FN: "2"} and "canary" not in plan.render()


def test_a_batch_stops_when_the_lease_is_lost(served, observer) -> None:
    plan = plan_rollback_all(observer, WHO)
    result = apply_rollback(observer, plan, WHO, lease_lost=lambda: "lease broken by someone else")
    assert result.outcome == "INTERRUPTED" and "0 of 7 moved; 7 not started" in result.message
    assert set(serving(observer).values()) == {"3"} and result.record is not None and result.record.status == "FAILED"


def test_rollback_all_library_still_completes(served, observer) -> None:
    assert rollback_all(observer, WHO, RollbackTo.version("2")).outcome == "COMPLETE"


def test_every_cli_report_on_the_embedded_target_says_rehearsal(tmp_path, capsys) -> None:  # noqa: ANN001
    from harness.cli import main

    rc = main(
        ["rollback", "--env", "sit", "--service", "tenant-instance-management", "--reason", "t"]
        + ["--reports-dir", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    verdict = next(line for line in out.splitlines() if "rollback-all bbws/sit" in line and "COMPLETE" in line)
    assert verdict.startswith("REHEARSAL (moto"), verdict
    assert (
        out.startswith("REHEARSAL (moto") and "plan: rollback-all on bbws/sit (target embedded)" in out.splitlines()[0]
    )
    files = sorted(tmp_path.glob("runs/*/*.md"))
    assert len(files) == 2
    for path in files:
        text = path.read_text()
        assert "-REHEARSAL-moto-" in path.name and text.startswith("# REHEARSAL (moto"), (path.name, text[:100])
        assert "Times in this report are on the rehearsal clock" in text and "wall-clock time" in text


def test_an_expired_lease_is_refused_until_broken_by_id_and_the_break_is_recorded(served, observer, capsys) -> None:  # noqa: ANN001
    import time as wall

    from harness.cli import main
    from harness.lease import Lease

    dead = Lease(
        observer.client("dynamodb"),
        observer.env,
        LeaseSettings.of(observer.env),
        command="harness rollback all services",
        scope="all services",
        actor="carol",
        wall=lambda: wall.time() - 3600,  # taken an hour ago by a process that died
    )
    assert dead.try_acquire() is None
    assert main([*ROLLBACK_ALL, "--dry-run"]) == 0  # a read takes no lease, and says who holds it
    assert f"note: lease {dead.lease_id}" in capsys.readouterr().out
    rc = main([*ROLLBACK_ALL])
    err = capsys.readouterr().err
    assert rc == 5 and f"break it with --break-lease {dead.lease_id}" in err and "held by carol@" in err, err
    assert set(serving(observer).values()) == {"3"}
    rc = main([*ROLLBACK_ALL, "--break-lease", dead.lease_id])
    out = capsys.readouterr().out
    assert rc == 0 and "lease broken (recorded)" in out, out
    broken = [r for r in read_records(observer.client("dynamodb"), observer.env) if r.action == "lease-break"]
    assert broken and broken[0].resource == f"lease:{dead.lease_id}"
    assert lease_of(observer) is None and set(serving(observer).values()) == {"2"}


def test_cli_runs_live_under_reports_runs_and_are_pruned_by_keep_runs(served, observer, tmp_path, capsys) -> None:  # noqa: ANN001
    from harness.cli import main

    old = [tmp_path / "runs" / f"2020010{i}T000000Z-bbws-sit" for i in range(1, 4)]
    for path in old:
        path.mkdir(parents=True)
        (path / "incident-old.md").write_text("# old\n")
    assert main([*ROLLBACK_ALL, "--reports-dir", str(tmp_path), "--keep-runs", "2"]) == 0
    out = capsys.readouterr().out
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(runs) == 2 and runs[0] == old[-1].name, runs  # the newest old run and this one
    paths = out.strip().splitlines()[-1].removeprefix("reports: ").split(", ")
    assert all(Path(p).parent.name == runs[1] and Path(p).stat().st_size > 0 for p in paths), paths


STATE_KEY, LOCKED_KEY = "tenants/tenant-001/terraform.tfstate", "tenants/tenant-002/terraform.tfstate"
SEEDED_RESTORE, STUCK_LOCK_ID = "tenants-sit-restored-seeded", "0b7b3c1e-stuck-lock"
DATA_COMMANDS = {
    "restore-table": ("--table", "tenants-sit", "--latest"),
    "switch-table": ("--table", "tenants-sit", "--to", "users-sit", "--allow-shrink"),
    "copy-back": ("--table", "tenants-sit", "--from", "users-sit", "--allow-shrink"),
    "drop-table": ("--table", SEEDED_RESTORE),
    "state-restore": ("--key", STATE_KEY, "--previous"),
    "state-unlock": ("--key", LOCKED_KEY, "--lock-id", STUCK_LOCK_ID, "--force"),
}


def _seeded_start(start):  # noqa: ANN001, ANN202 (wraps EmbeddedTarget.start)
    """EmbeddedTarget.start, then what drop-table and state-unlock act on (each embedded command is a fresh
    rehearsal): a table restored from a backup, and a Terraform lock left two hours ago by a dead apply."""
    import json
    from datetime import timedelta

    def started(self):  # noqa: ANN001, ANN202
        target = start(self)
        ddb, tf = target.client("dynamodb"), target.env.terraform
        arn = ddb.create_backup(TableName="tenants-sit", BackupName="seed")["BackupDetails"]["BackupArn"]
        ddb.restore_table_from_backup(TargetTableName=SEEDED_RESTORE, BackupArn=arn)
        created = (target.clock.now() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        info = {"ID": STUCK_LOCK_ID, "Operation": "OperationTypeApply", "Who": "dead@ci", "Created": created}
        info["Path"] = f"{tf.state_bucket}/{LOCKED_KEY}"
        item = {"LockID": {"S": f"{tf.state_bucket}/{LOCKED_KEY}"}, "Info": {"S": json.dumps(info)}}
        ddb.put_item(TableName=tf.lock_table, Item=item)
        return target

    return started


@pytest.mark.parametrize("command", list(DATA_COMMANDS))
def test_every_data_and_state_cli_report_on_the_embedded_target_says_rehearsal(
    command, tmp_path, capsys, monkeypatch
) -> None:  # noqa: ANN001
    from harness.cli import main
    from harness.targets.embedded.target import EmbeddedTarget

    monkeypatch.setattr(EmbeddedTarget, "start", _seeded_start(EmbeddedTarget.start))
    rc = main([command, "--env", "sit", *DATA_COMMANDS[command], "--reason", "t", "--reports-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    verdict = next(line for line in out.splitlines() if "COMPLETE: " in line)
    assert verdict.startswith("REHEARSAL (moto"), verdict
    files = sorted(tmp_path.glob("runs/*/*.md"))
    assert len(files) == 1 and f"report: {files[0]}" in out, (files, out[-500:])
    text = files[0].read_text()
    assert files[0].name.startswith(f"{command}-bbws-sit-REHEARSAL-moto-"), files[0].name
    assert text.startswith("# REHEARSAL (moto") and f"harness {command} (" in text.splitlines()[0], text[:200]
    assert "COMPLETE" in text.splitlines()[0] and "Times in this report are on the rehearsal clock" in text


@pytest.mark.parametrize(
    "argv",
    [
        ("switch-table", "--table", "tenants-sit", "--to", "tenants-sit-restored-20260101000000"),
        ("copy-back", "--table", "tenants-sit", "--from", "tenants-sit-restored-20260101000000"),
        ("drop-table", "--table", "tenants-sit-restored-20260101000000", "--dry-run"),
    ],
    ids=["switch-table", "copy-back", "drop-table-dry-run"],
)
def test_a_table_from_an_earlier_embedded_command_is_refused_with_the_serve_recipe(argv, tmp_path, capsys) -> None:  # noqa: ANN001
    from harness.cli import main

    rc = main([argv[0], "--env", "sit", *argv[1:], "--reason", "t", "--reports-dir", str(tmp_path)])
    out = capsys.readouterr().out
    lines = out.splitlines()
    refusal = next(i for i, line in enumerate(lines) if line.startswith("REFUSED: "))
    assert "tenants-sit-restored-20260101000000" in lines[refusal], out
    hint = lines[refusal + 1]
    assert hint.startswith("note: each embedded command is a fresh rehearsal of bbws/sit"), out
    assert "harness serve --env sit" in hint and "--target aws" in hint, hint
    assert hint.endswith("docs/recovery.md#one-after-another-on-harness-serve"), hint
    assert rc == 2 and not list(tmp_path.glob("runs/*/*.md"))  # refused: nothing changed, no report


def test_no_fresh_rehearsal_note_on_a_served_account_or_for_another_refusal(served, observer, capsys) -> None:  # noqa: ANN001
    from harness.cli import main

    rc = main(["switch-table", "--env", "sit", "--target", "aws", "--table", "tenants-sit", "--to", "nope-sit"])
    out = capsys.readouterr().out
    assert rc == 2 and "REFUSED: table nope-sit does not exist" in out and "fresh rehearsal" not in out, out
    rc = main(["drop-table", "--env", "sit", "--table", "users-sit"])  # embedded, but refused for another reason
    out = capsys.readouterr().out
    assert rc == 3 and "inventory table" in out and "fresh rehearsal" not in out, out


def test_an_unwritable_reports_dir_refuses_a_data_command_before_any_change(served, observer, tmp_path, capsys) -> None:  # noqa: ANN001
    from harness.cli import main

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the reports directory should be")
    ddb = observer.client("dynamodb")
    before = sorted(ddb.list_tables()["TableNames"])
    argv = ["restore-table", "--env", "sit", "--target", "aws", "--table", "tenants-sit", "--latest"]
    rc = main([*argv, "--allow-mutation", "--reason", "t", "--reports-dir", str(blocker)])
    captured = capsys.readouterr()
    assert rc == 3 and f"reports cannot be written at {blocker}" in captured.err, captured
    assert "plan: " not in captured.out and sorted(ddb.list_tables()["TableNames"]) == before  # nothing restored
    assert lease_of(observer) is None


def test_an_apply_that_raises_still_leaves_a_failed_report(tmp_path, capsys, monkeypatch) -> None:  # noqa: ANN001
    from harness.actions.table_copy import TableChanged
    from harness.cli import main

    def changed(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202 (reconcile's signature)
        raise TableChanged("tenants-sit changed since the plan")

    monkeypatch.setattr("harness.actions.copy_back.reconcile", changed)
    argv = ["copy-back", "--env", "sit", "--table", "tenants-sit", "--from", "users-sit", "--allow-shrink"]
    assert main([*argv, "--reason", "t", "--reports-dir", str(tmp_path)]) == 1  # one line, no traceback
    captured = capsys.readouterr()
    assert "harness: FAILED: tenants-sit changed since the plan; nothing was copied" in captured.err, captured
    assert "Traceback" not in captured.err and "report: " in captured.out
    report = next(tmp_path.glob("runs/*/copy-back-bbws-sit-REHEARSAL-moto-*.md")).read_text()
    assert report.startswith("# REHEARSAL (moto") and report.splitlines()[0].endswith(": FAILED"), report[:300]
    assert "TableChanged: tenants-sit changed since the plan" in report and "ends FAILED" in report
