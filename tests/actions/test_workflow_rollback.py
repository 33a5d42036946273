"""The rollback workflow (.github/workflows/rollback.yml): valid against GitHub's workflow schema (offline),
002's rollback-lambda.yml inputs, OIDC from the inventory's role, the harness CLI, then the checklist."""

from __future__ import annotations

import subprocess
import sys

import yaml

from tests.conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "rollback.yml"


def test_workflow_is_valid_github_workflow() -> None:
    # check-jsonschema (test extra) ships GitHub's workflow schema: validated without the network.
    proc = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_inputs_oidc_cli_and_checklist() -> None:
    doc = yaml.safe_load(WORKFLOW.read_text())
    on = doc.get("on") or doc.get(True)  # YAML 1.1 reads a bare `on` as true
    inputs = on["workflow_dispatch"]["inputs"]
    assert {"environment", "target_version", "services", "reason"} <= set(inputs)  # 002 rollback-lambda.yml
    assert inputs["environment"]["options"] == ["dev", "sit", "prod"] and inputs["reason"]["required"] is True
    assert doc["permissions"]["id-token"] == "write"
    steps = doc["jobs"]["rollback"]["steps"]
    oidc = next(s for s in steps if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials"))
    assert "steps.inventory.outputs.role_arn" in oidc["with"]["role-to-assume"]
    runs = "\n".join(str(s.get("run", "")) for s in steps)
    assert "load_inventory" in runs and "env.role" in runs
    assert "harness rollback --all" in runs and "--target aws" in runs and "--allow-mutation" in runs
    assert 'pytest scenarios/test_post_rollback_verification.py --env "$ENV_NAME" --target aws' in runs
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert upload["with"]["path"] == "reports/" and upload["if"] == "always()"
