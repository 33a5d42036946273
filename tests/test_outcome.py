"""harness/outcome.py: each Outcome is its wire string, as the runbooks write records (001 §6.3.2)."""

from __future__ import annotations

import json

import pytest

from harness import aws, records
from harness.outcome import Outcome

WIRE = ("COMPLETE", "FAILED", "REFUSED", "DRY_RUN", "SKIPPED", "IN_PROGRESS", "INTERRUPTED", "PASS", "FAIL")


@pytest.mark.parametrize("wire", WIRE)
def test_each_member_is_its_wire_string(wire: str) -> None:
    member = Outcome(wire)
    assert member == wire
    assert str(member) == wire
    assert f"{member}" == wire
    assert json.dumps(member) == json.dumps(wire)


def test_complete_is_the_plain_string() -> None:
    assert Outcome.COMPLETE == "COMPLETE"
    assert json.dumps({"status": Outcome.COMPLETE}) == '{"status": "COMPLETE"}'
    assert json.loads(json.dumps([Outcome.IN_PROGRESS]))[0] == Outcome.IN_PROGRESS


def test_the_members_are_exactly_the_wire_values() -> None:
    assert sorted(m.value for m in Outcome) == sorted(WIRE)


def test_dynamodb_stores_the_plain_string() -> None:
    assert aws.attribute(Outcome.COMPLETE) == {"S": "COMPLETE"}
    assert aws.to_item({"status": Outcome.FAILED}) == {"status": {"S": "FAILED"}}


def test_records_constants_alias_the_enum() -> None:
    assert (records.IN_PROGRESS, records.COMPLETE, records.FAILED) == (
        Outcome.IN_PROGRESS,
        Outcome.COMPLETE,
        Outcome.FAILED,
    )


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="'DONE'"):
        Outcome("DONE")
