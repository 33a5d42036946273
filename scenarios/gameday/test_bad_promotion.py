"""Game day (001 §4.3.1, §6.3.1; 002 "Lambda code bug", RTO < 5 min): a bad promotion -> automatic rollback.

A release whose handler raises is published in ``--env`` (the source) and promoted by the harness into the next
environment (for SIT, the PROD rehearsal: a seeded peer on a clock inside its maintenance window, approved by
rehearsal stand-ins); the post-deployment monitor's health trigger must fire inside the window and roll the alias
back to the backup version without an operator; the destination's rows are green again.

    pytest scenarios/gameday/test_bad_promotion.py --env sit
"""

from datetime import timedelta

import pytest

from harness.actions.promote import next_window_start
from harness.clock import RehearsalClock
from harness.drills.promotion_drill import bad_promotion_drill

pytestmark = [pytest.mark.gameday, pytest.mark.mutating]


@pytest.fixture
def destination(env, inventory, target, peer_target):
    """The environment --env promotes into (a rehearsal peer on a clock inside its maintenance window when it is
    protected)."""
    if not env.promotes_to:
        pytest.skip(f"{env.inventory}/{env.name} promotes to no environment: no promotion to rehearse")
    dest_env = inventory.environment(env.promotes_to)
    clock = None
    if target.supports("clock-control") and dest_env.protected:
        opening = next_window_start(dest_env, target.clock.now())
        clock = RehearsalClock(opening + timedelta(minutes=1)) if opening else None  # 001 §4.1.2
    return peer_target(dest_env.name, clock=clock)


def test_bad_promotion_rolls_back_automatically(gameday, target, env, destination, rehearsal_authority, require):
    """Bad release promoted -> the monitor's trigger fires -> automatic rollback -> destination green within the Lambda
    RTO."""
    require("lambda-invoke", "emulator-faults")
    dest_env = destination.env
    result = gameday.run(
        lambda: bad_promotion_drill(
            target,
            destination,
            gameday.authority,
            gameday.probe,
            promote_as=rehearsal_authority(f"{env.name}-to-{dest_env.name}", for_env=dest_env),
            rollback_as=rehearsal_authority("prod-rollback", for_env=dest_env),
        )
    )
    assert result.restored is True, result.differences
