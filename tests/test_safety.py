"""Safety rules: approvals (000 §9.3, 001 §2.2), maintenance windows (001 §4.1.2), explicit mutation flag."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from harness.inventory import load_inventory
from harness.safety import approval_refusal, mutation_refusal, window_containing, window_refusal

PROD = load_inventory("bbws").environment("prod")
SIT = load_inventory("bbws").environment("sit")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (utc(2026, 11, 24, 20, 0), True),  # Tuesday 20:00 UTC: window opens
        (utc(2026, 11, 24, 23, 59), True),  # Tuesday 23:59
        (utc(2026, 11, 25, 0, 0), False),  # Wednesday 00:00: Tuesday's window has closed
        (utc(2026, 11, 24, 19, 59), False),  # Tuesday before the window
        (utc(2026, 11, 26, 21, 30), True),  # Thursday
        (utc(2026, 11, 28, 4, 0), True),  # Saturday 04:00
        (utc(2026, 11, 28, 8, 0), False),  # Saturday 08:00: closed
        (utc(2026, 11, 23, 21, 0), False),  # Monday
    ],
)
def test_maintenance_windows(when: datetime, inside: bool) -> None:
    assert (window_containing(PROD.maintenance_windows, when) is not None) is inside
    refusal = window_refusal(PROD, when)
    assert (refusal is None) is inside
    if refusal:
        assert "outside the maintenance windows" in refusal and "Tuesday 20:00-00:00 UTC" in refusal


def test_window_past_midnight_wraps() -> None:
    from harness.inventory.schema import WindowSpec

    late = (WindowSpec(day="Friday", start_utc="22:00", end_utc="02:00"),)
    assert window_containing(late, utc(2026, 11, 28, 1, 30))  # Saturday 01:30 is still Friday's window
    assert not window_containing(late, utc(2026, 11, 28, 2, 0))


def test_unprotected_env_has_no_window() -> None:
    assert window_refusal(SIT, utc(2026, 11, 23, 12, 0)) is None


def test_approvals_need_distinct_people_and_a_reason() -> None:
    rule = PROD.approvals["sit-to-prod"]
    assert "2 distinct approvers" in approval_refusal(rule, "sit-to-prod", ["ann", "ann "], "release 1.0.4")
    assert "needs a reason" in approval_refusal(rule, "sit-to-prod", ["ann", "bo"], "  ")
    assert approval_refusal(rule, "sit-to-prod", ["ann", "bo"], "release 1.0.4") is None
    assert "no approval rule 'nope'" in approval_refusal(None, "nope", ["ann", "bo"], "x")


def test_mutation_refusals() -> None:
    assert "needs --allow-mutation" in mutation_refusal(
        disposable=False, target="aws", env=SIT, allow_mutation=False, approvers=[], reason=None
    )
    assert "needs --allow-mutation" in mutation_refusal(
        disposable=False, target="localstack", env=SIT, allow_mutation=False, approvers=[], reason=None
    )
    assert (
        mutation_refusal(disposable=False, target="aws", env=SIT, allow_mutation=True, approvers=[], reason=None)
        is None
    )
    assert (
        mutation_refusal(disposable=True, target="embedded", env=SIT, allow_mutation=False, approvers=[], reason=None)
        is None
    )
    assert "prod-rollback needs 2 distinct approvers" in mutation_refusal(
        disposable=True, target="embedded", env=PROD, allow_mutation=False, approvers=["ann"], reason="x"
    )
    assert (
        mutation_refusal(
            disposable=False, target="aws", env=PROD, allow_mutation=True, approvers=["ann", "bo"], reason="INC-7"
        )
        is None
    )
