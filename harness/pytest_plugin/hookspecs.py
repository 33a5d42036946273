"""Hooks the harness plugin adds to pytest (``pytest_addhooks``).

Actions, faults and drills never import Allure or the reporting plugin: they report through these
hooks, and whoever wants to (the reporting plugin, a team's conftest) implements them.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec(firstresult=True)
def pytest_harness_clock(config: pytest.Config, env: Any, target_name: str) -> Any:
    """Return the clock the session's target starts with (e.g. a ``FixedClock``), or None for the
    target's own. Called once, before the target starts; a conftest's ``pytest_harness_clock`` wins."""


def pytest_harness_target_started(config: pytest.Config, target: Any) -> None:
    """The session's target is started and its account verified."""


def pytest_harness_action_applied(config: pytest.Config, result: Any) -> None:
    """A mutating action finished (``result`` is the action's typed result: plan, changes, outcome)."""


def pytest_harness_fault_injected(config: pytest.Config, fault: Any) -> None:
    """A game-day fault was injected (``fault`` describes it and carries its undo)."""


def pytest_harness_fault_reverted(config: pytest.Config, fault: Any) -> None:
    """A game-day fault was undone."""


def pytest_harness_validate_options(config: pytest.Config, env: Any, target_name: str) -> None:
    """Check this plugin's options for ``env`` and raise ``pytest.UsageError`` (one line) for a mistake.

    Called once per process after the environment resolves and before the target is built or started:
    nothing has been called and nothing seeded, so a typo never costs a seeding and never turns a
    check off silently."""
