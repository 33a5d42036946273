"""The exit-status contract (harness.cli.common.EXIT_STATUSES), table-driven: every mutating command in each
situation it can be put in cheaply, in this process, against the session's served SIT with ``--target aws``
(a kept target). Every row is refused or a mistake, so the served rehearsal is never changed."""

from __future__ import annotations

import os

import pytest

from harness.cli import main
from harness.cli.common import (
    EXIT_ACCOUNT_GUARD,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_LEASE_HELD,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_STATUSES,
    EXIT_USAGE,
)
from tests.conftest import aws_env

KEY = "tenants/tenant-001/terraform.tfstate"
SIT = ("--env", "sit", "--target", "aws")
PROD = ("--env", "prod", "--target", "aws")  # another account than the served SIT's: the account guard
PROPIE = ("--inventory", "propie", "--env", "production", "--target", "aws")

# command -> (arguments that would change the served SIT without --allow-mutation, the same naming an unknown thing)
BBWS = {
    "rollback": (("--all", "--reason", "t"), ("--function", "nope", "--reason", "t")),
    "restore-table": (("--table", "tenants-sit", "--latest"), ("--table", "nope", "--latest")),
    "switch-table": (("--table", "tenants-sit", "--to", "users-sit"), ("--table", "nope", "--to", "users-sit")),
    "copy-back": (("--table", "tenants-sit", "--from", "users-sit"), ("--table", "nope", "--from", "users-sit")),
    "drop-table": (("--table", "tenants-sit"), ("--table", "nope")),
    "state-restore": (("--key", KEY, "--previous"), ("--key", "nope", "--previous")),
    "state-unlock": (("--key", KEY, "--lock-id", "x"), ("--key", "nope", "--lock-id", "x")),
}
PROPIE_COMMANDS = ("stack-rollback", "amplify-switch-back", "amplify-redeploy")

ROWS = [
    *[pytest.param(c, (*SIT, *ok, "--bogus"), EXIT_USAGE, id=f"{c}-unknown-option") for c, (ok, _) in BBWS.items()],
    *[pytest.param(c, (*SIT, *unknown), EXIT_USAGE, id=f"{c}-unknown-name") for c, (_, unknown) in BBWS.items()],
    *[pytest.param(c, (*SIT, *ok), EXIT_REFUSED, id=f"{c}-refused") for c, (ok, _) in BBWS.items()],
    *[pytest.param(c, (*PROD, *ok), EXIT_ACCOUNT_GUARD, id=f"{c}-account") for c, (ok, _) in BBWS.items()],
    pytest.param("promote", ("--from", "sit", "--to", "prod", "--target", "aws"), EXIT_USAGE, id="promote-usage"),
    pytest.param("promote", ("--from", "sit", "--to", "prod", "--bogus"), EXIT_USAGE, id="promote-unknown-option"),
    pytest.param(
        "promote", ("--from", "sit", "--to", "prod", "--all", "--target", "aws"), EXIT_ACCOUNT_GUARD, id="promote-acct"
    ),
    pytest.param(
        "promote", ("--from", "sit", "--to", "nope", "--all", "--target", "aws"), EXIT_USAGE, id="promote-unknown-env"
    ),
    *[pytest.param(c, (*PROPIE, "--bogus"), EXIT_USAGE, id=f"{c}-unknown-option") for c in PROPIE_COMMANDS],
    *[pytest.param(c, PROPIE, EXIT_ACCOUNT_GUARD, id=f"{c}-account") for c in PROPIE_COMMANDS],
    *[pytest.param(c, PROPIE, EXIT_REFUSED, id=f"{c}-refused") for c in PROPIE_COMMANDS[:2]],
]


@pytest.fixture
def harness(served_sit, monkeypatch, capsys):
    """``harness(*args)`` -> (exit status, stdout, stderr) in this process, with the served SIT's environment."""
    for name in [k for k in os.environ if k.startswith(("AWS_", "HARNESS_", "PROPIE_"))]:
        monkeypatch.delenv(name)
    for name, value in aws_env(served_sit["AWS_ENDPOINT_URL"]).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PROPIE_AMPLIFY_APP_ID", "d1example")

    def run(*args: str, account: str | None = None) -> tuple[int, str, str]:
        monkeypatch.setenv("PROPIE_ACCOUNT_ID", account or "000000000000")
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: a usage mistake
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.mark.parametrize("command,args,status", ROWS)
def test_every_mutating_command_keeps_the_exit_contract(harness, served_sit, command, args, status):
    # the refused propie rows pass the account guard (the served account) and stop at the approvals
    account = served_sit["AWS_ACCOUNT_ID"] if status == EXIT_REFUSED and command in PROPIE_COMMANDS else None
    code, out, err = harness(command, *args, account=account)
    assert code == status, f"harness {command} {' '.join(args)} -> {code}\n{out}\n{err}"
    if status == EXIT_REFUSED:
        assert "plan: " in out and "REFUSED" in out, out  # the plan is printed before the refusal
    if status == EXIT_ACCOUNT_GUARD:
        assert "ACCOUNT GUARD" in err, err


def test_the_table_has_one_status_per_situation():
    assert list(EXIT_STATUSES) == [
        EXIT_OK,
        EXIT_FAILED,
        EXIT_USAGE,
        EXIT_REFUSED,
        EXIT_ACCOUNT_GUARD,
        EXIT_LEASE_HELD,
        EXIT_INTERRUPTED,
    ]
    assert list(EXIT_STATUSES) == [0, 1, 2, 3, 4, 5, 130]


