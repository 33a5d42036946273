"""The RTO chart, parsed: every run of the history drawn (none dropped), failed runs marked red (a cross where the
drill never recovered), each drill in its own panel against its own objective, and the runs' dates on the axis."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from typing import Any

from harness.report.svg_chart import FAILED, rto_chart

SVG = "{http://www.w3.org/2000/svg}"
DAY0 = datetime(2026, 1, 20, 22, 0, tzinfo=timezone.utc)


def _line(drill: str, run: int, rto: float | None, outcome: str, objective: float, kind: str) -> dict[str, Any]:
    at = DAY0 + timedelta(days=run)
    return {
        "run": f"{at:%Y%m%dT%H%M%SZ}-bbws-sit",
        "at": at.isoformat(timespec="seconds"),
        "drill": drill,
        "kind": kind,
        "outcome": outcome,
        "rto_s": rto,
        "rto_target_s": objective,
    }


def _history(runs: int) -> list[dict[str, Any]]:
    out = []
    for i in range(runs):
        lambda_rto, lambda_outcome = (None, "FAIL") if i == 1 else (4.0 + i, "PASS")
        out.append(_line("lambda-bad-deployment", i, lambda_rto, lambda_outcome, 300.0, "lambda_code"))
        out.append(_line("data-corruption-pitr", i, 900.0 + i, "FAIL" if i == 2 else "PASS", 3600.0, "database"))
    return out


def _panels(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {g.get("data-drill", ""): g for g in root.iter(f"{SVG}g") if g.get("class") == "drill"}


def _markers(panel: ET.Element) -> list[ET.Element]:
    return [e for e in panel if (e.get("class") or "").startswith("run ")]


def test_each_drill_is_drawn_against_its_own_objective() -> None:
    panels = _panels(rto_chart(_history(4)))
    assert set(panels) == {"lambda-bad-deployment", "data-corruption-pitr"}
    objectives = {}
    for name, panel in panels.items():
        (line,) = [e for e in panel if e.get("class") == "objective"]
        objectives[name] = float(line.get("data-seconds", "0"))
        assert any(t.text and t.text.startswith("objective ") for t in panel.iter(f"{SVG}text"))
    assert objectives == {"lambda-bad-deployment": 300.0, "data-corruption-pitr": 3600.0}


def test_every_run_is_drawn_and_failed_runs_are_marked() -> None:
    panels = _panels(rto_chart(_history(4)))
    lam = _markers(panels["lambda-bad-deployment"])
    assert sorted(int(m.get("data-run", "-1")) for m in lam) == [0, 1, 2, 3]  # the unrecovered run too
    (never,) = [m for m in lam if "failed" in (m.get("class") or "")]
    assert never.tag == f"{SVG}path" and never.get("stroke") == FAILED and never.get("data-run") == "1"
    assert "not recovered" in (never.findtext(f"{SVG}title") or "")
    pitr = _markers(panels["data-corruption-pitr"])
    (slow,) = [m for m in pitr if "failed" in (m.get("class") or "")]
    assert slow.tag == f"{SVG}circle" and slow.get("fill") == FAILED and slow.get("data-run") == "2"
    assert all(m.get("fill") != FAILED for m in pitr + lam if "passed" in (m.get("class") or ""))


def test_the_axis_shows_the_runs_dates() -> None:
    root = ET.fromstring(rto_chart(_history(4)))
    dates = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "date"]
    assert dates == [f"2026-01-{20 + i} 22:00" for i in range(4)]


def test_a_long_history_keeps_every_run_and_thins_only_the_labels() -> None:
    root = ET.fromstring(rto_chart(_history(45)))
    panels = _panels(ET.tostring(root, encoding="unicode"))
    assert all(len(_markers(p)) == 45 for p in panels.values())
    runs = [int(t.get("data-run", "-1")) for t in root.iter(f"{SVG}text") if t.get("class") == "date"]
    assert runs[0] == 0 and runs[-1] == 44 and len(runs) <= 11


def test_a_record_without_a_date_is_dated_by_its_run_id() -> None:
    line = {**_line("lambda-bad-deployment", 0, 3.0, "PASS", 300.0, "lambda_code"), "at": None}
    root = ET.fromstring(rto_chart([line]))
    assert [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "date"] == ["2026-01-20 22:00"]
