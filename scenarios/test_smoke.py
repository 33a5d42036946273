"""Smoke: every resource the inventory names can be read through the fixtures (000 §3, 001 §1.3-1.4, 003 §1)."""

import pytest

from checks.presence import check_present
from harness.inventory.resources import inventory_resources
from plugins.harness_plugin import harness_state


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "resource" in metafunc.fixturenames:
        env = harness_state(metafunc.config).env
        resources = inventory_resources(env) if env else []
        metafunc.parametrize("resource", resources, ids=[r.id for r in resources])


@pytest.mark.readonly
def test_account_is_the_environments(target, env):
    """The caller identity was checked against the inventory before anything else (safety rule 1)."""
    assert target.verified_account == env.account


@pytest.mark.readonly
def test_resource_present(aws, target, resource):
    """The resource exists and is readable on this target."""
    result = check_present(aws, resource, getattr(getattr(target, "seeded", None), "not_rehearsable", None))
    if result.verdict.value == "skip":
        pytest.skip(result.observed)
    assert result.ok, result.message()
