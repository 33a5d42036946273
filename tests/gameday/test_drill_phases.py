"""Each drill phase runs alone: a drill is an object whose state lives on the instance, so a test builds it, sets
what one phase reads and calls that phase with a fresh :meth:`DrillRun.begin` run (no other phase runs).

One seeded bbws/sit rehearsal per module (tests/gameday/conftest.py); every test puts back what it changed.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from harness.data_verify import Digests, table_digests
from harness.drills.base import BaseDrill, DrillRun, UndoFailed
from harness.drills.digest import differences, environment_digest
from harness.drills.lambda_drills import bad_deployment_drill
from harness.drills.model import DETECTION, FAIL, PASS, STEADY, VERIFICATION, Detection, Recovery, Row, row
from harness.drills.pitr_drill import data_corruption_drill
from harness.drills.runner import run_drill
from harness.drills.state_drill import state_drill
from harness.faults.base import Fault
from tests.gameday.conftest import ALLOW

ITEMS = 12


@pytest.fixture(scope="module", autouse=True)
def unchanged(rehearsal) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Whatever a test below does, the rehearsal ends the module as it began."""
    before = environment_digest(rehearsal)
    yield
    assert differences(before, environment_digest(rehearsal)) == []


def _verdicts(rows: list[Row], slug: str) -> set[str]:
    return {str(r["verdict"]) for r in rows if r["slug"] == slug}


def test_pitr_detect_alone_compares_the_table_with_the_snapshot_on_the_instance(rehearsal, probe) -> None:
    """No setup, no fault: detect reads ``drill.snapshot``; a snapshot naming an item the table lacks is red."""
    drill = data_corruption_drill(rehearsal, ALLOW, probe, items=ITEMS)
    table = drill.table.name
    current = table_digests(rehearsal.client("dynamodb"), table)
    drill.snapshot = current
    green = drill.detect(DrillRun.begin(drill))
    assert _verdicts(green.rows, "data-integrity") == {"pass"}

    ghost = Digests(current.source, current.key_names, {**current.items, '{"id": "not-in-the-table"}': "00"})
    drill.snapshot = ghost
    red = drill.detect(DrillRun.begin(drill))
    integrity = next(r for r in red.rows if r["slug"] == "data-integrity")
    assert integrity["verdict"] == "fail" and integrity["resource"] == table
    assert str(len(ghost)) in integrity["expected"] and integrity["observed"], integrity


def test_pitr_setup_alone_keeps_the_snapshot_on_the_drill_and_its_undo_step_deletes_the_items(rehearsal, probe) -> None:
    drill = data_corruption_drill(rehearsal, ALLOW, probe, items=ITEMS)
    run = DrillRun.begin(drill)
    assert drill.snapshot is None
    drill.setup(run)
    try:
        assert drill.snapshot is not None and len(drill.snapshot) >= ITEMS
        assert any(f"{ITEMS} drill items written" in e.what for e in run.result.timeline)
    finally:
        assert drill.delete_items(run) == [f"{ITEMS} drill item(s) deleted from {drill.table.name}"]


def test_pitr_recover_alone_without_a_fault_says_which_phase_is_missing(rehearsal, probe) -> None:
    drill = data_corruption_drill(rehearsal, ALLOW, probe, items=ITEMS)
    with pytest.raises(RuntimeError, match="no restore point: the fault phase has not run"):
        drill.recover(DrillRun.begin(drill))


def test_lambda_verify_alone_judges_the_versions_the_instance_expects(rehearsal, probe) -> None:
    """verify reads ``drill.expect`` (what inject would set): the served versions pass, a wrong one is red."""
    drill = bad_deployment_drill(rehearsal, ALLOW, probe)
    fn = drill.functions[0]
    served = rehearsal.client("lambda").get_alias(FunctionName=fn, Name=rehearsal.env.alias)["FunctionVersion"]
    drill.expect = {fn: served}
    rows = drill.verify(DrillRun.begin(drill))
    assert _verdicts(rows, "lambda-alias-version") == {"pass"}, rows

    drill.expect = {fn: "999"}
    rows = drill.verify(DrillRun.begin(drill))
    version = next(r for r in rows if r["slug"] == "lambda-alias-version" and r["resource"] == fn)
    assert version["verdict"] == "fail" and "999" in version["expected"] and served in version["observed"], version


