"""004 Manual Rollback Procedures, 2. Rollback Infrastructure Changes: the AppSync stack, both paths.

004 runs ``aws cloudformation rollback-stack`` first, ``update-stack`` with the previous template as the
alternative. RollbackStack acts only on CREATE_FAILED or UPDATE_FAILED (seed defect 6): after an update
that *failed* and did not roll back it is the right call; after a bad update that *completed*
(UPDATE_COMPLETE, the usual case) it is refused, and only the update with the previous template (004's
``file://backup/appsync-previous.yml``, kept before the deployment) rolls back. The report says which
path was taken and why, with the stack's events.

    pytest scenarios/propie/test_cloudformation_rollback.py --inventory propie --env production
"""

import json

import pytest

from harness.actions.base import COMPLETE, Event
from harness.actions.cloudformation import as_parameters, as_text, rollback_stack
from harness.checks.result import Verdict

pytestmark = [pytest.mark.mutating]
SLUG = ("cloudformation-stack-stable",)


def _report(env, name, result, fault, detected, detection, verified, incident_report, cause):
    stack = result.plan.spec.stack
    incident_report(
        name,
        result,
        fault=fault,
        verified=verified,
        detected=detected,
        detection=detection,
        root_cause=cause,
        affected=[
            (f"CloudFormation {stack}", True),
            (f"Amplify {env.amplify.domain}", False),
            (f"DynamoDB {env.tables[0].name}", False),
        ],
        changes=[
            {
                "function": stack,
                "from": result.plan.changes[0].before,
                "to": result.plan.changes[0].after,
                "final": result.evidence["final_status"],
                "health": "-",
                "outcome": result.outcome,
            }
        ],
        extra=[f"path: {result.plan.spec.path}"]
        + [
            f"event {e['time']} {e['resource']} {e['status']} {e['reason']}".rstrip() for e in result.evidence["events"]
        ],
    )


def test_failed_update_rolls_back_with_rollback_stack(
    env, target, clock, rehearsal, propie_authority, run_action, verify_checklist, incident_report
):
    """An update that failed with rollback disabled (UPDATE_FAILED) -> rollback-stack -> stable again."""
    stack = env.cfn_stacks[0]
    status = rehearsal.cloudformation.deploy(
        stack,
        "9.0.0-broken",
        fails_with="Resource handler returned message: invalid GraphQL schema",
        disable_rollback=True,
    )
    fault = [Event(clock.now(), f"update-stack {stack} --disable-rollback: {status}")]
    detected = verify_checklist("propie-rollback", slugs=SLUG, phase="detection", must_pass=False, record=False)
    assert [r.verdict for r in detected] == [Verdict.FAIL]
    detected_at = clock.now()
    result = run_action(lambda: rollback_stack(target, propie_authority, stack))
    assert result.outcome == COMPLETE and result.plan.spec.path == "rollback-stack", result.message
    verified = verify_checklist("propie-rollback", slugs=SLUG, phase="verification")
    _report(
        env,
        "cloudformation-rollback-stack",
        result,
        fault,
        detected_at,
        detected,
        verified,
        incident_report,
        f"update of {stack} failed (rehearsal fault)",
    )


def test_completed_bad_update_rolls_back_with_the_previous_template(
    env, target, clock, rehearsal, propie_authority, run_action, verify_checklist, incident_report, tmp_path
):
    """A bad update that completed (UPDATE_COMPLETE) -> rollback-stack refused -> update-stack with 004's backup -> the
    previous template."""
    stack = env.cfn_stacks[0]
    cfn = target.client("cloudformation")
    backup = tmp_path / "backup"  # 004 keeps the previous template and parameters before deploying
    backup.mkdir()
    body = cfn.get_template(StackName=stack)["TemplateBody"]
    (backup / "appsync-previous.yml").write_text(as_text(body))
    (backup / "appsync-parameters-previous.json").write_text(
        json.dumps(as_parameters(cfn.describe_stacks(StackName=stack)["Stacks"][0]["Parameters"]))
    )
    good = (body if isinstance(body, dict) else json.loads(body)).get("Description", "")
    status = rehearsal.cloudformation.deploy(stack, "9.1.0")
    fault = [Event(clock.now(), f"update-stack {stack}: {status} (a bad update that completes)")]
    detected = verify_checklist(
        "propie-rollback", slugs=SLUG, phase="detection", must_pass=False, record=False, expect_versions={stack: good}
    )
    assert [r.verdict for r in detected] == [Verdict.FAIL]
    detected_at = clock.now()
    result = run_action(
        lambda: rollback_stack(
            target,
            propie_authority,
            stack,
            template_file=backup / "appsync-previous.yml",
            parameters_file=backup / "appsync-parameters-previous.json",
            backup_dir=tmp_path / "checkpoints",
        )
    )
    assert result.outcome == COMPLETE and result.plan.spec.path == "update-stack", result.message
    assert any("seed defect 6" in n for n in result.plan.notes)
    verified = verify_checklist(
        "propie-rollback", slugs=SLUG, phase="verification", expect_versions=result.plan.expect_versions
    )
    _report(
        env,
        "cloudformation-update-stack",
        result,
        fault,
        detected_at,
        detected,
        verified,
        incident_report,
        f"update of {stack} completed but was bad (rehearsal fault)",
    )
