"""Game-day reports without an emulator: the drill report (milestones and phases on both clocks), its 000 §8 incident
report, the summary, the RTO chart (valid SVG, one line per drill, failed runs marked), and the history file
(one JSON line per drill, appended concurrently without interleaving)."""

from __future__ import annotations

import json
import multiprocessing
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path

from harness.actions.base import Event
from harness.drills import history
from harness.drills.model import DrillResult, PhaseRecord, Recovery, row
from harness.inventory import load_inventory
from harness.report.gameday import render_drill, render_drill_incident, render_summary
from harness.report.svg_chart import rto_chart

T0 = datetime(2026, 1, 25, 22, 0, tzinfo=timezone.utc)
SVG = "{http://www.w3.org/2000/svg}"


def drill(name: str = "lambda-bad-deployment", rto: float = 4.0, ok: bool = True, run: str = "run-1") -> DrillResult:
    r = DrillResult(
        name,
        f"Drill {name}",
        "lambda_code",
        "000 §4.2",
        "bbws",
        "sit",
        "embedded",
        "rehearsal clock",
        run_id=run,
        rto_target_s=300.0,
        rto_ref="002 Rollback Scenarios & Recovery Times",
        severity="P2",
        root_cause="a bad version",
    )
    r.started, r.injected_at = T0, T0 + timedelta(seconds=1)
    r.detected_at, r.recovery_started = T0 + timedelta(seconds=2), T0 + timedelta(seconds=2)
    r.recovered_at = T0 + timedelta(seconds=3)
    r.verified_at = r.injected_at + timedelta(seconds=rto)
    r.rto_s, r.rto_wall_s, r.restored = rto, 0.4, True
    r.phases = [PhaseRecord("recovery", T0, T0 + timedelta(seconds=300), 0.3)]
    r.rows = {
        "detection": [row("health-endpoint", "fn", "200", "statusCode 500", False, "000 §4.2.5")],
        "verification": [row("health-endpoint", "fn", "200", "statusCode 200", True, "000 §4.2.5")],
    }
    r.fault = {
        "name": "bad-lambda-version",
        "resource": "lambda:fn:alias/latest-sit",
        "ref": "000 §1.2",
        "before": {"fn": {"version": "3"}},
        "after": {"fn": {"version": "4"}},
    }
    r.recovery = Recovery("harness rollback", True, "COMPLETE")
    r.timeline = [Event(r.injected_at, "fault injected"), Event(r.verified_at, "verification completed")]
    if not ok:
        r.fail("not recovered: stayed red: health-endpoint on fn")
    return r


def test_drill_report_states_rto_on_both_clocks_and_the_objective() -> None:
    text = render_drill(drill())
    assert "**RTO** (fault injected to recovery verified): 4.0 s on the rehearsal clock; 0.4 s wall clock" in text
    assert "**objective**: 5 min 0 s for lambda_code (002 Rollback Scenarios & Recovery Times)" in text
    assert (
        "| recovery | 5 min 0 s | 0.3 s | yes |" in text
    )  # a rehearsal wait: minutes on the drill's clock, no wall time
    assert "| issue detected | 2026-01-25T22:00:02Z | 1.0 s |" in text and "## Rows: detection" in text


def test_incident_report_is_000_section_8_for_a_drill() -> None:
    text = render_drill_incident(drill(), load_inventory("bbws").environment("sit"))
    assert text.startswith("# Rollback Incident Report (game day: Drill lambda-bad-deployment)")
    for heading in (
        "## Incident Summary",
        "## Affected Services",
        "## Timeline",
        "## Root Cause",
        "## Rollback Details",
        "## Verification Results",
    ):
        assert heading in text
    assert "- **Incident ID**: GAMEDAY-20260125-lambda-bad-deployment" in text and "not a production incident" in text
    assert "| Lambda health | PASS |" in text


def test_summary_and_chart_across_runs() -> None:
    lines = [
        history.history_line(drill("lambda-bad-deployment", rto, ok, f"run-{i}"))
        for i, (rto, ok) in enumerate([(4, True), (6, False), (3, True)])
    ]
    lines += [history.history_line(drill("data-corruption-pitr", 301.0, True, f"run-{i}")) for i in range(3)]
    svg = rto_chart(lines, title="RTO per drill across runs: bbws/sit")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert len(list(root.iter(f"{SVG}polyline"))) == 2  # one line per drill
    circles = list(root.iter(f"{SVG}circle"))
    assert len(circles) == 6 and sum(1 for c in circles if c.get("fill") == "#d62728") == 1  # the failed run in red
    assert any("objective 5 min" in (t.text or "") for t in root.iter(f"{SVG}text"))
    results = [drill().to_dict(), drill("state", 2.0, ok=False).to_dict()]
    text = render_summary(
        results, lines, title="bbws/sit", chart="gameday-rto.svg", history_path="reports/gameday-history.jsonl"
    )
    assert (
        "- **result**: FAIL (1 passed, 1 failed, 0 skipped)" in text
        and "![RTO per drill across runs](gameday-rto.svg)" in text
    )
    assert "- `state` FAIL: not recovered: stayed red: health-endpoint on fn" in text
    assert ET.fromstring(rto_chart([])).find(f"{SVG}text") is not None  # an empty history still draws


def _append_many(path: str, worker: int) -> None:
    for i in range(100):
        history.append(Path(path), {"drill": f"d{worker}", "n": i, "pad": "x" * 300})


def test_history_appends_from_two_processes_never_interleave(tmp_path) -> None:
    path = tmp_path / "reports" / history.HISTORY_NAME
    procs = [multiprocessing.get_context("fork").Process(target=_append_many, args=(str(path), w)) for w in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    lines = path.read_text().splitlines()
    assert len(lines) == 200 and all(json.loads(line)["pad"] == "x" * 300 for line in lines)
    assert len(history.read(path)) == 200
    path.write_text(path.read_text() + "{truncated\n")
    assert len(history.read(path)) == 200  # an unreadable line costs one point, not the history
