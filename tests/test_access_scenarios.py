"""The scenarios against bbws-access (002), end to end in a subprocess: functions found by name prefix
(no named function), alias ``live``, PK/SK deployments table, SSM deployed-version, S3 lockfile locking
(no Terraform lock table), no ``sit-to-prod`` approval rule. Every scenario passes or skips with its
reason there; none fails and none errors (a fixture's ``StopIteration`` once did)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.terraform import unavailable
from tests.conftest import run_pytest

# Game-day drills, PropIE's and the read-only checklists have tests of their own: the mutating scenarios here.
SCENARIOS = [
    "scenarios/test_lambda_rollback.py",
    "scenarios/test_rollback_all_services.py",
    "scenarios/test_promotion_dev_to_sit.py",
    "scenarios/test_promotion_sit_to_prod.py",
    "scenarios/test_terraform_state_rollback.py",
]


def _outcomes(junit: Path) -> dict[str, tuple[str, str]]:
    """``file::test[param]`` -> (passed | failed | error | skipped, message) from a junit report."""
    out: dict[str, tuple[str, str]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                outcome, message = {"failure": "failed"}.get(tag, tag), found.get("message") or ""
                break
        out[name] = (outcome, message)
    return out


def _run(env_name: str, tmp_path: Path) -> dict[str, tuple[str, str]]:
    reports = tmp_path / "reports"
    proc = run_pytest(
        *SCENARIOS, "--inventory", "bbws-access", "--env", env_name, "--reports-dir", str(reports), "-q", "-rfEs"
    )
    outcomes = _outcomes(reports / "junit.xml")
    bad = {n: o for n, o in outcomes.items() if o[0] in ("failed", "error")}
    assert proc.returncode == 0 and not bad, f"{bad}\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
    return outcomes


def test_sit_rollbacks_locks_and_drills_pass_promotion_to_prod_skips(tmp_path: Path) -> None:
    """SIT: one discovered function rolled back three ways and every function at once, verified by the rows named by
    prefix; the lockfile's stuck lock FAILs the row, then is released; the promotion into PROD skips with the
    refusal."""
    outcomes = _run("sit", tmp_path)
    for how in ("previous", "backup-alias", "release-label"):
        assert outcomes[f"test_lambda_rollback::test_rollback_one_function[{how}]"][0] == "passed", outcomes
    assert outcomes["test_rollback_all_services::test_rollback_all_services"][0] == "passed", outcomes
    assert outcomes["test_terraform_state_rollback::test_stuck_lock_release"][0] == "passed", outcomes
    for test in ("test_promote_first_service", "test_bad_release_rolls_back_automatically"):
        outcome, message = outcomes[f"test_promotion_sit_to_prod::{test}"]
        assert outcome == "skipped" and "no approval rule 'sit-to-prod'" in message, (test, outcome, message)
    if unavailable() is None:  # the drill with real Terraform: lockfile locking, so the runbook's copy is enough
        assert outcomes["test_terraform_state_rollback::test_terraform_drill[runbook]"][0] == "passed", outcomes
        assert outcomes["test_terraform_state_rollback::test_terraform_drill[harness]"][0] == "passed", outcomes
    drill = next(iter((tmp_path / "reports").rglob("terraform-drill-runbook-sit-*.md")), None)
    if drill is not None:
        assert "seed defect 2 (Digest left stale) does not apply" in drill.read_text()


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_dev_and_prod_never_fail_or_error(env_name: str, tmp_path: Path) -> None:
    """DEV promotes the stack into SIT (rows named by prefix verified there); PROD without approvals skips with the
    reason."""
    outcomes = _run(env_name, tmp_path)
    if env_name == "dev":
        assert outcomes["test_promotion_dev_to_sit::test_promote_stack"][0] == "passed", outcomes
    else:
        assert {o for o, _ in outcomes.values()} == {"skipped"}, outcomes
