"""004 Blue/Green Deployment Rollback, Command Line Rollback: a bad green release is live; check the app,
switch the domain back to the blue (production) branch, verify what the domain serves.

The harness sends every prefix of the domain (UpdateDomainAssociation replaces the whole list: 004's
``--sub-domain-settings prefix=,branchName=production`` alone drops the others), waits for the domain to
settle, and verifies the association and the build the blue branch serves.

    pytest scenarios/propie/test_blue_green_switch_back.py --inventory propie --env production
"""

import pytest

from harness.actions.amplify import switch_back
from harness.actions.base import COMPLETE, Event
from harness.checks.result import Verdict

pytestmark = [pytest.mark.mutating]
SLUGS = ("amplify-domain-branch", "amplify-last-job", "trigger-5xx-rate")


def test_switch_back_to_blue(
    env, target, clock, rehearsal, propie_authority, run_action, verify_checklist, incident_report
):
    """Green live with a bad release -> the rows fail -> switch back -> the rows pass."""
    amp, window = env.amplify, max(t.window_minutes for t in env.triggers)
    client = target.client("amplify")
    job = rehearsal.amplify.release(amp.green_branch, "2.0.0-green", bad_release=True)
    fault = [
        Event(clock.now(), f"green build: job {job['jobId']} {job['status']} (a release that builds and answers 5XX)")
    ]
    rehearsal.amplify.go_live(amp.green_branch)
    fault.append(Event(clock.now(), f"{amp.domain}: every prefix switched to {amp.green_branch} (blue/green go-live)"))
    rehearsal.amplify.run_traffic(window)

    detected = verify_checklist("propie-rollback", slugs=SLUGS, phase="detection", must_pass=False, record=False)
    assert {r.verdict for r in detected if r.slug == "amplify-domain-branch"} == {Verdict.FAIL}
    assert {r.verdict for r in detected if r.slug == "trigger-5xx-rate"} == {Verdict.FAIL}
    detected_at = clock.now()
    fault.append(
        Event(detected_at, "detected: " + "; ".join(r.observed for r in detected if r.verdict is Verdict.FAIL))
    )

    app = client.get_app(appId=amp.app_id)["app"]  # 004 step 1: aws amplify get-app
    fault.append(
        Event(
            clock.now(),
            f"get-app {amp.app_id}: {app['name']}, production branch "
            f"{app.get('productionBranch', {}).get('branchName')}",
        )
    )
    result = run_action(lambda: switch_back(target, propie_authority))
    assert result.outcome == COMPLETE, result.message

    rehearsal.amplify.run_traffic(window)
    verified = verify_checklist("propie-rollback", slugs=SLUGS, phase="verification")
    incident_report(
        "blue-green-switch-back",
        result,
        fault=fault,
        verified=verified,
        detected=detected_at,
        detection=detected,
        root_cause=f"release on {amp.green_branch} answered 5XX after the go-live (rehearsal fault)",
        affected=[
            (f"Amplify {amp.domain}", True),
            (f"CloudFormation {env.cfn_stacks[0]}", False),
            (f"DynamoDB {env.tables[0].name}", False),
        ],
        changes=[
            {
                "function": c.attribute,
                "from": c.before or "(dropped)",
                "to": c.after,
                "final": c.after,
                "health": "-",
                "outcome": result.outcome,
            }
            for c in result.plan.changes
        ],
    )
