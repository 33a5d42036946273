"""DEV -> SIT promotion (001 §3.2.1) of the whole stack in 001 §5.1 order, gated on the source
(001 §3.1.1 rows), monitored for 001 §3.2.1's 30 s with the 001 §6.3.1 triggers, verified on the
destination (000 §7.4 rows), reported as the filled-in 001 §7.1 checklist and a 000 §8-layout report.

``--env`` is the environment promoted FROM, as for scenarios/test_pre_promotion.py: this file runs when
--env's next environment (``promotes_to``) is not protected (``--env dev`` for bbws) and skips otherwise.

    pytest scenarios/test_promotion_dev_to_sit.py --env dev                       # rehearsal: SIT is a peer on the same
emulator
    pytest scenarios/test_promotion_dev_to_sit.py --env dev --target aws --allow-mutation --approved-by "Dev Lead"
--reason "..."

On the embedded target the destination is a seeded rehearsal of that environment in its own account
on the same moto server, and the Dev Lead approval (001 §2.2) is given by a stand-in
("rehearsal Dev Lead") unless --approved-by names one. The Terraform phase (001 §5.1 phase 4) is a
hook of promote_stack, left to the Terraform runbook.
"""

import pytest

from harness.actions.base import COMPLETE
from harness.actions.promote import final_versions, promote_stack
from harness.drills.rows import function_resource

pytestmark = [pytest.mark.mutating]


@pytest.fixture
def destination(env, inventory, peer_target):
    """The environment --env promotes into, when it is not protected (001 §3)."""
    if not env.promotes_to:
        pytest.skip(f"{env.inventory}/{env.name} promotes to no environment: nothing to promote (--env is the source)")
    if inventory.environment(env.promotes_to).protected:
        pytest.skip(
            f"--env {env.name} promotes into {env.promotes_to}, a protected environment (001 §4): see "
            "test_promotion_sit_to_prod.py; "
            "this file promotes into an unprotected one (001 §3, e.g. --env dev)"
        )
    return peer_target(env.promotes_to)


def test_promote_stack(
    env, target, destination, rehearsal_authority, run_action, verify_checklist, action_reports, require
):
    """Gates green on the source, every service promoted in 001 §5.1 order, no trigger fired, rows pass on the
    destination."""
    require("lambda-invoke")
    gate_rows = verify_checklist("pre-promotion", phase="pre-promotion gates (source)", must_pass=False)
    failed = [r.message() for r in gate_rows if not r.ok]
    who = rehearsal_authority(f"{env.name}-to-{destination.env.name}", for_env=destination.env)

    result = run_action(
        lambda: promote_stack(
            target, destination, who, gates=(not failed, "; ".join(failed) or f"{len(gate_rows)} gate rows passed")
        ),
        on=destination,
    )

    assert result.outcome == COMPLETE, result.message
    expect = final_versions(result)
    # Rows carry a function's name, or the discovery prefix that finds it (002 §1).
    resources = {function_resource(destination.env, fn) for fn in expect}
    rows = verify_checklist(
        "post-rollback",
        slugs=result.plan.verified_by,
        resources=resources,
        expect_versions=expect,
        target=destination,
        phase=f"post-promotion ({destination.env.name})",
    )
    assert {r.resource for r in rows} >= resources, "a promoted function's rows did not run"
    action_reports(result, destination.env, rows=rows, gate_rows=gate_rows, source_env=env, authority=who)
