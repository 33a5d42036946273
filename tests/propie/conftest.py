"""One seeded PropIE production rehearsal per module, on an account no other test uses, on a FixedClock
at a whole minute (so the seed's newest trigger datapoint starts the window every test reads).

Tests that break something put it back before they return (the actions under test usually do), and
refill the trigger windows with ``traffic()`` when they moved the clock past them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from harness.actions import Authority
from harness.checks.context import CheckContext
from harness.checks.result import CheckResult, Verdict
from harness.checks.runner import run_procedure
from harness.clock import FixedClock
from harness.inventory.model import Environment
from harness.targets.embedded import EmbeddedTarget
from harness.targets.embedded.fidelity import amplify_traffic
from harness.targets.embedded.target import reset_account
from tests.fidelity.conftest import start_target

PROCEDURE = "propie-rollback"


@dataclass
class Propie:
    """A started propie/production rehearsal, its clock, and checklist runs on it."""

    target: EmbeddedTarget
    clock: FixedClock

    @property
    def env(self) -> Environment:
        return self.target.env

    @property
    def amplify(self) -> Any:
        return self.target.extensions.amplify

    @property
    def stack(self) -> str:
        return self.env.cfn_stacks[0]

    def context(self, target: Any = None, **kwargs: Any) -> CheckContext:
        """A fresh context on the rehearsal (or on ``target``, e.g. an inventory variant of it)."""
        return CheckContext.for_target(target or self.target, **kwargs)

    def run(self, target: Any = None, **kwargs: Any) -> dict[tuple[str, str], CheckResult]:
        """Every 004 row, keyed by (slug, resource)."""
        return {(r.slug, r.resource): r for r in run_procedure(self.context(target, **kwargs), PROCEDURE)}

    def slug(self, slug: str, target: Any = None, **kwargs: Any) -> dict[str, CheckResult]:
        """One slug's rows by resource."""
        return {r.resource: r for r in run_procedure(self.context(target, **kwargs), None, (slug,))}

    def refill(self) -> None:
        """Healthy trigger datapoints for the window ending now, without moving the clock (tests that moved it
        past the seeded baseline; the rows about something else must not turn WARN for want of data)."""
        minutes = max(t.window_minutes for t in self.env.triggers)
        for k in range(1, minutes + 1):
            amplify_traffic.publish(
                self.target.client("cloudwatch"),
                amplify_traffic.minute(self.env, self.clock.now() - timedelta(minutes=k)),
            )

    def traffic(self) -> None:
        """A trigger window's worth of users' traffic on whatever the domain serves (the clock moves on)."""
        self.amplify.run_traffic(max(t.window_minutes for t in self.env.triggers))


class WithEnv:
    """The rehearsal seen through another inventory (a variant of its environment); all else delegated."""

    def __init__(self, target: Any, env: Environment) -> None:
        self._target, self.env = target, env

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def variant(p: Propie, **changes: Any) -> WithEnv:
    """The rehearsal with ``changes`` to its environment (``amplify=...``, ``cfn_stacks=...``, ``triggers=...``)."""
    return WithEnv(p.target, dataclasses.replace(p.env, **changes))


def bad(results: dict[tuple[str, str], CheckResult]) -> dict[tuple[str, str], CheckResult]:
    """Rows that did not pass (SKIP included: nothing here may skip on the embedded target)."""
    return {k: r for k, r in results.items() if r.verdict is not Verdict.PASS}


def describe(results: dict[tuple[str, str], CheckResult]) -> str:
    return "\n".join(r.message() for r in results.values()) or "(none)"


@pytest.fixture(scope="module")
def propie() -> Iterator[Propie]:
    """Seeded propie/production on a fresh account, shared by the module's tests."""
    clock = FixedClock(datetime.now(timezone.utc).replace(second=0, microsecond=0))
    target = start_target("propie", "production", clock=clock)
    yield Propie(target, clock)
    target.close()
    reset_account(target.env.account)


@pytest.fixture(scope="session")
def approved() -> Authority:
    """The approvals 004's production needs (inventory approvals.prod-rollback), as a test signs them."""
    return Authority(approvers=("DevOps Lead (test)",), reason="rehearsal of 004 in the project's tests", actor="tests")
