"""The team's own runbook script as a drill's recovery (``--recovery-cmd``), judged by the same checklist and RTO.

The script (tests/gameday/fixtures/rollback_all_services.py) is 000 §4.4 ported to boto3; with ``--previous
runbook`` it keeps the runbook's ``Versions[-2]`` (seed defect 4). With the alias not on the newest version (a
hotfix published but not deployed), that script leaves every alias on the bad version and the drill fails naming
the rows that stayed red; the corrected script passes. It reaches the rehearsal through AWS_ENDPOINT_URL and dummy
credentials only (no account header: the server's default account is the environment's).
"""

from __future__ import annotations

import sys

from harness.drills.digest import environment_digest
from harness.drills.external import command_environment, run_command, with_command
from harness.drills.lambda_drills import bad_deployment_drill
from harness.drills.model import FAIL, PASS
from harness.drills.runner import run_drill
from tests.conftest import REPO
from tests.gameday.conftest import ALLOW, script


def _drill(rehearsal, probe, rule: str, newer_undeployed: int):  # type: ignore[no-untyped-def]
    spec = bad_deployment_drill(rehearsal, ALLOW, probe, all_services=True, newer_undeployed=newer_undeployed)
    return run_drill(with_command(spec, script(rule), cwd=REPO), digest=environment_digest)


def test_the_corrected_script_recovers_with_the_alias_not_on_the_newest_version(rehearsal, probe) -> None:
    result = _drill(rehearsal, probe, "alias", newer_undeployed=1)
    assert result.outcome == PASS, result.message()
    assert result.recovery.method.startswith("command: ") and result.recovery.command.exit_code == 0
    assert "Rolled back" in result.recovery.command.stdout
    # The script records nothing (000 §4.4 has no record step): reported as WARN, closed by the cleanup.
    audit = [r for r in result.rows["verification"] if r["slug"] == "audit-record"]
    assert audit and {r["verdict"] for r in audit} == {"warn"}
    assert result.restored is True, result.differences


def test_the_runbooks_versions_minus_two_fails_and_says_which_rows_stayed_red(rehearsal, probe) -> None:
    result = _drill(rehearsal, probe, "runbook", newer_undeployed=1)
    assert result.outcome == FAIL
    message = result.message()
    fn = rehearsal.env.api.function
    assert f"stayed red: health-endpoint on {fn}" in message, message
    assert f"red: lambda-alias-version on {fn}" in message and "stayed red: api-health on /v1/health" in message
    assert result.recovery.command.exit_code == 0  # the script thinks it worked: only the checklist knows
    assert result.restored is True, result.differences


def test_the_runbooks_pick_happens_to_work_when_the_alias_is_on_the_newest_version(rehearsal, probe) -> None:
    """Seed defect 4 is conditional: with no newer version published, Versions[-2] is the right target."""
    assert _drill(rehearsal, probe, "runbook", newer_undeployed=0).outcome == PASS


def test_the_command_points_at_the_rehearsal_with_dummy_credentials(rehearsal, monkeypatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "bbws-prod")  # a platform engineer's shell: never read by a rehearsal's command
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-looking-secret")
    child, shown = command_environment(rehearsal)
    assert child["AWS_ENDPOINT_URL"] == rehearsal.server.url and child["AWS_ACCESS_KEY_ID"] == "testing"
    assert (
        "AWS_PROFILE" not in child
        and child["AWS_SECRET_ACCESS_KEY"] == "testing"
        and "AWS_SECRET_ACCESS_KEY" not in shown
    )
    assert shown["AWS_DEFAULT_REGION"] == rehearsal.env.region and shown["HARNESS_ENV"] == "sit"
    code = "import boto3; print(boto3.client('sts').get_caller_identity()['Account'])"
    ran = run_command([sys.executable, "-c", code], rehearsal, timeout_s=60)
    assert ran.ok and ran.stdout.strip() == rehearsal.env.account, ran.stderr


def test_a_command_that_does_not_start_or_times_out_is_a_failed_recovery(rehearsal) -> None:
    missing = run_command(["/nonexistent/rollback.sh", "sit"], rehearsal, timeout_s=5)
    assert not missing.ok and "FileNotFoundError" in missing.stderr
    slow = run_command([sys.executable, "-c", "import time; time.sleep(5)"], rehearsal, timeout_s=0.5)
    assert slow.timed_out and not slow.ok
