"""Fixtures for the game-day tests: a seeded bbws/sit rehearsal per module, on an account no other test uses.

Drills put back what they change (their cleanup, checked by the environment digest), so one rehearsal serves
every drill of a module in any order.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from harness.actions import Authority
from harness.pytest_plugin.gameday import RowsProbe
from harness.targets.embedded import EmbeddedTarget
from tests.conftest import REPO
from tests.fidelity.conftest import start_target

ALLOW = Authority(actor="tests/gameday", reason="tests/gameday")
FIXTURES = Path(__file__).parent / "fixtures"
SCRIPT = FIXTURES / "rollback_all_services.py"


def override(drill: Any, **phases: Callable[..., Any]) -> Any:
    """``drill`` with some phases replaced (instance attributes shadow the methods): how a test makes a drill fail."""
    for name, phase in phases.items():
        setattr(drill, name, phase)
    return drill


def script(rule: str) -> list[str]:
    """The team's rollback-all script (000 §4.4 ported), picking "previous" by ``rule`` (runbook | alias)."""
    return [sys.executable, str(SCRIPT.relative_to(REPO)), "sit", "game day", "--previous", rule]


@pytest.fixture(scope="module")
def rehearsal() -> Iterator[EmbeddedTarget]:
    """A seeded bbws/sit rehearsal on a fresh account for this module."""
    target = start_target("bbws", "sit")
    yield target
    target.close()


@pytest.fixture(scope="module")
def probe(rehearsal: EmbeddedTarget) -> RowsProbe:
    """Checklist rows, plainly (no pytest node, no Allure)."""
    return RowsProbe(rehearsal)
