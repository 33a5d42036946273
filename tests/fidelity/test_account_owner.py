"""One embedded target per account per process: a second is refused in one line, and the first keeps its
resources, its clock and its fidelity extensions (moto's backends are process-global, keyed by account)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from harness.clock import FixedClock
from harness.errors import HarnessError
from harness.inventory import load_inventory
from harness.targets.embedded import EmbeddedTarget
from harness.targets.embedded.fidelity import registry
from harness.targets.embedded.target import AccountInUse
from tests.fidelity.conftest import fresh_account, isolated

TABLE = "owner-probe"


def _env():
    return isolated(load_inventory("bbws").environment("sit"), fresh_account())


def _make_table(target: EmbeddedTarget) -> None:
    target.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_a_second_target_on_a_served_account_is_refused_and_changes_nothing():
    """The first target's tables, clock and extensions survive a second target's attempt and its close()."""
    env = _env()
    first_clock = FixedClock(datetime(2025, 6, 1, tzinfo=timezone.utc))
    first = EmbeddedTarget(env, seed=False, clock=first_clock).start()
    try:
        _make_table(first)
        context = registry.context(env.account)
        for kwargs in ({}, {"fidelity": False}, {"clock": FixedClock(first_clock.now() - timedelta(days=365))}):
            second = EmbeddedTarget(env, seed=False, **kwargs)
            with pytest.raises(AccountInUse) as refused:
                second.start()
            message = str(refused.value)
            assert isinstance(refused.value, HarnessError) and "\n" not in message
            assert env.account in message and "already served" in message and env.describe() in message
            second.close()  # a refused target's close() must not tear down the owner's extensions
            assert not second.server.running
        assert first.client("dynamodb").list_tables()["TableNames"] == [TABLE]
        assert registry.context(env.account) is context and context.clock is first_clock
    finally:
        first.close()
    third = EmbeddedTarget(env, seed=False).start()  # closed: the account is free again
    try:
        assert third.client("dynamodb").list_tables()["TableNames"] == []  # a fresh rehearsal
    finally:
        third.close()


def test_targets_on_other_accounts_run_side_by_side():
    """Different accounts (a peer environment, another test's account) are never refused."""
    one, two = EmbeddedTarget(_env(), seed=False).start(), EmbeddedTarget(_env(), seed=False).start()
    try:
        _make_table(one)
        assert two.client("dynamodb").list_tables()["TableNames"] == []
    finally:
        one.close()
        two.close()


def test_a_failed_start_releases_the_account():
    """A start that fails after claiming the account (here: an account mismatch) leaves it free."""
    env = _env()
    broken = EmbeddedTarget(dataclasses.replace(env), seed=False)
    broken.verify_account = lambda: (_ for _ in ()).throw(HarnessError("probe failure"))  # type: ignore[method-assign] (a start that fails)
    with pytest.raises(HarnessError, match="probe failure"):
        broken.start()
    EmbeddedTarget(env, seed=False).start().close()


def test_the_pytest_plugin_reports_it_as_one_error_line(tmp_path: Path):
    """A session whose environment's account is already served in its process stops with one line."""
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            """
            from harness.inventory import load_inventory
            from harness.targets.embedded import EmbeddedTarget

            HELD = EmbeddedTarget(load_inventory("bbws").environment("sit"), seed=False).start()
            """
        )
    )
    (tmp_path / "test_never.py").write_text("def test_never():\n    raise AssertionError('must not run')\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path), "--env", "sit", "-p", "no:cacheprovider"]
        + ["--reports-dir", str(tmp_path / "reports")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert proc.returncode != 0 and "must not run" not in proc.stdout
    assert len(errors) == 1 and "815856636111 is already served" in errors[0], proc.stderr
