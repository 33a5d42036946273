"""Lambda alias rollback of one function (000 §4.2; 001 §6.2.1 backup alias; 002 release label), verified
with the post-rollback rows (000 §7.4) on a fresh context, reported as the 000 §8 incident report and the
filled-in 001 §7.3 rollback checklist (reports/ and Allure).

    pytest scenarios/test_lambda_rollback.py --env sit                          # rehearsal (embedded)
    pytest scenarios/test_lambda_rollback.py --env sit --target aws --allow-mutation --reason "INC-42 5xx"
    pytest scenarios/test_lambda_rollback.py --env prod --approved-by A --approved-by B --reason "..."

Each test rolls the API's backing function back by one target rule, then puts the alias back where it
was (a restore that is itself a recorded rollback), so the read-only checklists of the same session
still see the environment as it was. On a real account that is a rollback-and-return drill.
"""

import pytest

from harness.actions import lambda_versions
from harness.actions.base import COMPLETE
from harness.actions.decisions import error_rate_severity
from harness.actions.rollback import RollbackTo, final_versions
from harness.drills.rows import function_resource, resources_for

pytestmark = [pytest.mark.mutating]


def function_under_test(env, target) -> str:
    """The API's backing function (000 §4.2's example, bbws-tenant-instance-management), else the first one the
    inventory names, else the first one its discovery prefixes find (002 §1 ListFunctions by prefix)."""
    if env.api:
        return env.api.function
    if env.functions:
        return env.functions[0].name
    found = lambda_versions.service_functions(env, None, target.client("lambda"))
    if not found:
        prefixes = ", ".join(f"{d.prefix}*" for d in env.discovery) or "none"
        pytest.skip(
            f"{env.inventory}/{env.name} names no function and its discovery prefixes ({prefixes}) find none: "
            "nothing to roll back"
        )
    return found[0][0]


def rule(name: str, target, fn: str) -> RollbackTo:
    """The target-selection rule ``name`` for ``fn`` as the alias stands now."""
    if name == "previous":
        return RollbackTo.previous()
    if name == "backup-alias":
        return RollbackTo.backup()
    lam = target.client("lambda")
    current = lambda_versions.get_alias(lam, fn, target.env.alias)["FunctionVersion"]
    earlier = lambda_versions.previous_version(lambda_versions.published_versions(lam, fn), current)
    if earlier is None or not earlier.label:
        pytest.skip(f"{fn} has no labelled version before {current}: nothing to select by release label")
    return RollbackTo.label(earlier.label)


@pytest.mark.parametrize("how", ["previous", "backup-alias", "release-label"])
def test_rollback_one_function(how, env, target, authority, rollback, verify_checklist, action_reports, require):
    """Checkpoint alias, alias moved to the chosen version, verified, /health 200 through fn:alias, record COMPLETE."""
    require("lambda-invoke")
    fn = function_under_test(env, target)
    before = verify_checklist(
        "post-rollback",
        slugs=["error-rate"],
        resources=[function_resource(env, fn)],
        phase="decision input (before)",
        must_pass=False,
        record=False,
    )
    rate = before[0].evidence.get("error_rate_pct") if before else None
    decisions = [error_rate_severity(rate, env.thresholds)] if isinstance(rate, (int, float)) else []

    result = rollback(fn, rule(how, target, fn))

    assert result.outcome == COMPLETE, result.message
    assert result.record is not None and result.record.status == COMPLETE
    child = result.children[0]
    assert child.evidence["checkpoint"].startswith(
        env.incident_alias_prefix if env.protected else env.checkpoint_alias_prefix
    )
    assert child.evidence["health"]["problem"] is None, child.evidence["health"]
    expect = final_versions(result)
    rows = verify_checklist(
        "post-rollback", slugs=result.plan.verified_by, resources=resources_for(env, [fn]), expect_versions=expect
    )
    assert rows, f"no post-rollback row verifies {fn}"
    paths = action_reports(
        result, env, rows=rows, authority=authority, decisions=decisions, root_cause=f"rehearsal: rollback by {how}"
    )
    assert all(p.exists() for p in paths)
