"""Every drill passes on the embedded rehearsal and leaves it as it found it; every drill can fail: when the recovery
is skipped or broken, and when detection misses the fault. After all of them the rehearsal is back to its seeded state.

One seeded bbws/sit rehearsal (and its PROD peer) per module; drills run in-process through the runner with a
plain probe, as the ``gameday`` fixture runs them under pytest.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

import pytest

from harness.actions import Authority
from harness.actions.monitor import MonitorResult
from harness.actions.promote import next_window_start
from harness.clock import RehearsalClock
from harness.drills.base import Drill
from harness.drills.digest import environment_digest
from harness.drills.lambda_drills import bad_deployment_drill
from harness.drills.model import DETECTION, FAIL, PASS, Check, Detection, Recovery
from harness.drills.pitr_drill import data_corruption_drill
from harness.drills.promotion_drill import bad_promotion_drill
from harness.drills.runner import run_drill
from harness.drills.state_drill import state_drill
from harness.inventory import load_inventory
from harness.targets.embedded.peer import start_peer
from tests.fidelity.conftest import fresh_account, isolated
from tests.gameday.conftest import ALLOW, override

APPROVED = Authority(
    approvers=("rehearsal Tech Lead", "rehearsal Operations Lead"), reason="tests/gameday", actor="tests/gameday"
)
PITR_ITEMS = 40  # enough to corrupt some and keep most (the drill's 1-in-10 / 1-in-20 shares)


@pytest.fixture(scope="module", autouse=True)
def seeded(rehearsal) -> dict[str, Any]:
    """The rehearsal's digest before any drill of the module ran (the seeded state)."""
    return environment_digest(rehearsal)


@pytest.fixture(scope="module")
def prod(rehearsal):
    """A PROD peer on the rehearsal's server, on a clock just inside its next maintenance window (001 §4.1.2)."""
    env = isolated(load_inventory("bbws").environment("prod"), fresh_account())
    opening = next_window_start(env, rehearsal.clock.now())
    peer = start_peer(rehearsal, env, clock=RehearsalClock(opening + timedelta(minutes=1)))
    yield peer
    peer.close()


def _drills(rehearsal, probe, prod) -> dict[str, Callable[[], Drill]]:
    return {
        "lambda": lambda: bad_deployment_drill(rehearsal, ALLOW, probe),
        "all-services": lambda: bad_deployment_drill(rehearsal, ALLOW, probe, all_services=True, newer_undeployed=1),
        "pitr": lambda: data_corruption_drill(rehearsal, ALLOW, probe, items=PITR_ITEMS),
        "state": lambda: state_drill(rehearsal, ALLOW, probe),
        "promotion": lambda: bad_promotion_drill(
            rehearsal, prod(), ALLOW, probe, promote_as=APPROVED, rollback_as=APPROVED
        ),
    }


@pytest.fixture(scope="module")
def drills(rehearsal, probe, request) -> dict[str, Callable[[], Drill]]:
    """Drill factories; the promotion drill starts the PROD peer only when asked for."""
    return _drills(rehearsal, probe, lambda: request.getfixturevalue("prod"))


def run(spec: Drill):  # type: ignore[no-untyped-def]
    """Run a drill with the digest comparison, as the plugin does."""
    return run_drill(spec, digest=environment_digest)


@pytest.mark.parametrize("name", ["lambda", "all-services", "pitr", "state", "promotion"])
def test_drill_passes_within_its_rto_and_restores(name, drills) -> None:
    result = run(drills[name]())
    assert result.outcome == PASS, result.message()
    assert result.restored is True and not result.differences
    assert result.rto_s is not None and result.rto_target_s is not None and result.rto_s <= result.rto_target_s
    assert result.rto_wall_s is not None and result.rto_wall_s >= 0
    assert [p.name for p in result.phases][:5] in (
        ["steady state", "fault", "detection", "recovery", "verification"],
        ["setup", "steady state", "fault", "detection", "recovery"],
    )
    assert result.rows[DETECTION] and any(r["verdict"] == "fail" for r in result.rows[DETECTION])
    assert result.fault is not None and result.fault["reverted_at"]


def _skipped(run_: Any) -> Recovery:
    return Recovery("nothing: the recovery was skipped (test)", True, "skipped")


def _broken(run_: Any) -> Recovery:
    raise RuntimeError("the rollback script crashed half-way (test)")


