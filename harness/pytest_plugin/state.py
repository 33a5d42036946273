"""What the harness plugin resolved for this session, and which process of an xdist run this is.

Every other module of the plugin reads the session through :func:`harness_state` (``config.stash``);
only :mod:`harness.pytest_plugin.session` fills it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from harness.inventory import Environment, Inventory
from harness.targets import Target

ENV_FIXTURES = {"env", "target", "aws", "inventory", "clock"}
RUN_DIR_INPUT = "harness_run_dir"  # xdist workerinput keys: workers write into the controller's run directory
REPORTS_ROOT_INPUT = "harness_reports_root"
RUN_STARTED_INPUT = "harness_run_started"
SHARED_EMULATOR_INPUT = "harness_shared_emulator"  # the controller's emulator, for --shared-emulator workers


@dataclass
class HarnessState:
    """What the plugin resolved for this session (``config.stash[STATE]``)."""

    inventory: Inventory | None = None
    env: Environment | None = None
    target_name: str = "embedded"
    target: Target | None = None
    described: Target | None = None  # the target as configured (started or not): header and reports
    controller_only: bool = False  # xdist controller: workers own the targets
    reports_dir: Path | None = None  # this run's directory (<reports-dir>/runs/<id>): everything the run writes
    reports_root: Path | None = None  # --reports-dir: runs/, latest, and the copies of the newest run that ran
    started: datetime | None = None
    tests_ran: int = 0  # tests with an outcome (on the xdist controller: from every worker's reports)
    published: list[str] = field(default_factory=list)  # names copied to reports_root when the run ended
    checklist: dict[str, Any] = field(default_factory=dict)  # completeness summary from the reporting plugin
    options: dict[str, Any] = field(default_factory=dict)


STATE = pytest.StashKey[HarnessState]()


def harness_state(config: pytest.Config) -> HarnessState:
    """The session's resolved inventory, environment and target (for other plugins and conftests)."""
    return config.stash.setdefault(STATE, HarnessState())


def is_xdist_controller(config: pytest.Config) -> bool:
    """True on the controller of an xdist run (``-n``): the workers run the tests."""
    return (
        not hasattr(config, "workerinput")
        and bool(getattr(config.option, "numprocesses", None))
        and getattr(config.option, "dist", "no") != "no"
    )


def is_worker(config: pytest.Config) -> bool:
    """True in an xdist worker."""
    return hasattr(config, "workerinput")


def worker_input(config: pytest.Config) -> dict[str, Any]:
    """What the controller told this worker (empty outside a worker)."""
    return dict(getattr(config, "workerinput", {}))


def listing_only(config: pytest.Config) -> bool:
    """--fixtures, --collect-only, --help: nothing runs."""
    return any(
        config.getoption(name, False) for name in ("showfixtures", "show_fixtures_per_test", "collectonly", "help")
    )
