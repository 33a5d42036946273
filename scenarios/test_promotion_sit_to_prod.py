"""SIT -> PROD promotion (001 §4): gates on SIT (001 §4.1.1 rows), two distinct approvers and a reason
(001 §2.2, §4.2), the maintenance window (001 §4.1.2), a backup alias (001 §6.2.1), the 5-minute monitor
with automatic rollback (001 §4.3.1, §6.3.1); verified on PROD (000 §7.4 rows) and reported as the
filled-in 001 §7.2 checklist and a 000 §8-layout report.

``--env`` is the environment promoted FROM (as for scenarios/test_pre_promotion.py): this file runs
when --env's next environment is protected (``--env sit`` for bbws) and skips otherwise.

    pytest scenarios/test_promotion_sit_to_prod.py --env sit                       # rehearsal
    pytest scenarios/test_promotion_sit_to_prod.py --env sit --target aws --allow-mutation \\
        --approved-by "Tech Lead" --approved-by "Operations Lead" --reason "CR-123"

Rehearsal (embedded): PROD is a seeded peer in its own account on the same emulator, on a rehearsal
clock started just inside the next maintenance window, so the window rule passes by construction and
the 5-minute monitor takes no real minutes; the approvals are given by stand-ins ("rehearsal Tech Lead",
"rehearsal Operations Lead") unless --approved-by names real ones. On real accounts only the command
line's approvers count and the wall clock must be inside a window, or the test skips with the refusal.
"""

from datetime import timedelta

import pytest

from harness.actions import lambda_versions
from harness.actions.base import COMPLETE, FAILED, REFUSED
from harness.actions.promote import final_versions, next_window_start, promote, promote_service, stack_order
from harness.clock import RehearsalClock
from harness.drills.rows import function_resource

pytestmark = [pytest.mark.mutating]


@pytest.fixture
def prod(env, inventory, target, peer_target):
    """The protected environment --env promotes into, on a clock inside its maintenance window when rehearsing."""
    if not env.promotes_to:
        pytest.skip(f"{env.inventory}/{env.name} promotes to no environment: nothing to promote (--env is the source)")
    dest_env = inventory.environment(env.promotes_to)
    if not dest_env.protected:
        pytest.skip(
            f"--env {env.name} promotes into {dest_env.name}, which is not protected: see "
            "test_promotion_dev_to_sit.py; "
            "this file promotes into a protected environment (001 §4, e.g. --env sit)"
        )
    clock = None
    if target.supports("clock-control"):
        opening = next_window_start(dest_env, target.clock.now())
        clock = RehearsalClock(opening + timedelta(minutes=1)) if opening else None  # 001 §4.1.2
    return peer_target(dest_env.name, clock=clock)


@pytest.fixture
def gates(verify_checklist):
    """The 001 §4.1.1 gates on the source, as rows (in the run's report) and as the promotion's gate result."""
    rows = verify_checklist("pre-promotion", phase="pre-promotion gates (source)", must_pass=False)
    failed = [r.message() for r in rows if not r.ok]
    return rows, (not failed, "; ".join(failed) or f"{len(rows)} gate rows passed")


def _skip_if_refused(result):
    if result.outcome == REFUSED:
        pytest.skip(f"refused (nothing changed): {result.message}")


def test_promote_first_service(
    env, target, prod, gates, rehearsal_authority, run_action, verify_checklist, action_reports, require
):
    """The first service of 001 §5.1 promoted inside the window with two approvers; no 001 §6.3.1 trigger; PROD rows
    pass."""
    require("lambda-invoke")
    gate_rows, gate_result = gates
    who = rehearsal_authority(f"{env.name}-to-{prod.env.name}", for_env=prod.env)
    service = stack_order(env)[0]

    result = run_action(lambda: promote_service(target, prod, who, service, gates=gate_result), on=prod)

    _skip_if_refused(result)
    assert result.outcome == COMPLETE, result.message
    expect = final_versions(result)
    # Rows carry a function's name, or the discovery prefix that finds it (002 §1).
    resources = {function_resource(prod.env, fn) for fn in expect}
    rows = verify_checklist(
        "post-rollback",
        slugs=result.plan.verified_by,
        resources=resources,
        expect_versions=expect,
        target=prod,
        phase=f"post-promotion ({prod.env.name})",
    )
    assert {r.resource for r in rows} >= resources, "a promoted function's rows did not run"
    action_reports(result, prod.env, rows=rows, gate_rows=gate_rows, source_env=env, authority=who)


@pytest.fixture
def bad_release(target, env, prod, gates, rehearsal_authority, require):
    """A new version of a source function whose handler raises (the rehearsal app's HARNESS_FAULT), removed afterwards.

    The function is the last 001 §5.1 service's first one, named or found by its discovery prefix (002 §1).
    Nothing is published when the promotion would be refused anyway (no approval rule, outside the window,
    gates red): the test skips with the refusal first, leaving the source as it was.
    """
    require("lambda-invoke", "emulator-faults")
    lam = target.client("lambda")
    service = stack_order(env)[-1]
    found = lambda_versions.service_functions(env, service, lam)
    if not found:
        pytest.skip(
            f"service {service} of {env.inventory}/{env.name} has no function (named or found by its discovery prefix)"
        )
    fn = found[0][0]
    who = rehearsal_authority(f"{env.name}-to-{prod.env.name}", for_env=prod.env)
    _skip_if_refused(promote(target, prod, who, function=fn, gates=gates[1], dry_run=True))
    served = lam.get_function_configuration(FunctionName=fn, Qualifier=env.alias)
    variables = dict((served.get("Environment") or {}).get("Variables") or {})
    lam.update_function_configuration(
        FunctionName=fn, Environment={"Variables": {**variables, "HARNESS_FAULT": "raise"}}
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn, WaiterConfig=dict(target.waiter_config or {}))
    version = lam.publish_version(FunctionName=fn, Description=f"{served.get('Description') or 'release'}-bad")[
        "Version"
    ]
    yield fn, version
    lam.delete_function(FunctionName=fn, Qualifier=version)
    lam.update_function_configuration(FunctionName=fn, Environment={"Variables": variables})


def test_bad_release_rolls_back_automatically(
    env, target, prod, gates, bad_release, rehearsal_authority, run_action, verify_checklist, action_reports, require
):
    """A release whose handler raises: the health trigger fires inside the monitor window and the alias returns to the
    backup."""
    require("lambda-invoke", "emulator-faults")
    gate_rows, gate_result = gates
    fn, version = bad_release
    who = rehearsal_authority(f"{env.name}-to-{prod.env.name}", for_env=prod.env)
    dest_fn = None

    result = run_action(lambda: promote(target, prod, who, function=fn, version=version, gates=gate_result), on=prod)

    _skip_if_refused(result)
    assert result.outcome == FAILED
    assert result.evidence["trigger"]["name"] == "health", result.evidence.get("trigger")
    dest_fn = result.plan.details["dest_function"]
    assert result.evidence["final_version"] == result.plan.details["dest_current"]
    assert result.record.status == FAILED and result.record.extra["auto_rollback_trigger"] == "health"
    expect = final_versions(result)
    rows = verify_checklist(
        "post-rollback",
        slugs=["lambda-alias-version", "health-endpoint"],
        resources=[function_resource(prod.env, dest_fn)],
        expect_versions=expect,
        target=prod,
        phase=f"after the automatic rollback ({prod.env.name})",
    )
    action_reports(result, prod.env, rows=rows, gate_rows=gate_rows, source_env=env, authority=who)
