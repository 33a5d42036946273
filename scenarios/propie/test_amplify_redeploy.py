"""004 Manual Rollback Procedures, 1. Rollback Amplify Deployment: the production branch serves a bad release
(it built fine); redeploy the last good build and verify it serves.

004 picks "the newest job with status SUCCEED" (the bad release itself) and passes it to start-deployment,
which is only for manually deployed apps (seed defect 7). The harness takes the last successful job
*before* the one serving and rebuilds it (StartJob RELEASE of its commit for this repository-connected
app), waits for the job on the target's clock and verifies the branch serves it. The report quotes what
004's own query picked.

    pytest scenarios/propie/test_amplify_redeploy.py --inventory propie --env production
"""

import jmespath
import pytest

from harness.actions.amplify import apply_redeploy_last_good, plan_redeploy_last_good
from harness.actions.base import COMPLETE, Event, execute
from harness.checks.result import Verdict

pytestmark = [pytest.mark.mutating, pytest.mark.filterwarnings("ignore:deprecated string literal syntax")]
SLUGS = ("amplify-last-job", "amplify-domain-branch", "trigger-5xx-rate")
RUNBOOK_QUERY = "jobSummaries[?status==`SUCCEED`].jobId | [0]"  # 004, verbatim


def test_redeploy_last_good_build(
    env, target, clock, rehearsal, propie_authority, run_action, verify_checklist, incident_report
):
    """A bad release serving on production -> the 5XX trigger fails -> redeploy the build before it -> rows pass."""
    amp, window = env.amplify, max(t.window_minutes for t in env.triggers)
    client = target.client("amplify")
    bad = rehearsal.amplify.release(amp.branch, "2.1.0", bad_release=True)
    fault = [
        Event(
            clock.now(), f"production build: job {bad['jobId']} {bad['status']} (a release that builds and answers 5XX)"
        )
    ]
    rehearsal.amplify.run_traffic(window)

    detected = verify_checklist("propie-rollback", slugs=SLUGS, phase="detection", must_pass=False, record=False)
    assert {r.verdict for r in detected if r.slug == "trigger-5xx-rate"} == {Verdict.FAIL}
    assert {r.verdict for r in detected if r.slug == "amplify-last-job"} == {Verdict.PASS}  # the bad build succeeded
    detected_at = clock.now()
    fault.append(
        Event(detected_at, "detected: " + "; ".join(r.observed for r in detected if r.verdict is Verdict.FAIL))
    )
    picked = jmespath.search(RUNBOOK_QUERY, client.list_jobs(appId=amp.app_id, branchName=amp.branch, maxResults=10))
    assert picked == bad["jobId"]
    fault.append(Event(clock.now(), f"004's query picks job {picked}: the bad release itself"))

    result = run_action(
        lambda: execute(
            lambda: plan_redeploy_last_good(target, propie_authority), lambda p: apply_redeploy_last_good(target, p)
        )
    )
    assert result.outcome == COMPLETE, result.message
    assert result.plan.spec.good["jobId"] != picked

    rehearsal.amplify.run_traffic(window)
    verified = verify_checklist("propie-rollback", slugs=SLUGS, phase="verification")
    good, job = result.plan.spec.good, result.evidence["job"]
    incident_report(
        "amplify-redeploy",
        result,
        fault=fault,
        verified=verified,
        detected=detected_at,
        detection=detected,
        root_cause=f"production release job {bad['jobId']} answered 5XX (rehearsal fault)",
        affected=[
            (f"Amplify {amp.domain}", True),
            (f"CloudFormation {env.cfn_stacks[0]}", False),
            (f"DynamoDB {env.tables[0].name}", False),
        ],
        changes=[
            {
                "function": f"{amp.app_id}/{amp.branch}",
                "from": f"job {bad['jobId']}",
                "to": f"job {good['jobId']} ({good['commitMessage']})",
                "final": f"job {job['jobId']} {job['status']}",
                "health": "-",
                "outcome": result.outcome,
            }
        ],
        extra=[f"004's query `{RUNBOOK_QUERY}` picked job {picked}, the bad release (seed defect 7)"],
    )
