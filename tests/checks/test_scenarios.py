"""The checklist scenarios end to end, in subprocesses: read-only against an account reached through
AWS_ENDPOINT_URL (the session's served SIT, nothing seeded again), complete reports and Allure evidence
under xdist (the one run here that seeds: one embedded emulator per worker)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import boto3

from harness.checks.catalogue import rows_for
from harness.inventory import load_inventory
from tests.checks.conftest import fidelity_installed
from tests.checks.test_violations import api_front
from tests.conftest import aws_env, run_pytest

CHECKLISTS = [
    "scenarios/test_post_rollback_verification.py",
    "scenarios/test_post_deployment_validation.py",
    "scenarios/test_pre_promotion.py",
]
READ_VERBS = ("Get", "Describe", "List", "Scan", "Query", "Head", "Filter")
READ_ONLY_EXTRA = {
    "lambda.Invoke",
    "logs.StartQuery",
}  # the /health invoke (000 §7.1 step 2); a Logs Insights query reads
WRITE_READ_OPS = {"s3.PutObject", "s3.DeleteObject", "dynamodb.PutItem", "dynamodb.DeleteItem"}


def _report_rows(reports: Path) -> list[str]:
    (report,) = reports.glob("verification-bbws-sit-*.md")
    return [
        line for line in report.read_text().splitlines() if line.startswith("| ") and not line.startswith("| Check")
    ]


def test_readonly_run_against_aws_target_makes_no_mutating_call(served_sit, tmp_path: Path) -> None:
    log = tmp_path / "ops.log"
    env = {**aws_env(served_sit["AWS_ENDPOINT_URL"]), "HARNESS_OP_LOG": str(log)}
    sit = load_inventory("bbws").environment("sit")
    healthy = {p: (200, json.dumps({"status": "ok"})) for p in sit.api.paths}
    with api_front(healthy) as stub:
        api = served_sit.get("HARNESS_API_BASE_URL") or stub  # the emulator's front when it has one
        proc = run_pytest(
            "scenarios/",
            "--env",
            "sit",
            "--target",
            "aws",
            "-m",
            "readonly",
            "-p",
            "tests.checks.op_recorder",
            "--reports-dir",
            str(tmp_path / "reports"),
            "--api-base-url",
            api,
            env=env,
        )
    ops = Counter(log.read_text().split())
    assert ops, proc.stdout[-3000:] + proc.stderr[-3000:]
    if fidelity_installed():
        assert proc.returncode == 0, proc.stdout[-3000:]
    mutating = {
        op
        for op in ops
        if op.split(".", 1)[1].startswith(READ_VERBS) is False and op not in READ_ONLY_EXTRA | {"sts.GetCallerIdentity"}
    }
    assert mutating <= WRITE_READ_OPS, sorted(mutating - WRITE_READ_OPS)
    # one GetMetricData per window: the §7 verification window and the gate's 24 h lookback
    assert ops["cloudwatch.GetMetricData"] == 2, ops
    # the write-read checks left nothing behind
    session = boto3.Session(aws_access_key_id="dummy", aws_secret_access_key="dummy", region_name=sit.region)
    s3 = session.client("s3", endpoint_url=served_sit["AWS_ENDPOINT_URL"])
    for bucket in sit.buckets:
        assert not s3.list_object_versions(Bucket=bucket.name, Prefix="harness-write-read/").get("Versions")
    assert len(_report_rows(tmp_path / "reports")) == len(rows_for(sit))


def test_xdist_run_report_is_complete_with_allure_evidence(tmp_path: Path) -> None:
    """The checklists and the smoke test with ``-n 2``: one seeded emulator per worker, every row in one
    report and in Allure (the drills in scenarios/ have their own tests)."""
    reports = tmp_path / "reports"
    proc = run_pytest(*CHECKLISTS, "scenarios/test_smoke.py", "--env", "sit", "-n", "2", "--reports-dir", str(reports))
    assert "one server per xdist worker" in proc.stdout
    sit = load_inventory("bbws").environment("sit")
    expected = rows_for(sit)
    rows = _report_rows(reports)
    assert len(rows) == len(expected), proc.stdout[-3000:]
    for planned in expected:
        assert any(f"| {planned.row.resource} |" in r and f"`{planned.spec.slug}`" in r for r in rows), planned.id
    if fidelity_installed():
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert all("**PASS**" in r or "**SKIP**" in r for r in rows)
    assert f"COMPLETE: {len(expected)} of {len(expected)} planned rows ran" in proc.stdout

    results_dir = reports / "allure-results"
    props = dict(line.split("=", 1) for line in (results_dir / "environment.properties").read_text().splitlines())
    assert {"inventory", "env", "account", "region", "target", "emulator", "harness"} <= set(props)
    assert props["account"] == sit.account and props["target"] == "embedded" and props["emulator"].startswith("moto ")
    categories = json.loads((results_dir / "categories.json").read_text())
    assert {c["name"] for c in categories} >= {"Infrastructure findings", "Harness errors", "Not measurable / warnings"}
    results = [json.loads(p.read_text()) for p in results_dir.glob("*-result.json")]
    by_story: Counter = Counter()
    for r in results:
        labels = {label["name"]: label["value"] for label in r.get("labels", [])}
        if "story" in labels:
            by_story[labels["story"]] += 1
            assert {"epic", "feature", "severity"} <= set(labels), labels
            assert any(a["type"] == "application/json" for a in r.get("attachments", []))
    assert sum(by_story.values()) == len(expected)
    assert set(by_story) == {p.spec.slug for p in expected}
    (report,) = [r for r in results if r["name"].startswith("Verification report")]
    (attachment,) = report["attachments"]
    assert attachment["type"] == "text/markdown"
    assert (results_dir / attachment["source"]).read_text().count("\n| ") >= len(expected)
    suite = ET.parse(reports / "junit.xml").getroot().find("testsuite")
    assert len(results) == int(suite.get("tests")) + 1, "every test reported under xdist (+ the verification report)"
