"""The runbook harness's pytest plugin (the ``pytest11`` entry point): markers, hooks, and the session object.

Logic lives in ``harness/``; the plugin only wires it into pytest, one module per job:

- :mod:`~harness.pytest_plugin.options`: the options (from the one table, harness/options.py) and their validation;
- :mod:`~harness.pytest_plugin.session`: the session object that resolves inventory, env and target, opens the
  run directory and starts the target; :mod:`~harness.pytest_plugin.runs` closes the run directory;
- :mod:`~harness.pytest_plugin.fixtures`: the session fixtures, ``each_resource`` and the collection guards;
- :mod:`~harness.pytest_plugin.checklist`: checklist rows as tests (``@pytest.mark.checklist``), Allure evidence;
- :mod:`~harness.pytest_plugin.collector`: the run's rows gathered from every (xdist) test report;
- :mod:`~harness.pytest_plugin.allure_tidy`: readable Allure parameters and the error once;
- :mod:`~harness.pytest_plugin.reporting`: the verification report written once, and its Allure result.

Registered as a ``pytest11`` entry point, so it works from any directory once the package is installed.
"""

from __future__ import annotations

import pytest

from harness.pytest_plugin.session import NAME, HarnessSession
from harness.pytest_plugin.state import STATE, HarnessState, harness_state

pytest_plugins = [
    "harness.pytest_plugin.options",
    "harness.pytest_plugin.fixtures",
    "harness.pytest_plugin.checklist",
    "harness.pytest_plugin.collector",
    "harness.pytest_plugin.allure_tidy",
]

MARKERS = {
    "readonly": "reads only (get/describe/list/invoke-health/metrics/logs; write-read checks clean up their own "
    "object)",
    "mutating": "changes the target (actions, drills); needs --allow-mutation on --target aws, approvals on "
    "protected envs",
    "gameday": "a game-day drill: injects a fault and verifies detection and recovery",
    "each_resource": "one test per resource the inventory names for --env; the test takes `resource`",
    "rehearsal_approvals": "on a disposable target without --approved-by, the scenario signs with labelled stand-in "
    "approvers (never on a real account)",
    "checklist(procedure)": "one test per checklist row of the procedure (post-rollback, post-deployment, "
    "pre-promotion); the test takes `row`",
}

__all__ = ["HarnessSession", "HarnessState", "MARKERS", "STATE", "harness_state"]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """The harness's hooks (harness/pytest_plugin/hookspecs.py)."""
    from harness.pytest_plugin import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """The markers, then the session object (its own ``pytest_configure`` resolves and starts everything)."""
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    if not config.pluginmanager.has_plugin(NAME):
        config.pluginmanager.register(HarnessSession(config), NAME)
