"""Smoke: every resource the inventory names can be read through the fixtures (000 §3, 001 §1.3-1.4, 003 §1)."""

import pytest

from harness.checks.presence import check_present


@pytest.mark.readonly
def test_account_is_the_environments(target, env):
    """The caller identity was checked against the inventory before anything else (safety rule 1)."""
    assert target.verified_account == env.account


@pytest.mark.readonly
@pytest.mark.each_resource
def test_resource_present(target, resource):
    """The resource exists and is readable on this target."""
    result = check_present(target, resource)
    if result.verdict.value == "skip":
        pytest.skip(result.observed)
    assert result.ok, result.message()
