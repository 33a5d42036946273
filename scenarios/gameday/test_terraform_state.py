"""Game day (000 §5.2, §5.3, §7.3; 002 "Infrastructure issue", RTO < 15 min): bad Terraform state -> unlock and restore.

A truncated latest state version (an interrupted upload, Digest stale) and a crashed apply's stuck lock on the
inventory's last state key; ``terraform-state`` must go red; the harness releases the stuck lock (000 §5.3) and
restores the previous state version with its Digest (000 §5.2.2, seed defect 2); the row is green again.

    pytest scenarios/gameday/test_terraform_state.py --env sit
"""

import pytest

from harness.drills.state_drill import state_drill

pytestmark = [pytest.mark.gameday, pytest.mark.mutating]


def test_bad_state_is_unlocked_and_restored(gameday, target):
    """Corrupted state + stuck lock -> terraform-state red -> unlock, restore -> green within the infrastructure RTO."""
    result = gameday.run(lambda: state_drill(target, gameday.authority, gameday.probe))
    assert result.restored is True, result.differences
