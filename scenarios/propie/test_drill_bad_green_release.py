"""Drill (004 Automated Rollback Triggers): a bad green release pushes the 5XX rate above 5 % -> the trigger
fires (004: "Automatic rollback") -> traffic is switched back to blue -> every 004 row is green again.

Phases, each verified on a fresh checklist context: steady state, fault, detection, recovery,
verification; the incident report carries the timeline and the RTO (detection to verified recovery, on
the target's clock). A plain mutating scenario with a drill's phases, not a `gameday` drill: game days never run
on a protected environment, and 004 has only `production` (this runs on its disposable rehearsal).

    pytest scenarios/propie/test_drill_bad_green_release.py --inventory propie --env production
"""

import pytest

from harness.actions.amplify import switch_back
from harness.actions.base import COMPLETE, Event
from harness.checks.result import Verdict

pytestmark = [pytest.mark.mutating]


def test_bad_green_release_triggers_switch_back(
    env, target, clock, rehearsal, propie_authority, run_action, verify_checklist, incident_report
):
    """Steady state -> bad green release live -> 5XX trigger FAIL -> switch back -> all 004 rows PASS, with RTO."""
    amp, rate = env.amplify, env.trigger("error_rate_5xx")
    window = max(t.window_minutes for t in env.triggers)
    rehearsal.amplify.run_traffic(window)
    verify_checklist("propie-rollback", phase="steady state")
    timeline = [Event(clock.now(), "steady state: every 004 row passes")]

    job = rehearsal.amplify.release(amp.green_branch, "2.2.0-green", bad_release=True)
    rehearsal.amplify.go_live(amp.green_branch)
    timeline.append(Event(clock.now(), f"fault: green job {job['jobId']} (bad release) live on {amp.domain}"))
    rehearsal.amplify.run_traffic(rate.window_minutes)

    detected = verify_checklist(
        "propie-rollback", slugs=("trigger-5xx-rate",), phase="detection", must_pass=False, record=False
    )
    assert [r.verdict for r in detected] == [Verdict.FAIL], [r.message() for r in detected]
    detected_at = clock.now()
    timeline.append(
        Event(detected_at, f"detection: {detected[0].observed} (004: {rate.action} above {rate.threshold:g} %)")
    )

    result = run_action(lambda: switch_back(target, propie_authority))
    assert result.outcome == COMPLETE, result.message
    rehearsal.amplify.run_traffic(rate.window_minutes)
    verified = verify_checklist("propie-rollback", phase="verification")
    assert all(r.verdict is not Verdict.FAIL for r in verified)
    timeline.append(Event(clock.now(), "verification: every 004 row passes"))
    text = incident_report(
        "drill-bad-green-release",
        result,
        fault=timeline,
        verified=verified,
        detected=detected_at,
        detection=detected,
        root_cause=f"green release job {job['jobId']} answered 5XX above the trigger's {rate.threshold:g} % (drill "
        "fault)",
        affected=[
            (f"Amplify {amp.domain}", True),
            (f"CloudFormation {env.cfn_stacks[0]}", False),
            (f"DynamoDB {env.tables[0].name}", False),
        ],
        changes=[
            {
                "function": c.attribute,
                "from": c.before,
                "to": c.after,
                "final": c.after,
                "health": "-",
                "outcome": result.outcome,
            }
            for c in result.plan.changes
        ],
    )
    assert "RTO (detection to verified recovery)" in text
