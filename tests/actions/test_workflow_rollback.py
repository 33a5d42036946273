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


def test_the_job_summary_is_the_json_results_failed_first(tmp_path, capsys, monkeypatch) -> None:  # noqa: ANN001
    """The workflow writes ``--output json`` per run and renders them with ``harness.cli.job_summary``: a refused
    run's section comes first with its reason; a completed one lists its counts, record and reports; an
    unreadable result is a section of its own, never dropped."""
    from harness.cli import main
    from harness.cli.job_summary import summary

    doc = yaml.safe_load(WORKFLOW.read_text())
    runs = "\n".join(str(s.get("run", "")) for s in doc["jobs"]["rollback"]["steps"])
    assert "--output json > reports/rollback-all.json" in runs
    assert 'python -m harness.cli.job_summary reports/rollback-*.json >> "$GITHUB_STEP_SUMMARY"' in runs
    for key in [k for k in __import__("os").environ if k.startswith(("AWS_", "HARNESS_"))]:
        monkeypatch.delenv(key)
    fn = "bbws-tenant-instance-management-sit"
    base = ["rollback", "--env", "sit", "--function", fn, "--reports-dir", str(tmp_path / "r"), "--output", "json"]
    assert main([*base, "--reason", "incident 42"]) == 0
    (tmp_path / "rollback-ok.json").write_text(capsys.readouterr().out)
    assert main([*base, "--reason", "incident 42", "--to-version", "99"]) != 0
    (tmp_path / "rollback-bad.json").write_text(capsys.readouterr().out)
    (tmp_path / "rollback-lost.json").write_text("{not json")
    text = summary([tmp_path / "rollback-ok.json", tmp_path / "rollback-bad.json", tmp_path / "rollback-lost.json"])
    heads = [line for line in text.splitlines() if line.startswith("### ")]
    assert len(heads) == 3 and heads[0].startswith("### ❌") and heads[-1].startswith("### ✅"), heads
    assert "rollback-lost.json: no readable result" in text and "99" in text
    ok = text[text.index(heads[-1]) :]
    assert (
        "bbws/sit (target embedded): COMPLETE" in heads[-1]
        and "Items: 1 COMPLETE" in ok
        and "Audit record: `rollback-" in ok
    )
    assert ok.count("- report: `") == 2
