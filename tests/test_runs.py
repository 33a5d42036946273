"""Trustworthy runs: run directories that keep evidence, INCOMPLETE runs that never read PASS,
visible WARN rows, failed steps that look failed, and stable Allure history ids.

Every run here is a pytest subprocess against one served SIT (``harness serve`` in a subprocess, shared by
the session) through ``--target aws``: the account guard passes and nothing is seeded again.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from harness.checks.catalogue import rows_for
from harness.inventory import load_inventory
from tests.conftest import REPO, run_pytest, sit_run_args, sit_run_env

SIT = load_inventory("bbws").environment("sit")
PRE_PROMOTION = "scenarios/test_pre_promotion.py"
POST_ROLLBACK = "scenarios/test_post_rollback_verification.py"


def _run(
    served: dict[str, str], reports: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return run_pytest(
        *args, *sit_run_args(served), "--reports-dir", str(reports), env={**sit_run_env(served), **(env or {})}
    )


def _report(folder: Path) -> str:
    (path,) = folder.glob("verification-bbws-sit-*.md")
    return path.read_text(encoding="utf-8")


def _line(report: str, key: str) -> str:
    return next(line for line in report.splitlines() if line.startswith(f"- **{key}**:"))


def _props(allure_dir: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (allure_dir / "environment.properties").read_text().splitlines())


def _results(allure_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in allure_dir.glob("*-result.json")]


def _run_dirs(reports: Path) -> list[Path]:
    return sorted(p for p in (reports / "runs").iterdir() if p.is_dir())


def _snapshot(reports: Path) -> dict[str, bytes]:
    """The published files (top level of reports/) and their bytes."""
    files = {p.name: p.read_bytes() for p in reports.glob("verification-*.md")}
    files["junit.xml"] = (reports / "junit.xml").read_bytes()
    for p in (reports / "allure-results").iterdir():
        files[f"allure-results/{p.name}"] = p.read_bytes()
    return files


# -- evidence is kept ---------------------------------------------------------------------------------


def test_a_refused_or_empty_run_keeps_the_last_good_runs_reports(served_sit, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    good = _run(served_sit, reports, PRE_PROMOTION)
    assert good.returncode == 0, good.stdout[-3000:] + good.stderr[-2000:]
    (good_dir,) = _run_dirs(reports)
    assert (reports / "latest").resolve() == good_dir.resolve()
    assert "- **result**: PASS" in _report(reports) and "COMPLETE: 21 of 21 planned rows ran" in _report(reports)
    assert _report(good_dir) == _report(reports), "the top level is a copy of the run that ran"
    suite = ET.parse(reports / "junit.xml").getroot().find("testsuite")
    assert int(suite.get("tests")) == len(rows_for(SIT, "pre-promotion"))
    before = _snapshot(reports)
    assert any(name.endswith("-result.json") for name in before)

    # --env prod with SIT's credentials: refused by the account guard, one line, nothing published
    refused = run_pytest(
        PRE_PROMOTION, "--env", "prod", "--target", "aws", "--reports-dir", str(reports), env=sit_run_env(served_sit)
    )
    errors = [line for line in (refused.stdout + refused.stderr).splitlines() if line.strip()]
    assert refused.returncode != 0 and len(errors) == 1 and errors[0].startswith("ERROR: refusing to run"), errors
    assert _snapshot(reports) == before
    refused_dir = (reports / "latest").resolve()
    assert refused_dir != good_dir.resolve() and refused_dir.parent == (reports / "runs").resolve()
    record = json.loads((refused_dir / "run.json").read_text())
    assert record["outcome"] == "refused" and "093646564004" in record["error"]

    # a run that collects nothing: its (empty) junit.xml stays in its run directory
    empty = _run(served_sit, reports, PRE_PROMOTION, "-k", "no-such-row", "--keep-runs", "2")
    assert empty.returncode == 5, empty.stdout[-2000:]
    assert _snapshot(reports) == before
    assert "keeps the previous run's files" in empty.stdout
    empty_dir = (reports / "latest").resolve()
    assert json.loads((empty_dir / "run.json").read_text())["outcome"] == "ran nothing"
    assert (empty_dir / "junit.xml").is_file()
    # --keep-runs 2: the good run's directory went, its published copies did not
    assert [p.resolve() for p in _run_dirs(reports)] == [refused_dir, empty_dir]
    assert _snapshot(reports) == before


def test_latest_falls_back_to_a_pointer_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import run_dirs

    def no_symlinks(*args: object, **kwargs: object) -> None:
        raise OSError("symlinks not allowed here")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    first = run_dirs.create_run(tmp_path, "bbws", "sit")
    second = run_dirs.create_run(tmp_path, "bbws", "sit")
    assert second.name == f"{first.name}-2"
    run_dirs.point_latest(tmp_path, first)
    run_dirs.point_latest(tmp_path, second)
    assert (tmp_path / "latest").read_text().strip() == f"runs/{second.name}"
    assert run_dirs.resolve_latest(tmp_path) == second.resolve()
    assert run_dirs.prune(tmp_path, 1, current=second) == [first] and run_dirs.run_dirs(tmp_path) == [second]


# -- INCOMPLETE: interrupted or deselected runs never read PASS ---------------------------------------


@pytest.mark.parametrize("workers", [None, "2"], ids=["serial", "xdist"])
def test_sigint_after_the_first_rows_reads_incomplete(served_sit, tmp_path: Path, workers: str | None) -> None:
    reports, pause = tmp_path / "reports", tmp_path / "paused"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_", "PYTEST_"))}
    env.update(sit_run_env(served_sit), HARNESS_TEST_PAUSE_AFTER="2", HARNESS_TEST_PAUSE_FILE=str(pause))
    args = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-p",
        "tests.pause_plugin",
        "scenarios/",
        *sit_run_args(served_sit),
        "--reports-dir",
        str(reports),
        *(["-n", workers] if workers else []),
    ]
    proc = subprocess.Popen(
        args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("paused.*"))) < (int(workers) if workers else 1):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        time.sleep(0.5)  # the paused rows' reports reach the controller
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole process group, as a terminal sends it
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out[-3000:] + err[-2000:]
    planned = len(rows_for(SIT))
    report = _report(reports)
    run, result = _line(report, "run"), _line(report, "result")
    assert (
        run.startswith("- **run**: INCOMPLETE: ") and f"of {planned} planned rows ran" in run and "(interrupted)" in run
    ), run
    assert "PASS" not in result.split("(")[0] and "INCOMPLETE" in result, result
    assert "## Not run (" in report
    props = _props(reports / "allure-results")
    assert props["result"] == "INCOMPLETE" and props["checklist"].startswith("INCOMPLETE: "), props
    assert f"of {planned} planned rows ran" in out and "PASS;" not in out
    record = json.loads(((reports / "latest") / "run.json").read_text())
    assert (
        record["outcome"] == "interrupted"
        and record["checklist"]["complete"] is False
        and record["checklist"]["ran"] >= 2
    )


def test_deselected_rows_make_the_run_incomplete(served_sit, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = _run(served_sit, reports, PRE_PROMOTION, "-k", "source-health")
    assert proc.returncode == 0, proc.stdout[-3000:]
    report = _report(reports)
    gated = len(rows_for(SIT, "pre-promotion"))
    health = len(rows_for(SIT, "pre-promotion", ("source-health",)))
    assert (
        _line(report, "run")
        == f"- **run**: INCOMPLETE: {health} of {gated} planned rows ran, {gated - health} not run (deselected by "
        "-k/-m)"
    )
    assert _line(report, "result").startswith("- **result**: INCOMPLETE (")
    assert report.count("| deselected (-k / -m) |") == gated - health
    assert _props(reports / "allure-results")["result"] == "INCOMPLETE"


# -- WARN is visible, FAIL steps look failed, history ids are stable ----------------------------------


@pytest.fixture
def recommended_table_without_pitr(served_sit) -> Iterator[str]:
    """The deployments table (PITR "recommended") with PITR off: its dynamodb-pitr row is WARN."""
    (table,) = [t.name for t in SIT.tables if t.pitr == "recommended"]
    session = boto3.Session(aws_access_key_id="dummy", aws_secret_access_key="dummy", region_name=SIT.region)
    ddb = session.client("dynamodb", endpoint_url=served_sit["AWS_ENDPOINT_URL"])
    spec = {"PointInTimeRecoveryEnabled": False}
    ddb.update_continuous_backups(TableName=table, PointInTimeRecoverySpecification=spec)
    yield table
    ddb.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )


def _checklist_results(allure_dir: Path) -> list[dict]:
    return [r for r in _results(allure_dir) if any(label["name"] == "story" for label in r.get("labels", []))]


def _label(result: dict, name: str) -> list[str]:
    return [label["value"] for label in result.get("labels", []) if label["name"] == name]


def test_fail_and_warn_rows_are_visible_and_history_ids_stable(
    served_sit, recommended_table_without_pitr: str, tmp_path: Path
) -> None:
    fn = SIT.functions[0].name
    args = (POST_ROLLBACK, "-k", "dynamodb-pitr or lambda-alias-version", "--expect-version", f"{fn}=1")
    first = _run(served_sit, tmp_path / "one", *args)
    second = _run(served_sit, tmp_path / "two", *args)
    assert first.returncode == second.returncode == 1, first.stdout[-3000:] + first.stderr[-2000:]
    assert re.search(rf"FAILED .*test_checklist\[lambda-alias-version-{fn}\]", first.stdout)

    # the terminal lists the WARN row like pytest's short summary: slug, resource, observed
    assert f"WARN dynamodb-pitr {recommended_table_without_pitr}: PITR DISABLED" in first.stdout, first.stdout[-3000:]
    assert "checklist: 1 WARN" in first.stdout
    report = _report(tmp_path / "one")
    assert _line(report, "result").startswith("- **result**: FAIL") and _line(report, "run").startswith(
        "- **run**: INCOMPLETE"
    )
    table = [line for line in report.splitlines() if line.startswith("| ") and not line.startswith(("| Check", "|---"))]
    assert "**FAIL**" in table[0] and fn in table[0] and "version 1" in table[0], "failing rows first"

    allure_dir = tmp_path / "one" / "allure-results"
    results = _checklist_results(allure_dir)
    assert len(results) == len(rows_for(SIT, "post-rollback", ("dynamodb-pitr", "lambda-alias-version")))
    (warn,) = [r for r in results if _label(r, "verdict") == ["warn"]]
    assert warn["status"] == "passed" and warn["statusDetails"]["message"].startswith("WARN: PITR DISABLED")
    assert "WARN" in _label(warn, "tag")
    categories = json.loads((allure_dir / "categories.json").read_text())
    assert categories[0]["name"] == "Not measurable / warnings" and categories[0]["matchedStatuses"] == ["passed"]
    (failed,) = [r for r in results if r["status"] == "failed"]
    (step,) = failed["steps"]
    assert step["name"] == f"lambda-alias-version on {fn}: FAIL" and step["status"] == "failed", step
    assert all(s["status"] == "passed" for r in results if r["status"] == "passed" for s in r["steps"])

    # readable parameters, no object reprs; the same rows give the same history ids run after run
    for r in results:
        params = {p["name"]: p["value"] for p in r["parameters"]}
        assert (
            params["env"] == "bbws/sit" and params["row"] == f"{_label(r, 'story')[0]} on {_label(r, 'resource')[0]}"
        ), params
        assert "0x" not in json.dumps(r["parameters"])
    ids_one = {r["name"]: r["historyId"] for r in results}
    ids_two = {r["name"]: r["historyId"] for r in _checklist_results(tmp_path / "two" / "allure-results")}
    assert ids_one == ids_two and len(set(ids_one.values())) == len(ids_one)


def test_stopping_after_a_failure_reads_incomplete_and_fail(served_sit, tmp_path: Path) -> None:
    reports, fn = tmp_path / "reports", SIT.functions[0].name
    proc = _run(served_sit, reports, POST_ROLLBACK, "-x", "--expect-version", f"{fn}=1")
    assert proc.returncode == 1, proc.stdout[-3000:]
    report = _report(reports)
    assert _line(report, "run").endswith("not run (stopping after 1 failures (-x/--maxfail))"), _line(report, "run")
    assert _line(report, "result").startswith("- **result**: FAIL (")


def test_a_crashed_worker_makes_the_run_incomplete_and_names_the_row(served_sit, tmp_path: Path) -> None:
    """An xdist worker that dies mid-row (OOM killer, segfault): its row is "not run" with the crash, the run
    INCOMPLETE, never PASS; the other rows still ran on the worker xdist starts in its place."""
    reports, fn = tmp_path / "reports", SIT.functions[0].name
    proc = _run(
        served_sit,
        reports,
        POST_ROLLBACK,
        "-n",
        "2",
        "-p",
        "tests.crash_worker",
        env={"CRASH_NODE": f"lambda-alias-version-{fn}]"},
    )
    assert proc.returncode != 0, proc.stdout[-3000:]
    report = _report(reports)
    assert _line(report, "run").startswith("- **run**: INCOMPLETE"), _line(report, "run")
    assert not _line(report, "result").startswith("- **result**: PASS"), _line(report, "result")
    crashed = [line for line in report.splitlines() if f"| {fn} |" in line and "lambda-alias-version" in line]
    assert crashed and "not run" in crashed[0] and "crashed" in crashed[0], crashed or report[-3000:]
