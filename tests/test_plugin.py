"""The pytest plugin as a user meets it: options, header, errors without tracebacks, reports, refusals.

Subprocess runs are the suite's slowest tests, so none here seeds an embedded target: the refusal tests
reach unseeded in-process emulators through ``--target aws``. The main job (Quickstart: header, reports,
a rehearsal that ignores the user's AWS configuration) is tests/test_readme.py; xdist runs are in
tests/checks/test_scenarios.py; mistakes in tests/test_mistakes.py; run directories in tests/test_runs.py.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.inventory import load_inventory
from harness.targets.embedded import EmbeddedTarget
from tests.conftest import REPO, aws_env, run_pytest


def test_help_shows_the_option_group(run_here) -> None:
    out = run_here("--help").stdout
    assert "runbook harness (rollback / promotion / PITR scenarios):" in out
    for option in (
        "--env",
        "--target={embedded,localstack,aws}",
        "--inventory",
        "--allow-mutation",
        "--approved-by",
        "--reason",
        "--keep-runs=N",
    ):
        assert option in out, option


def test_pytest_configure_registers_one_session_object(pytestconfig: pytest.Config) -> None:
    """As pytest-xdist's plugin registers its DSession: the session object owns what the plugin resolved."""
    from harness.pytest_plugin.session import NAME, HarnessSession
    from harness.pytest_plugin.state import harness_state

    sessions = [p for p in pytestconfig.pluginmanager.get_plugins() if isinstance(p, HarnessSession)]
    assert sessions == [pytestconfig.pluginmanager.get_plugin(NAME)]
    assert sessions[0].state is harness_state(pytestconfig)


def test_markers_are_registered(run_here) -> None:
    out = run_here("--markers").stdout
    for marker in ("@pytest.mark.readonly", "@pytest.mark.mutating", "@pytest.mark.gameday"):
        assert marker in out


def test_fixtures_are_documented(run_here) -> None:
    # Listing fixtures needs no --env and starts no target.
    out = run_here("--fixtures", "scenarios/test_smoke.py").stdout
    for fixture in (
        "inventory [session scope]",
        "env [session scope]",
        "target [session scope]",
        "aws [session scope]",
    ):
        assert fixture in out, out[-2000:]


def test_unreachable_target_is_one_line(run_here, tmp_path: Path) -> None:
    proc = run_here(
        "scenarios/",
        "--env",
        "sit",
        "--target",
        "localstack",
        "--reports-dir",
        str(tmp_path),
        env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stdout + proc.stderr
    assert "ERROR: cannot use target localstack for inventory=bbws env=sit" in proc.stderr, proc.stderr
    # refused before any test: recorded in its run directory, nothing copied to the reports root
    assert (tmp_path / "latest" / "run.json").is_file() and not (tmp_path / "junit.xml").exists()


def test_unknown_env_lists_the_valid_ones(run_here, tmp_path: Path) -> None:
    proc = run_here("scenarios/", "--env", "qa", "--reports-dir", str(tmp_path))
    assert proc.returncode != 0
    assert "ERROR:" in proc.stderr and "unknown environment 'qa'; valid: dev, sit, prod" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_missing_env_is_a_usage_error(run_here, tmp_path: Path) -> None:
    proc = run_here("scenarios/", "--reports-dir", str(tmp_path))
    assert (
        proc.returncode != 0
        and "--env is required by these scenarios; valid for inventory bbws: dev, sit, prod" in proc.stderr
    )


def test_broken_inventory_is_one_line_before_any_call(run_here, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[inventory]\nname = "x"\ntitle = "x"\nsources = ["000"]\n')
    proc = run_here("scenarios/", "--env", "sit", "--inventory", str(bad), "--reports-dir", str(tmp_path))
    assert proc.returncode != 0
    assert f"ERROR: {bad}: environments: required key is missing" in proc.stderr, proc.stderr


MUTATING_SCENARIO = textwrap.dedent(
    """
    import pytest

    @pytest.mark.mutating
    def test_creates_canary(aws):
        aws("s3").create_bucket(Bucket="refusal-canary", CreateBucketConfiguration={"LocationConstraint": "af-south-1"})
    """
)


@pytest.fixture(scope="module")
def sit_rehearsal() -> Iterator[EmbeddedTarget]:
    """An unseeded embedded SIT in this process, reached by subprocess runs through --target aws."""
    target = EmbeddedTarget(load_inventory("bbws").environment("sit"), seed=False).start()
    yield target
    target.close()


@pytest.fixture(scope="module")
def prod_rehearsal() -> Iterator[EmbeddedTarget]:
    """An unseeded embedded PROD (protected: approvals) reached through --target aws --allow-mutation."""
    target = EmbeddedTarget(load_inventory("bbws").environment("prod"), seed=False).start()
    yield target
    target.close()


def _buckets(target: EmbeddedTarget) -> set[str]:
    return {b["Name"] for b in target.client("s3").list_buckets().get("Buckets", [])}


def test_mutating_scenario_refused_on_real_account_without_flag_changes_nothing(sit_rehearsal, tmp_path: Path) -> None:
    scenario = tmp_path / "test_canary.py"
    scenario.write_text(MUTATING_SCENARIO)
    before = _buckets(sit_rehearsal)
    common = (
        str(scenario),
        "--env",
        "sit",
        "--target",
        "aws",
        "--reports-dir",
        str(tmp_path / "r"),
        "--rootdir",
        str(REPO),
    )
    refused = run_pytest(*common, "-rs", env=aws_env(sit_rehearsal.server.url))
    assert refused.returncode == 0 and "1 skipped" in refused.stdout
    assert "needs --allow-mutation" in refused.stdout
    assert _buckets(sit_rehearsal) == before
    allowed = run_pytest(*common, "--allow-mutation", env=aws_env(sit_rehearsal.server.url))
    assert allowed.returncode == 0 and "1 passed" in allowed.stdout, allowed.stdout[-2000:]
    assert _buckets(sit_rehearsal) - before == {"refusal-canary"}, (
        "the canary proves the refused run could have mutated"
    )
    sit_rehearsal.client("s3").delete_bucket(Bucket="refusal-canary")


def test_protected_env_needs_the_runbooks_approvals(prod_rehearsal, tmp_path: Path) -> None:
    scenario = tmp_path / "test_canary.py"
    scenario.write_text(MUTATING_SCENARIO)
    common = (
        str(scenario),
        "--env",
        "prod",
        "--target",
        "aws",
        "--allow-mutation",
        "--reports-dir",
        str(tmp_path / "r"),
        "--rootdir",
        str(REPO),
        "-rs",
    )
    env = aws_env(prod_rehearsal.server.url)
    one = run_pytest(*common, "--approved-by", "alice", "--approved-by", "alice", "--reason", "INC-1", env=env)
    assert "1 skipped" in one.stdout and "prod-rollback needs 2 distinct approvers" in one.stdout, one.stdout[-2000:]
    no_reason = run_pytest(*common, "--approved-by", "alice", "--approved-by", "bob", env=env)
    assert "1 skipped" in no_reason.stdout and "needs a reason" in no_reason.stdout
    assert "refusal-canary" not in _buckets(prod_rehearsal)
    ok = run_pytest(*common, "--approved-by", "alice", "--approved-by", "bob", "--reason", "INC-1", env=env)
    assert "1 passed" in ok.stdout, ok.stdout[-2000:]
    prod_rehearsal.client("s3").delete_bucket(Bucket="refusal-canary")
