"""A drill whose recovery takes longer than the inventory's RTO objective FAILs naming both ("the drill
fails when ... the RTO exceeds the objective"), and still leaves the rehearsal as it found it."""

from __future__ import annotations

from typing import Any

from harness.drills.digest import environment_digest
from harness.drills.lambda_drills import bad_deployment_drill
from harness.drills.model import FAIL, PASS, Recovery
from harness.drills.runner import rto_target_s, run_drill
from tests.gameday.conftest import ALLOW, override


def test_a_recovery_slower_than_the_objective_fails_the_drill(rehearsal, probe) -> None:
    spec = bad_deployment_drill(rehearsal, ALLOW, probe)
    objective, ref = rto_target_s(rehearsal, spec.kind)
    assert objective, f"bbws/sit has an RTO objective for {spec.kind} ({ref})"
    before = environment_digest(rehearsal)

    recover = spec.recover

    def slow(run_: Any) -> Recovery:
        recovered = recover(run_)
        rehearsal.clock.sleep(objective + 60)  # the rehearsal clock jumps: a recovery a minute past the objective
        return recovered

    result = run_drill(override(spec, recover=slow), digest=environment_digest)
    assert result.outcome == FAIL, result.failures
    assert any("exceeds the" in f and spec.kind in f for f in result.failures), result.failures
    assert result.rto_s > objective
    assert environment_digest(rehearsal) == before

    # the same drill without the delay passes: the objective, not the drill, failed it above
    assert run_drill(bad_deployment_drill(rehearsal, ALLOW, probe), digest=environment_digest).outcome == PASS