def test_dry_run_prints_the_whole_plan_then_the_refusal(monkeypatch, capsys):
    for name in [k for k in os.environ if k.startswith(("AWS_", "HARNESS_"))]:
        monkeypatch.delenv(name)
    code = main(["rollback", "--env", "prod", "--all", "--reason", "INC-42", "--target", "embedded", "--dry-run"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert code == EXIT_REFUSED, out
    moves = [i for i, line in enumerate(lines) if "alias/latest-prod FunctionVersion" in line]
    refusal = next(i for i, line in enumerate(lines) if line.startswith("REFUSED: prod-rollback needs 2"))
    assert len(moves) == 7 and max(moves) < refusal, out  # every function's change, then why it is refused
    assert "got 0: none" in lines[refusal]


# -- the operation lease: every mutating command is refused while another operation holds it ------------------

MUTATING_WITH_LEASE = {
    **{c: ok for c, (ok, _) in BBWS.items()},
    "verify-table": ("--table", "tenants-sit", "--source", "tenants-sit", "--against-at", "2026-01-01T00:00:00Z"),
}
READ_ONLY = {
    "pitr-status": (),
    "state-versions": (),
    "state-locks": (),
    "verify-table": ("--table", "tenants-sit", "--against", "tenants-sit"),
}


@pytest.fixture
def held_by_alice(harness):
    """A live lease on the served SIT held by another operator (released afterwards)."""
    from harness.inventory import load_inventory
    from harness.lease import Lease, LeaseSettings
    from harness.targets.aws import AwsTarget

    target = AwsTarget(load_inventory("bbws").environment("sit")).start()
    lease = Lease(
        target.client("dynamodb"),
        target.env,
        LeaseSettings.of(target.env),
        command="harness rollback all services",
        scope="all services",
        actor="alice",
    )
    assert lease.try_acquire() is None
    yield target, lease
    lease.release()
    target.close()


def _tables_and_items(target) -> dict[str, int]:
    """Every table of the account and its item count: what a refused command must leave as it was."""
    ddb = target.client("dynamodb")
    names = ddb.list_tables()["TableNames"]
    return {n: ddb.scan(TableName=n, Select="COUNT")["Count"] for n in names}


@pytest.mark.parametrize("command", list(MUTATING_WITH_LEASE))
def test_a_mutating_command_is_refused_while_the_lease_is_held(harness, held_by_alice, command):
    target, lease = held_by_alice
    before = _tables_and_items(target)
    code, out, err = harness(command, *SIT, *MUTATING_WITH_LEASE[command], "--allow-mutation", "--reason", "t")
    assert code == EXIT_LEASE_HELD, f"harness {command} -> {code}\n{out}\n{err}"
    assert f"lease {lease.lease_id} on bbws/sit" in err and "held by alice@" in err, err
    assert "`harness rollback all services`" in err and " s old" in err and "nothing changed" in err, err
    assert "plan: " not in out  # refused before planning: the plan is made under the lease
    assert _tables_and_items(target) == before


@pytest.mark.parametrize("command", ["restore-table", "state-restore"])
def test_a_plan_only_run_takes_no_lease_and_says_who_holds_it(harness, held_by_alice, command):
    _, lease = held_by_alice
    code, out, err = harness(command, *SIT, *MUTATING_WITH_LEASE[command], "--dry-run")
    assert code == EXIT_OK, out + err
    assert "plan: " in out and f"note: lease {lease.lease_id}" in out and "would be refused (exit 5)" in out, out


@pytest.mark.parametrize("command", list(READ_ONLY))
def test_read_only_commands_never_wait_for_the_lease(harness, held_by_alice, command):
    code, out, err = harness(command, *SIT, *READ_ONLY[command])
    assert code == EXIT_OK, f"harness {command} -> {code}\n{out}\n{err}"
    assert "lease" not in err


def test_lock_timeout_gives_up_naming_how_long_it_waited(harness, held_by_alice):
    code, out, err = harness("drop-table", *SIT, "--table", "nope-restored", "--allow-mutation", "--lock-timeout", "1s")
    assert code == EXIT_LEASE_HELD and "waiting up to 1 s for lease" in out and "waited 1 s" in err, out + err


def test_an_unwritable_report_is_refused_before_the_lease_and_any_change(harness, served_sit, tmp_path):
    from harness.inventory import load_inventory
    from harness.lease import LeaseSettings, read_lease
    from harness.targets.aws import AwsTarget

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    report = blocker / "restore.md"
    target = AwsTarget(load_inventory("bbws").environment("sit")).start()
    before = _tables_and_items(target)
    code, out, err = harness(
        "restore-table", *SIT, "--table", "tenants-sit", "--latest", "--allow-mutation", "--report", str(report)
    )
    assert code == EXIT_REFUSED and f"report cannot be written at {report}" in err and "nothing changed" in err, err
    assert "plan: " not in out and _tables_and_items(target) == before
    assert read_lease(target.client("dynamodb"), LeaseSettings.of(target.env).table, target.env) is None
    target.close()


def test_a_propie_command_says_its_inventory_names_no_lease_table(harness, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    code, out, err = harness(
        "amplify-switch-back", "--inventory", "propie", "--env", "production", "--approved-by", "A", "--reason", "t"
    )
    # propie names no deployments or [lease] table: nothing to hold a lease in, and the operator is told so
    assert code == EXIT_OK and "no lease: propie/production names no deployments or [lease] table" in out, out + err
