"""The drill suite as users run it: ``pytest scenarios/gameday --env sit -n 2`` passes, leaves per-drill and incident
reports, the summary with its RTO chart (in the run's reports and in Allure), one history line per drill that
accumulates across runs, a notification per drill, and every drill's environment as it found it; a team's script
runs through ``--recovery-cmd``; PROD's drills skip as protected; option mistakes are one line."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.drills.history import HISTORY_NAME
from tests.conftest import REPO, run_pytest
from tests.gameday.test_notify import Receiver

DRILLS = {
    "lambda-bad-deployment",
    "all-services-bad-deployment",
    "data-corruption-pitr",
    "terraform-state-corruption",
    "bad-promotion-auto-rollback",
}


def _run_dir(root: Path) -> Path:
    return sorted((root / "runs").iterdir())[-1]


PREVIOUS_RUN = {
    "format": "runbook-harness-gameday-history/1",
    "run": "20260101T000000Z-bbws-sit",
    "at": "2026-01-01T00:00:00+00:00",
    "inventory": "bbws",
    "env": "sit",
    "target": "embedded",
    "drill": "lambda-bad-deployment",
    "kind": "lambda_code",
    "outcome": "PASS",
    "rto_s": 1.2,
    "rto_clock": "rehearsal clock",
    "rto_wall_s": 0.2,
    "rto_target_s": 300.0,
}


@pytest.fixture(scope="module")
def suite_run(tmp_path_factory) -> dict:
    """The whole suite under -n 2, into a reports directory that already holds a previous run's history line, with a
    Slack receiver, and the team's (corrected) script as the all-services drill's recovery."""
    import threading
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.received = []
    root = tmp_path_factory.mktemp("gameday-reports")
    (root / HISTORY_NAME).write_text(json.dumps(PREVIOUS_RUN) + "\n")
    hooks = root / "hooks.log"
    script = f"{sys.executable} tests/gameday/fixtures/rollback_all_services.py sit 'game day' --previous alias"
    try:
        proc = run_pytest(
            "scenarios/gameday",
            "--env",
            "sit",
            "-n",
            "2",
            "--reports-dir",
            str(root),
            "--notify-slack-webhook",
            f"http://127.0.0.1:{server.server_address[1]}/hook",
            "--recovery-cmd",
            f"all-services-bad-deployment={script}",
            "-p",
            "tests.gameday.hook_recorder",
            env={"GAMEDAY_HOOK_LOG": str(hooks)},
            timeout=300,
        )
    finally:
        server.shutdown()
    return {
        "proc": proc,
        "root": root,
        "slack": list(Receiver.received),
        "hooks": hooks.read_text().splitlines() if hooks.exists() else [],
    }


def test_the_suite_passes_under_xdist(suite_run) -> None:
    proc = suite_run["proc"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "5 passed" in proc.stdout and "game day: 5 drill(s), 0 failed" in proc.stdout


def test_faults_are_announced_through_the_hooks(suite_run) -> None:
    hooks = suite_run["hooks"]
    assert sorted(h.split()[0] for h in hooks) == ["injected"] * 5 + ["reverted"] * 5
    assert all(h.endswith("active") for h in hooks if h.startswith("injected")) and all(
        h.endswith("reverted") for h in hooks if h.startswith("reverted")
    )


def test_every_drill_left_its_environment_as_it_found_it(suite_run) -> None:
    results = [json.loads(p.read_text()) for p in (_run_dir(suite_run["root"]) / "gameday").glob("*.json")]
    assert {r["name"] for r in results} == DRILLS
    for r in results:
        assert r["outcome"] == "PASS" and r["restored"] is True and r["differences"] == [], r["name"]
        # both clocks recorded; the wall-time goals are benchmarks/bench_gameday.py's, never a timed test
        assert r["rto_s"] <= r["rto_target_s"] and r["rto_wall_s"] > 0 and r["clock"] == "rehearsal clock", r


def test_reports_summary_chart_allure_and_notifications(suite_run) -> None:
    run = _run_dir(suite_run["root"])
    names = [p.name for p in run.iterdir()]
    for drill in DRILLS:
        assert any(n.startswith(f"gameday-{drill}-bbws-sit-") for n in names) and any(
            n.startswith(f"incident-gameday-{drill}-") for n in names
        )
    summary = next(run.glob("gameday-summary-bbws-sit-*.md")).read_text()
    assert (
        "- **result**: PASS (5 passed, 0 failed, 0 skipped)" in summary
        and "![RTO per drill across runs](gameday-rto.svg)" in summary
    )
    assert ET.fromstring((run / "gameday-rto.svg").read_text()).tag.endswith("svg")
    allure = [json.loads(p.read_text()) for p in (run / "allure-results").glob("*-result.json")]
    summary_result = [a for a in allure if a["name"].startswith("Game-day summary bbws/sit")]
    assert summary_result and summary_result[0]["status"] == "passed"
    assert {a["type"] for a in summary_result[0]["attachments"]} == {"text/markdown", "image/svg+xml"}
    assert (suite_run["root"] / "gameday-rto.svg").exists()  # published with the newest run
    assert len(suite_run["slack"]) == 5 and all(
        m["json"]["text"].startswith(":white_check_mark: GAME DAY") for m in suite_run["slack"]
    )


def test_history_accumulates_across_runs_and_records_the_team_script(suite_run) -> None:
    lines = [json.loads(line) for line in (suite_run["root"] / HISTORY_NAME).read_text().splitlines()]
    assert len(lines) == 6 and lines[0] == PREVIOUS_RUN  # appended to, never rewritten
    assert len({line["run"] for line in lines}) == 2  # the chart's x axis: two runs
    team = [line for line in lines if line["drill"] == "all-services-bad-deployment"]
    assert team[0]["recovery"].startswith("command: ") and "rollback_all_services.py" in team[0]["recovery"]
    summary = next(_run_dir(suite_run["root"]).glob("gameday-summary-*.md")).read_text()
    assert "- **history**: 6 drill run(s)" in summary


class Collected:
    """Records the skip reasons collection gave each item."""

    def __init__(self) -> None:
        self.reasons: dict[str, list[str]] = {}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            self.reasons[item.nodeid] = [m.kwargs.get("reason", "") for m in item.iter_markers("skip")]


def test_prod_drills_skip_as_protected_even_with_approvals(monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    seen = Collected()
    code = pytest.main(
        [
            "-p",
            "no:cacheprovider",
            "--collect-only",
            "-q",
            "scenarios/gameday",
            "--env",
            "prod",
            "--approved-by",
            "A",
            "--approved-by",
            "B",
            "--reason",
            "r",
        ],
        plugins=[seen],
    )
    assert code == 0 and len(seen.reasons) == 5
    for reasons in seen.reasons.values():
        assert reasons[0].startswith(
            "game-day drills never run on protected environment bbws/prod, even with approvals"
        )


def test_option_mistakes_are_one_line(run_here) -> None:
    proc = run_here("scenarios/gameday", "--env", "sit", "--recovery-cmd", "no-such-drill=bash x.sh")
    assert proc.returncode == 4 and "unknown drill 'no-such-drill'" in proc.stderr
    proc = run_here("scenarios/gameday", "--env", "sit", "--recovery-cmd", "bad-promotion-auto-rollback=bash x.sh")
    assert proc.returncode == 4 and "automatic rollback" in proc.stderr
    proc = run_here("scenarios/gameday", "--env", "sit", "--notify-sns-topic", "my-topic")
    assert proc.returncode == 4 and "not an SNS topic ARN" in proc.stderr