@pytest.mark.parametrize("name", ["lambda", "all-services", "pitr", "state"])
def test_drill_fails_when_the_recovery_is_skipped(name, drills) -> None:
    spec = drills[name]()
    result = run(override(spec, recover=_skipped))
    assert result.outcome == FAIL
    assert "not recovered" in result.message()
    for slug, resource in spec.must_detect:
        assert f"stayed red: {slug} on {resource}" in result.message(), result.message()
    assert result.restored is True, result.differences  # the cleanup undid the fault all the same


@pytest.mark.parametrize("name", ["lambda"])
def test_drill_fails_when_the_recovery_is_broken(name, drills) -> None:
    result = run(override(drills[name](), recover=_broken))
    assert result.outcome == FAIL and "harness error during recovery: RuntimeError" in result.message()
    assert result.verified_at is None and result.rto_s is None
    assert result.restored is True, result.differences


def _blind(probe, slugs: tuple[str, ...], resources: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """A detector that looks only at rows the fault does not turn red."""
    return lambda run_: Detection(probe(Check(slugs, resources), DETECTION))


@pytest.mark.parametrize("name", ["lambda", "all-services", "pitr", "state"])
def test_drill_fails_when_detection_misses_the_fault(name, drills, probe, rehearsal) -> None:
    spec = drills[name]()
    env = rehearsal.env
    blind = {
        # the bad deployment's record says the bad version is deployed: the alias-version row stays green
        "lambda": _blind(probe, ("lambda-alias-version",), tuple(r for _, r in spec.must_detect)),
        "all-services": _blind(probe, ("lambda-alias-version",), tuple(r for _, r in spec.must_detect)),
        # no 000 §7.4 row sees corrupted data: dynamodb-reads passes while an item is readable
        "pitr": _blind(probe, ("dynamodb-reads",), tuple(r for _, r in spec.must_detect)),
        # the terraform-state row of another key
        "state": _blind(probe, ("terraform-state",), (env.terraform.state_keys[0],)),
    }[name]
    result = run(override(spec, detect=blind))
    assert result.outcome == FAIL and "fault not detected" in result.message(), result.message()
    assert result.recovery is None  # nobody recovers what nobody saw
    assert result.restored is True, result.differences


def test_promotion_drill_fails_when_the_monitor_misses(drills, monkeypatch) -> None:
    """A monitor that never fires: the bad release stays live in PROD; the drill fails and its cleanup rolls PROD
    back."""
    import harness.actions.promote_apply as promote

    def blind_watch(target, fn, *, since, seconds=None):  # type: ignore[no-untyped-def]
        now = target.clock.now()
        return MonitorResult(fn, target.env.alias, now, now, float(seconds or 0))

    monkeypatch.setattr(promote, "watch", blind_watch)
    result = run(drills["promotion"]())
    assert result.outcome == FAIL and "fault not detected: auto-rollback-trigger" in result.message(), result.message()
    assert result.restored is True, result.differences


@pytest.mark.parametrize("how", ["skipped", "broken"])
def test_promotion_drill_fails_when_the_automatic_rollback_does_not_happen(how, drills, monkeypatch) -> None:
    """The trigger fires but the automatic rollback leaves the alias on the bad release (skipped) or raises (broken)."""
    import harness.actions.promote_apply as promote

    def no_rollback(dest, plan, result, moved, why):  # type: ignore[no-untyped-def]
        if how == "broken":
            raise RuntimeError("UpdateAlias failed (test)")
        return plan.details["dest_current"]  # says it rolled back, moved nothing

    monkeypatch.setattr(promote, "_rollback_to_backup", no_rollback)
    result = run(drills["promotion"]())
    assert result.outcome == FAIL
    if how == "skipped":
        assert "not recovered" in result.message() and "lambda-alias-version on" in result.message(), result.message()
        assert "health-endpoint on" in result.message()
    else:
        assert "harness error during fault: RuntimeError" in result.message(), result.message()
    assert result.restored is True, result.differences


def test_a_red_steady_state_stops_before_any_fault(drills, probe) -> None:
    spec = drills["state"]()

    def red(run_):
        return [
            dict(r, verdict="fail")
            for r in probe(Check(("terraform-state",), tuple(r for _, r in spec.must_detect)), "steady")
        ]

    result = run(override(spec, steady=red))
    assert result.outcome == FAIL and "steady state not green" in result.message()
    assert result.fault is None and [p.name for p in result.phases] == ["steady state", "cleanup"]


def test_after_every_drill_the_rehearsal_is_in_its_seeded_state(rehearsal, seeded) -> None:
    """Whatever ran before in this module (every drill, passing and failing), the digest is the seeded one."""
    from harness.drills.digest import differences

    assert differences(seeded, environment_digest(rehearsal)) == []
