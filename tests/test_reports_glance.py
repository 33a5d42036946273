"""Reports read right at a glance: a seeded failing row is the first row of every table, one verdict that agrees
with the record, durations on the run's own clock (named when it is a rehearsal clock), and a long reason as one
short line with the whole text below (the CLI incident report, a drill's report and incident report, the game-day
summary; the pytest verification report in tests/test_runs.py and tests/test_verification_render.py)."""

from __future__ import annotations

from datetime import timedelta

from harness.actions.base import COMPLETE, FAILED, ActionResult, Event, Plan
from harness.inventory import load_inventory
from harness.records import DeploymentRecord
from harness.report.gameday import render_drill, render_drill_incident, render_summary
from harness.report.glance import SHORT
from harness.report.incident import incident_facts, render_incident
from tests.gameday.test_reports import T0, drill

SIT = load_inventory("bbws").environment("sit")


def _table(text: str, header: str) -> list[str]:
    """The body rows of the markdown table whose header line starts with ``header``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    body = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        body.append(line)
    return body


def _row(slug: str, verdict: str) -> dict[str, str]:
    return {"slug": slug, "resource": "fn", "expected": "ok", "observed": verdict, "verdict": verdict, "ref": "000 §7"}


def _verified_rollback(outcome: str, status: str) -> ActionResult:
    """A rollback whose own steps completed (the record says ``status``) and whose result reads ``outcome``."""
    plan: Plan[None] = Plan("rollback", "bbws", "sit", "embedded", T0)
    record = DeploymentRecord("rb-1", "rollback", "sit", "2026-01-25 22:00:00 UTC", "4", "3", status)
    events = [Event(T0, "rollback planned"), Event(T0 + timedelta(seconds=2.5), "rollback completed")]
    message = "post-rollback checklist rows failed" if outcome == FAILED else ""
    return ActionResult(plan, outcome, message, timeline=events, record=record)


def test_the_cli_incident_report_lists_the_failing_row_first_and_one_verdict() -> None:
    rows = [_row(f"check-{i}", "pass") for i in range(30)] + [_row("api-health", "fail")]
    result = _verified_rollback(FAILED, COMPLETE)  # what harness rollback --verify leaves when a row stays red
    text = render_incident(incident_facts(result, SIT, rows=rows))
    table = _table(text, "| Check | Resource | Expected | Observed | Result | Ref |")
    assert len(table) == 31 and "**FAIL**" in table[0] and "`api-health`" in table[0], table[:2]
    assert "- **Outcome**: FAILED: post-rollback checklist rows failed" in text
    note = next(line for line in text.splitlines() if line.startswith("- audit record rb-1"))
    assert "COMPLETE" in note and "this report's outcome is FAILED" in note, note
    assert "- **Duration**: 2.5 seconds" in text  # the action's own clock, not the wall


def test_the_incident_note_is_plain_when_record_and_outcome_agree() -> None:
    text = render_incident(incident_facts(_verified_rollback(COMPLETE, COMPLETE), SIT))
    assert "- audit record rb-1: COMPLETE" in text.splitlines()


def test_a_failed_drills_report_says_so_in_its_phase_table_and_first_rows() -> None:
    failed = drill(ok=False)
    failed.rows["verification"] = [
        _row("health-endpoint", "pass"),
        _row("api-health", "fail"),
    ]
    text = render_drill(failed)
    verification = text.split("## Rows: verification", 1)[1]
    first = _table(verification.lstrip(), "| Check |")[0]
    assert "**FAIL**" in first and "`api-health`" in first, first
    failed.phases.append(failed.phases[0].__class__("verification", T0, T0 + timedelta(seconds=2), 0.2))
    text = render_drill(failed)
    phase = next(line for line in _table(text, "| Phase |") if line.startswith("| verification |"))
    assert "| no: 1 row(s) red |" in phase, phase


def test_a_drills_incident_duration_names_its_clock_and_the_wall() -> None:
    text = render_drill_incident(drill(rto=360.0), SIT)  # 6 minutes on the rehearsal clock, 0.4 s on the wall
    assert "- **Duration**: 6 minutes 0 seconds on the rehearsal clock (0.4 s on the wall clock)" in text, text[:600]


def test_the_summary_puts_the_failed_drill_first_and_its_long_reason_below_a_short_line() -> None:
    long_reason = "not recovered: stayed red: " + "; ".join(f"health-endpoint on fn-{i}" for i in range(120))
    results = [drill("a-passing-drill").to_dict(), drill("z-failing-drill", ok=True).to_dict()]
    results[1].update(outcome="FAIL", failures=[long_reason])
    text = render_summary(results, [], title="bbws/sit")
    first = _table(text, "| Drill |")[0]
    assert "`z-failing-drill`" in first and "**FAIL**" in first, first
    assert "- **result**: FAIL (1 passed, 1 failed, 0 skipped)" in text
    lines = text.splitlines()
    item = next(line for line in lines if line.startswith("- `z-failing-drill` FAIL: "))
    assert len(item) < SHORT + 40 and item.endswith("…"), item
    below = lines[lines.index(item) + 1 : lines.index(item) + 6]
    assert any("health-endpoint on fn-119" in line for line in lines) and "  ```text" in below, below
    assert max(len(line) for line in lines) < 400  # no 3,000-character line


def test_the_verification_report_opens_with_its_verdict_and_the_failing_row() -> None:
    from harness.checks import verification_report

    rows = [{**_row(f"check-{i}", "pass"), "procedure": "post-rollback"} for i in range(20)]
    rows.append({**_row("lambda-alias-version", "fail"), "procedure": "pre-promotion"})
    header = {"title": "bbws/sit", "inventory": "bbws", "env": "sit", "started": "2026-01-25T22:00:00+00:00"}
    md = verification_report.render(rows, header, {"post-rollback": "000 §7", "pre-promotion": "001 §3.1"})
    lines = md.splitlines()
    assert lines[2] == "- **result**: FAIL (21 rows: 1 FAIL, 20 PASS)", lines[:4]
    first = _table(md, "| Check |")[0]
    assert "**FAIL**" in first and "`lambda-alias-version`" in first, first
