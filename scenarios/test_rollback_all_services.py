"""Rollback of every Lambda function (000 §4.4, 002 rollback-lambda.yml ``services: all``), or of one
service, each function independently and concurrently; verified with the post-rollback rows (000 §7.4)
for every function moved, reported as the 000 §8 incident report and the 001 §7.3 checklist.

    pytest scenarios/test_rollback_all_services.py --env sit
    pytest scenarios/test_rollback_all_services.py --env sit --target aws --allow-mutation --reason "..."

The target of each function is the version before the one its alias serves (002 rollback-service.sh),
not 000 §4.4's second-to-last published version (seed defect 4). Aliases are put back afterwards.
"""

import pytest

from harness.actions import lambda_versions
from harness.actions.base import COMPLETE, SKIPPED
from harness.actions.rollback import final_versions
from harness.drills.rows import function_resource, resources_for

pytestmark = [pytest.mark.mutating]


def test_rollback_all_services(env, target, authority, rollback, verify_checklist, action_reports, require):
    """Every function with an earlier version is rolled back and healthy; the batch's one record is COMPLETE."""
    require("lambda-invoke")
    result = rollback()
    assert result.outcome == COMPLETE, result.message
    moved = [c for c in result.children if c.outcome != SKIPPED]
    assert moved and all(c.outcome == COMPLETE for c in moved), [
        (c.plan.details["function"], c.message) for c in result.children
    ]
    assert set(result.record.functions) == {c.plan.details["function"] for c in result.children}
    expect = final_versions(result)
    rows = verify_checklist(
        "post-rollback",
        slugs=result.plan.verified_by,
        resources=resources_for(env, list(expect)),
        expect_versions=expect,
    )
    assert {r.resource for r in rows} >= {function_resource(env, fn) for fn in expect}, (
        "a moved function's rows did not run"
    )
    action_reports(
        result, env, rows=rows, authority=authority, root_cause="rehearsal: rollback of all services (000 §4.4)"
    )


def test_rollback_one_service(env, target, authority, rollback, verify_checklist, action_reports, require):
    """``--service``: only that service's functions move (002 ``services`` input)."""
    require("lambda-invoke")
    service = lambda_versions.services(env)[-1]
    result = rollback(service=service)
    assert result.outcome == COMPLETE, result.message
    mine = {fn for fn, _ in lambda_versions.service_functions(env, service, target.client("lambda"))}
    assert {c.plan.details["function"] for c in result.children} == mine
    expect = final_versions(result)
    rows = verify_checklist(
        "post-rollback",
        slugs=result.plan.verified_by,
        resources=resources_for(env, list(expect)),
        expect_versions=expect,
    )
    assert {r.resource for r in rows} >= {function_resource(env, fn) for fn in expect}, (
        "a moved function's rows did not run"
    )
    action_reports(result, env, rows=rows, authority=authority, root_cause=f"rehearsal: rollback of service {service}")
