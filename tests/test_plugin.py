"""The pytest plugin as a user meets it: options, header, errors without tracebacks, reports, xdist, refusals."""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.inventory import load_inventory
from harness.targets.embedded import EmbeddedTarget
from tests.conftest import REPO, aws_env, run_pytest


def test_help_shows_the_option_group() -> None:
    out = run_pytest("--help").stdout
    assert "runbook harness (rollback / promotion / PITR scenarios):" in out
    for option in ("--env", "--target={embedded,localstack,aws}", "--inventory", "--allow-mutation", "--approved-by", "--reason"):
        assert option in out, option


def test_markers_are_registered() -> None:
    out = run_pytest("--markers").stdout
    for marker in ("@pytest.mark.readonly", "@pytest.mark.mutating", "@pytest.mark.gameday"):
        assert marker in out


def test_fixtures_are_documented() -> None:
    # Listing fixtures needs no --env and starts no target.
    out = run_pytest("--fixtures", "scenarios/test_smoke.py").stdout
    for fixture in ("inventory [session scope]", "env [session scope]", "target [session scope]", "aws [session scope]"):
        assert fixture in out, out[-2000:]


def test_unreachable_target_is_one_line(tmp_path: Path) -> None:
    proc = run_pytest("scenarios/", "--env", "sit", "--target", "localstack", "--reports-dir", str(tmp_path),
                      env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    assert proc.returncode != 0 and "Traceback" not in proc.stdout + proc.stderr
    assert "ERROR: cannot use target localstack for inventory=bbws env=sit" in proc.stderr, proc.stderr


def test_unknown_env_lists_the_valid_ones(tmp_path: Path) -> None:
    proc = run_pytest("scenarios/", "--env", "qa", "--reports-dir", str(tmp_path))
    assert proc.returncode != 0
    assert "ERROR:" in proc.stderr and "unknown environment 'qa'; valid: dev, sit, prod" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_missing_env_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_pytest("scenarios/", "--reports-dir", str(tmp_path))
    assert proc.returncode != 0 and "--env is required by these scenarios; valid for inventory bbws: dev, sit, prod" in proc.stderr


def test_broken_inventory_is_one_line_before_any_call(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[inventory]\nname = "x"\ntitle = "x"\nsources = ["000"]\n')
    proc = run_pytest("scenarios/", "--env", "sit", "--inventory", str(bad), "--reports-dir", str(tmp_path))
    assert proc.returncode != 0
    assert f"ERROR: {bad}: environments: required key is missing" in proc.stderr, proc.stderr


def test_main_job_writes_reports_and_header(tmp_path: Path) -> None:
    proc = run_pytest("scenarios/test_smoke.py", "--env", "sit", "--reports-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:]
    header = [line for line in proc.stdout.splitlines() if line.startswith("inventory=")]
    assert len(header) == 1
    assert "inventory=bbws env=sit account=815856636111 region=af-south-1 target=embedded" in header[0]
    assert "rehearsal on moto 5.2." in header[0] and "at 127.0.0.1:" in header[0] and "not a real account" in header[0]
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert int(suite.get("tests")) > 20 and suite.get("failures") == "0"
    assert list((tmp_path / "allure-results").glob("*-result.json"))


def test_main_job_under_xdist(tmp_path: Path) -> None:
    proc = run_pytest("scenarios/test_smoke.py", "--env", "sit", "-n", "2", "--reports-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "one server per xdist worker" in proc.stdout
    results = list((tmp_path / "allure-results").glob("*-result.json"))
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert len(results) == int(suite.get("tests")), "every test reported under xdist"


MUTATING_SCENARIO = textwrap.dedent(
    '''
    import pytest

    @pytest.mark.mutating
    def test_creates_canary(aws):
        aws("s3").create_bucket(Bucket="refusal-canary", CreateBucketConfiguration={"LocationConstraint": "af-south-1"})
    '''
)


@pytest.fixture(scope="module")
def sit_rehearsal():
    target = EmbeddedTarget(load_inventory("bbws").environment("sit")).start()
    yield target
    target.close()


def _buckets(target: EmbeddedTarget) -> set[str]:
    return {b["Name"] for b in target.client("s3").list_buckets()["Buckets"]}


def test_mutating_scenario_refused_on_real_account_without_flag_changes_nothing(sit_rehearsal, tmp_path: Path) -> None:
    scenario = tmp_path / "test_canary.py"
    scenario.write_text(MUTATING_SCENARIO)
    before = _buckets(sit_rehearsal)
    common = (str(scenario), "--env", "sit", "--target", "aws", "--reports-dir", str(tmp_path / "r"), "--rootdir", str(REPO))
    refused = run_pytest(*common, "-rs", env=aws_env(sit_rehearsal.server.url))
    assert refused.returncode == 0 and "1 skipped" in refused.stdout
    assert "needs --allow-mutation" in refused.stdout
    assert _buckets(sit_rehearsal) == before
    allowed = run_pytest(*common, "--allow-mutation", env=aws_env(sit_rehearsal.server.url))
    assert allowed.returncode == 0 and "1 passed" in allowed.stdout, allowed.stdout[-2000:]
    assert _buckets(sit_rehearsal) - before == {"refusal-canary"}, "the canary proves the refused run could have mutated"
    sit_rehearsal.client("s3").delete_bucket(Bucket="refusal-canary")


def test_protected_env_needs_the_runbooks_approvals(tmp_path: Path) -> None:
    scenario = tmp_path / "test_canary.py"
    scenario.write_text(MUTATING_SCENARIO.replace("af-south-1", "af-south-1"))
    common = (str(scenario), "--env", "prod", "--reports-dir", str(tmp_path / "r"), "--rootdir", str(REPO), "-rs")
    one = run_pytest(*common, "--approved-by", "alice", "--approved-by", "alice", "--reason", "INC-1")
    assert "1 skipped" in one.stdout and "prod-rollback needs 2 distinct approvers" in one.stdout, one.stdout[-2000:]
    no_reason = run_pytest(*common, "--approved-by", "alice", "--approved-by", "bob")
    assert "1 skipped" in no_reason.stdout and "needs a reason" in no_reason.stdout
    ok = run_pytest(*common, "--approved-by", "alice", "--approved-by", "bob", "--reason", "INC-1")
    assert "1 passed" in ok.stdout, ok.stdout[-2000:]
