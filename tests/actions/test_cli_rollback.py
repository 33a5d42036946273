"""``harness rollback`` end to end against ``harness serve`` in another process (``--target aws`` with
AWS_ENDPOINT_URL), and ``harness promote`` on an embedded rehearsal: the plan first, --dry-run and a
missing --allow-mutation change nothing, an apply moves the alias and prints one line per function."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.records import DeploymentRecord, read_records
from harness.targets.aws import AwsTarget
from tests.actions.conftest import in_window, observing, snapshot
from tests.conftest import REPO, aws_env

FN = "bbws-tenant-instance-management-sit"


@pytest.fixture
def observer(served: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> AwsTarget:
    """An ordinary AWS client view of the served SIT (what an operator's credentials would see)."""
    return observing(served, monkeypatch)


def harness(served: dict[str, str], *args: str, check_no_moto: bool = False) -> subprocess.CompletedProcess:
    """``harness <args>`` in a fresh interpreter against the served rehearsal (dummy credentials)."""
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("AWS_", "HARNESS_", "PYTEST_"))}
    env.update(aws_env(served["AWS_ENDPOINT_URL"]))
    code = "import sys; from harness.cli import main; rc = main(sys.argv[1:]); "
    code += "assert 'moto' not in sys.modules, 'moto imported for --target aws'; " if check_no_moto else ""
    code += "sys.exit(rc)"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def test_dry_run_prints_the_plan_changes_nothing_and_never_imports_moto(served, observer, tmp_path: Path) -> None:
    before = snapshot(observer)
    proc = harness(
        served,
        "rollback",
        "--env",
        "sit",
        "--target",
        "aws",
        "--function",
        FN,
        "--reason",
        "test",
        "--dry-run",
        "--reports-dir",
        str(tmp_path),
        check_no_moto=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("plan: rollback on bbws/sit (target aws)")
    assert f"update lambda:{FN}:alias/latest-sit FunctionVersion 3 -> 2" in proc.stdout
    assert "plan only (--dry-run): nothing changed" in proc.stdout
    assert snapshot(observer) == before and not list(tmp_path.iterdir())


def test_real_account_without_allow_mutation_prints_plan_and_changes_nothing(served, observer) -> None:
    before = snapshot(observer)
    proc = harness(served, "rollback", "--env", "sit", "--target", "aws", "--all", "--reason", "test")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert (
        "plan: rollback-all on bbws/sit" in proc.stdout
        and "REFUSED: no --allow-mutation on target aws: the plan above is what it would do; nothing changed"
        in proc.stdout
    )
    assert snapshot(observer) == before


def test_refusal_exits_3_and_changes_nothing(served, observer) -> None:
    before = snapshot(observer)
    proc = harness(
        served,
        "rollback",
        "--env",
        "sit",
        "--target",
        "aws",
        "--service",
        "tenant-instance-management",
        "--to-version",
        "99",
        "--reason",
        "test",
        "--allow-mutation",
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "REFUSED: " in proc.stdout and "version 99 is not a published version" in proc.stdout
    assert snapshot(observer) == before


def test_usage_mistake_is_one_line(served) -> None:
    proc = harness(served, "rollback", "--env", "sit", "--target", "aws", "--reason", "x")
    assert (
        proc.returncode == 2
        and proc.stderr.strip() == "harness: say what to roll back: --function NAME, --service NAME or --all"
    )


def test_apply_moves_the_alias_and_prints_plan_outcome_reports(served, observer, tmp_path: Path) -> None:
    proc = harness(
        served,
        "rollback",
        "--env",
        "sit",
        "--target",
        "aws",
        "--service",
        "tenant-instance-management",
        "--reason",
        "5xx after 1.0.3",
        "--allow-mutation",
        "--reports-dir",
        str(tmp_path),
        "--verify",
        "--api-base-url",
        served["HARNESS_API_BASE_URL"],
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert out.index("plan: rollback-all on bbws/sit") < out.index(f"  {FN}: 3 -> 2, health 200, COMPLETE")
    assert "[PASS] lambda-alias-version bbws-tenant-instance-management-sit" in out
    assert "COMPLETE: rollback-all bbws/sit — 1 rolled back" in out
    assert observer.client("lambda").get_alias(FunctionName=FN, Name="latest-sit")["FunctionVersion"] == "2"
    reports = out.strip().splitlines()[-1]
    assert reports.startswith("reports: ")
    paths = [Path(p) for p in reports.removeprefix("reports: ").split(", ")]
    assert all(p.exists() for p in paths) and {p.name.split("-")[0] for p in paths} == {"incident", "checklist"}
    assert "## Rollback Checklist" in paths[1].read_text() and "# Rollback Incident Report" in paths[0].read_text()


def test_promote_on_an_embedded_rehearsal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``harness promote --from sit --to prod``: gates, plan, a PROD peer inside a window, the 5-minute monitor,
    reports."""
    from harness.cli import main

    rc = main(
        [
            "promote",
            "--from",
            "sit",
            "--to",
            "prod",
            "--function",
            "bbws-ecs-event-handler-sit",
            "--approved-by",
            "Tech Lead",
            "--approved-by",
            "Operations Lead",
            "--reason",
            "CR-9",
            "--rehearsal-start",
            in_window().isoformat(),
            "--reports-dir",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "gate [PASS] source-errors" in out and "plan: promote on bbws/prod (target embedded)" in out
    assert "  bbws-ecs-event-handler-prod: 3 -> 4, monitor 300 s: no trigger, COMPLETE" in out
    files = sorted((tmp_path / "runs").glob("*/*.md"))
    assert sorted(p.name.split("-")[0] for p in files) == ["checklist", "report"]
    # an embedded rehearsal can never pass for production: verdict, file names and titles say REHEARSAL
    assert "REHEARSAL (moto" in out.splitlines()[-2] and "COMPLETE: promote sit -> prod" in out.splitlines()[-2]
    for path in files:
        assert "-REHEARSAL-moto-" in path.name, path.name
        assert path.read_text().splitlines()[0].startswith("# REHEARSAL (moto"), path.read_text()[:200]
        assert "rehearsal clock" in path.read_text()


BACKEND = "bbws-site-management-sit"  # not the API's function: only the Lambda rows verify it


@pytest.fixture
def error_logged(observer: AwsTarget) -> Iterator[str]:
    """An ERROR line in ``BACKEND``'s log group a minute ago, which the post-rollback ``log-errors`` row fails on
    (000 §7.4; seeded as tests/checks/test_violations.py does); afterwards the line is gone and the alias back
    on the seeded version 3."""
    logs, group, stream = observer.client("logs"), f"{observer.env.log_group_prefix}{BACKEND}", "harness-verify"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    at = int((time.time() - 60) * 1000)
    logs.put_log_events(
        logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": at, "message": "ERROR boom in handler"}]
    )
    yield BACKEND
    logs.delete_log_stream(logGroupName=group, logStreamName=stream)
    observer.client("lambda").update_alias(FunctionName=BACKEND, Name="latest-sit", FunctionVersion="3")


def rollback_verified(served: dict[str, str], reports: Path) -> subprocess.CompletedProcess:
    """``harness rollback --function BACKEND --verify`` against the served SIT."""
    return harness(
        served,
        *("rollback", "--env", "sit", "--target", "aws", "--function", BACKEND, "--reason", "5xx", "--verify"),
        *("--allow-mutation", "--reports-dir", str(reports)),
    )


def new_record(observer: AwsTarget, before: set[str]) -> DeploymentRecord:
    """The one rollback record of ``BACKEND`` written since ``before`` (the record ids there were)."""
    records = [r for r in read_records(observer.client("dynamodb"), observer.env) if r.record_id not in before]
    (record,) = [r for r in records if r.function == BACKEND]
    return record


def record_ids(observer: AwsTarget) -> set[str]:
    """Every record id in the deployments table now."""
    return {r.record_id for r in read_records(observer.client("dynamodb"), observer.env)}


def test_failed_verification_is_in_the_record_and_the_report_agrees(served, observer, error_logged, tmp_path) -> None:  # noqa: ANN001
    before = record_ids(observer)
    proc = rollback_verified(served, tmp_path)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert f"[FAIL] log-errors {BACKEND}" in out, out
    rows = [line for line in out.splitlines() if line.startswith("  [")]
    failing = [line for line in rows if line.startswith(("  [FAIL]", "  [ERROR]"))]
    assert "FAILED: rollback bbws/sit — " in out and "post-rollback checklist rows failed" in out
    record = new_record(observer, before)
    assert record.status == "FAILED", record
    verification = record.extra["verification"]
    assert verification["verdict"] == "FAIL" and verification["rows"] == len(rows), verification
    assert verification["failing"] == len(failing) == len(verification["failed"]), (verification, failing)
    assert f"log-errors {BACKEND}" in verification["failed"]
    assert record.functions[BACKEND].final_version == "2"  # the alias did move: the record still says where
    incident = next(tmp_path.glob("runs/*/incident-*.md")).read_text()
    assert f"audit record {record.record_id}: FAILED" in incident, incident
    assert "the action's own steps COMPLETE" not in incident  # report and record agree: nothing to explain


def test_passed_verification_is_in_the_record_which_stays_complete(served, observer, tmp_path) -> None:  # noqa: ANN001
    before = record_ids(observer)
    try:
        proc = rollback_verified(served, tmp_path)
        out = proc.stdout
        assert proc.returncode == 0, out + proc.stderr
        record = new_record(observer, before)
        verification = record.extra["verification"]
        assert record.status == "COMPLETE" and verification["verdict"] == "PASS", record
        assert verification["failing"] == 0 and verification["failed"] == [] and verification["rows"] >= 1
        incident = next(tmp_path.glob("runs/*/incident-*.md")).read_text()
        assert f"audit record {record.record_id}: COMPLETE" in incident, incident
    finally:
        observer.client("lambda").update_alias(FunctionName=BACKEND, Name="latest-sit", FunctionVersion="3")
