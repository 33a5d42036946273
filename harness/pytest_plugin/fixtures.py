"""The session fixtures (inventory, env, target, aws, clock), ``each_resource`` parametrization, and the
collection guards: --env required by the scenarios that need it, mutating scenarios skipped where the safety
rules refuse them.
"""

from __future__ import annotations

from typing import Any, Callable, cast

import pytest

from harness.clock import Clock
from harness.errors import HarnessError
from harness.inventory import Environment, Inventory, load_inventory
from harness.inventory.resources import inventory_resources
from harness.pytest_plugin.state import ENV_FIXTURES, harness_state, listing_only
from harness.safety import mutation_refusal
from harness.targets import Target

SHARED_SKIP = "--shared-emulator: one emulator account shared by every xdist worker; mutating tests run without it"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@pytest.mark.each_resource``: parametrize ``resource`` with every resource of --env's inventory."""
    if metafunc.definition.get_closest_marker("each_resource") is None or "resource" not in metafunc.fixturenames:
        return
    env = harness_state(metafunc.config).env
    resources = inventory_resources(env) if env is not None else []
    metafunc.parametrize("resource", resources, ids=[r.id for r in resources])


def _uses_env_fixtures(item: pytest.Item) -> bool:
    """True when the item requests the env/target/aws/inventory/clock fixtures."""
    return bool(ENV_FIXTURES & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--env required by scenarios that use the env fixtures; mutating scenarios skipped where the safety rules
    refuse them (docs/architecture.md "Safety model")."""
    state = harness_state(config)
    needs_env = [i for i in items if _uses_env_fixtures(i)]
    if needs_env and state.env is None and not listing_only(config):
        valid = ""
        try:
            valid = f"; valid for inventory {config.getoption('--inventory')}: " + ", ".join(
                load_inventory(config.getoption("--inventory")).env_names
            )
        except HarnessError:
            pass
        raise pytest.UsageError(f"--env is required by these scenarios{valid}")
    shared = bool(getattr(state.target, "shared_by_workers", False))
    # A rehearsal rehearses the approval gate too: on a disposable target without --approved-by, a
    # scenario marked rehearsal_approvals signs with labelled stand-ins (plugins/actions.py
    # rehearsal_authority) and its actions still pass through the approval guard.
    stand_ins = bool(state.described and state.described.disposable) and not config.getoption("--approved-by")
    for item in items:
        if shared and item.get_closest_marker("mutating"):
            item.add_marker(pytest.mark.skip(reason=SHARED_SKIP))
            continue
        if item.get_closest_marker("mutating") and state.env is not None:
            refusal = mutation_refusal(
                disposable=bool(state.described and state.described.disposable),
                target=state.target_name,
                env=state.env,
                allow_mutation=config.getoption("--allow-mutation"),
                approvers=config.getoption("--approved-by"),
                reason=config.getoption("--reason"),
            )
            if refusal and not (stand_ins and item.get_closest_marker("rehearsal_approvals")):
                item.add_marker(pytest.mark.skip(reason=refusal))


def _resolved(config: pytest.Config, attr: str) -> Any:
    """The session's ``attr``, or the test fails in one line saying what is missing."""
    value = getattr(harness_state(config), attr)
    if value is None:
        pytest.fail(f"the harness has no {attr}: run with --env NAME (and a reachable --target)", pytrace=False)
    return value


@pytest.fixture(scope="session")
def inventory(pytestconfig: pytest.Config) -> Inventory:
    """The inventory chosen with --inventory (validated)."""
    return cast(Inventory, _resolved(pytestconfig, "inventory"))


@pytest.fixture(scope="session")
def env(pytestconfig: pytest.Config) -> Environment:
    """The environment chosen with --env, every name resolved from the inventory."""
    return cast(Environment, _resolved(pytestconfig, "env"))


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    """The started target (account already verified): embedded, localstack or aws."""
    return cast(Target, _resolved(pytestconfig, "target"))


@pytest.fixture(scope="session")
def aws(target: Target) -> Callable[..., Any]:
    """Client factory: ``aws("lambda")`` or ``aws("s3", region="eu-west-1")``; one client per service and region."""
    return target.client


@pytest.fixture(scope="session")
def clock(target: Target) -> Clock:
    """The target's clock: checks, actions and drills read "now" from it (never freeze time around real AWS)."""
    return target.clock
