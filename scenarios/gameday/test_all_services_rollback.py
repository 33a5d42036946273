"""Game day (000 §4.4; 002 "Full deployment failure", RTO < 30 min): every service deployed a bad version -> rollback
all.

Every function of the environment gets a bad version behind its alias, and a hotfix build is published but not
deployed (the alias is then not on the newest version: where 000 §4.4's ``Versions[-2]`` picks the wrong target,
seed defect 4). The harness rolls every function back to the version before the one it serves; with
``--recovery-cmd`` the team's own script does, and the same checklist judges it.

    pytest scenarios/gameday/test_all_services_rollback.py --env sit
    pytest scenarios/gameday/test_all_services_rollback.py --env sit --recovery-cmd "bash ops/rollback_all_services.sh
sit"
"""

import pytest

from harness.drills.lambda_drills import bad_deployment_drill

pytestmark = [pytest.mark.gameday, pytest.mark.mutating]


def test_bad_deployment_of_every_service_is_rolled_back(gameday, target, require):
    """Fault on every function -> every health row red -> rollback all -> checklist green again within the
    full-deployment RTO."""
    require("lambda-invoke")
    result = gameday.run(
        lambda: bad_deployment_drill(target, gameday.authority, gameday.probe, all_services=True, newer_undeployed=1)
    )
    assert result.restored is True, result.differences
