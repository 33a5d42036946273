"""Game day (000 §1.2, §4.2; 002 "Lambda code bug", RTO < 5 min): a bad Lambda deployment -> alias rollback.

The API's backing function gets a bad version behind its alias, with the deployment record a real
deployment writes; ``health-endpoint`` and ``api-health`` must go red; the harness rolls the alias back to the
version before the one it serves (or ``--recovery-cmd`` runs the team's script); the post-rollback rows must
be green again, the windowed ones after a window of healthy traffic; RTO on the rehearsal clock against the
inventory's ``[rto] lambda_code``. Everything the drill changed is put back (the environment digest is compared).

    pytest scenarios/gameday/test_lambda_bad_deployment.py --env sit
    pytest scenarios/gameday/test_lambda_bad_deployment.py --env sit --recovery-cmd "bash ops/rollback.sh sit"
"""

import pytest

from harness.drills.lambda_drills import bad_deployment_drill

pytestmark = [pytest.mark.gameday, pytest.mark.mutating]


def test_bad_lambda_deployment_is_rolled_back(gameday, target, require):
    """Fault -> health rows red -> alias rollback -> checklist green again within the Lambda RTO."""
    require("lambda-invoke")
    result = gameday.run(lambda: bad_deployment_drill(target, gameday.authority, gameday.probe))
    assert result.restored is True, result.differences