def test_state_inject_detect_and_undo_run_one_by_one(rehearsal, probe) -> None:
    """inject alone leaves the key red for detect; the fault's undo alone makes it green again."""
    drill = state_drill(rehearsal, ALLOW, probe)
    run = DrillRun.begin(drill)
    assert _verdicts(drill.steady(run), "terraform-state") == {"pass"}
    fault = drill.inject(run)
    try:
        detected = drill.detect(run)
        assert _verdicts(detected.rows, "terraform-state") == {"fail"}
        assert {r["resource"] for r in detected.rows} == {drill.key}
    finally:
        fault.revert(rehearsal.clock.now())
    assert _verdicts(drill.verify(run), "terraform-state") == {"pass"}
    assert list(drill.undo(run)) == []  # the state drill makes nothing beyond its fault


class _Scripted(BaseDrill):
    """A drill without AWS: each phase returns what the test scripted and records that it ran."""

    def __init__(self, target: Any, *, detected: bool = True, undo_fails: bool = False) -> None:
        self.target, self.name, self.title, self.kind, self.ref = target, "scripted", "Scripted", "lambda_code", "-"
        self.must_detect = (("probe-row", "res"),)
        self.notes: list[str] = []
        self.detected, self.undo_fails = detected, undo_fails
        self.ran: list[str] = []

    def _row(self, ok: bool) -> list[Row]:
        return [row("probe-row", "res", "green", "green" if ok else "red", ok, "-")]

    def steady(self, run: DrillRun) -> list[Row]:
        self.ran.append(STEADY)
        return self._row(True)

    def inject(self, run: DrillRun) -> Fault:
        self.ran.append("fault")
        return Fault("scripted", "res", "-", {}, {}, injected_at=run.clock.now(), undo=self._undone)

    def _undone(self) -> list[str]:
        self.ran.append("fault undone")
        return ["ok"]

    def detect(self, run: DrillRun) -> Detection:
        self.ran.append(DETECTION)
        return Detection(self._row(not self.detected))

    def recover(self, run: DrillRun) -> Recovery:
        self.ran.append("recovery")
        return Recovery("scripted", True)

    def verify(self, run: DrillRun) -> list[Row]:
        self.ran.append(VERIFICATION)
        return self._row(True)

    def undo_steps(self) -> list[Any]:
        return [self.broken_step, self.last_step] if self.undo_fails else [self.last_step]

    def broken_step(self, run: DrillRun) -> list[str]:
        raise RuntimeError("cannot put it back (test)")

    def last_step(self, run: DrillRun) -> list[str]:
        self.ran.append("last step")
        return ["last step done"]


def test_the_runner_drives_the_phases_in_order_and_skips_the_ones_a_drill_lacks(rehearsal) -> None:
    drill = _Scripted(rehearsal)
    result = run_drill(drill)
    assert result.outcome == PASS, result.message()
    assert drill.ran == [STEADY, "fault", DETECTION, "recovery", VERIFICATION, "last step", "fault undone"]
    assert [p.name for p in result.phases] == [STEADY, "fault", DETECTION, "recovery", VERIFICATION, "cleanup"]
    assert any(e.what == "cleanup: last step done" for e in result.timeline)


def test_an_undetected_fault_stops_the_drill_before_any_recovery(rehearsal) -> None:
    drill = _Scripted(rehearsal, detected=False)
    result = run_drill(drill)
    assert result.outcome == FAIL and "fault not detected: probe-row on res stayed green" in result.message()
    assert "recovery" not in drill.ran and drill.ran[-1] == "fault undone"


def test_every_undo_step_runs_and_a_failing_one_fails_the_drill_by_name(rehearsal) -> None:
    drill = _Scripted(rehearsal, undo_fails=True)
    with pytest.raises(UndoFailed, match="broken_step: RuntimeError: cannot put it back"):
        list(drill.undo(DrillRun.begin(drill)))
    assert drill.ran == ["last step"]  # the step after the failing one still ran

    drill.ran.clear()
    result = run_drill(drill)
    assert result.outcome == FAIL
    assert "cleanup failed (the environment may not be as it was): broken_step: RuntimeError" in result.message()
    assert drill.ran[-2:] == ["last step", "fault undone"]
