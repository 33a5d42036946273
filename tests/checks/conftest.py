"""Fixtures for the checklist tests: one seeded embedded SIT (and PROD, for replication) per module.

Module scope, and the account reset on teardown: a live target owns its account's moto state in
this process, so it must be gone before another module (another engineer's tests) starts its own.

The clock is fixed at a whole minute when the target is seeded, so the seed's newest 5-minute
metric point sits exactly at the start of the verification window and every test sees the same
window. Tests that break something restore it before they return.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from harness.checks.context import CheckContext
from harness.checks.result import CheckResult
from harness.checks.runner import run_procedure
from harness.clock import FixedClock
from harness.inventory import load_inventory
from harness.targets.embedded import EmbeddedTarget
from harness.targets.embedded.target import reset_account


@dataclass
class Rehearsal:
    """A started embedded environment, its clock, and a way to run checklists on it."""

    target: EmbeddedTarget
    clock: FixedClock

    @property
    def env(self):  # type: ignore[no-untyped-def]
        return self.target.env

    def context(self, **kwargs: object) -> CheckContext:
        """A fresh context (empty caches), the API front if the emulator has one."""
        kwargs.setdefault("api_base_url", local_api_url(self.target))
        return CheckContext.for_target(self.target, **kwargs)  # type: ignore[arg-type]

    def run(self, procedure: str | None = None, **kwargs: object) -> dict[tuple[str, str], CheckResult]:
        """Every row of ``procedure`` (all when None), keyed by (slug, resource)."""
        return {(r.slug, r.resource): r for r in run_procedure(self.context(**kwargs), procedure)}


def local_api_url(target: EmbeddedTarget) -> str | None:
    """The fidelity extension's local HTTP front, or None (never the inventory's real hostname)."""
    url = target.api_base_url
    return None if target.env.api and url == target.env.api.base_url else url


def fidelity_installed() -> bool:
    """True when the embedded fidelity extensions are importable (invoke, percentiles, HTTP front)."""
    try:
        from harness.targets.embedded import fidelity  # noqa: F401 (importing installs nothing; it checks the package imports)
    except ImportError:
        return False
    return True


needs_fidelity = pytest.mark.skipif(not fidelity_installed(), reason="needs the embedded fidelity extensions")


def _start(env_name: str) -> Rehearsal:
    clock = FixedClock(datetime.now(timezone.utc).replace(second=0, microsecond=0))
    env = load_inventory("bbws").environment(env_name)
    target = EmbeddedTarget(env, clock=clock).start()
    assert target.clock is clock
    return Rehearsal(target, clock)


def _stop(r: Rehearsal) -> None:
    r.target.close()
    reset_account(r.env.account)


@pytest.fixture(scope="module")
def sit() -> Iterator[Rehearsal]:
    """Seeded embedded SIT, shared by the module's tests (each restores what it breaks)."""
    r = _start("sit")
    yield r
    _stop(r)


@pytest.fixture(scope="module")
def dev() -> Iterator[Rehearsal]:
    """Seeded embedded DEV (its own account), for the DEV->SIT gate (< 10 errors in 1 h)."""
    r = _start("dev")
    yield r
    _stop(r)


@pytest.fixture(scope="module")
def prod() -> Iterator[Rehearsal]:
    """Seeded embedded PROD (its own account: no collision with SIT), for replication rows."""
    r = _start("prod")
    yield r
    _stop(r)


def not_ok(results: dict[tuple[str, str], CheckResult]) -> dict[tuple[str, str], CheckResult]:
    """Rows that FAILed or ERRORed."""
    return {k: r for k, r in results.items() if not r.ok}


def describe(results: dict[tuple[str, str], CheckResult]) -> str:
    """Failing/erroring rows, one per line, for assertion messages."""
    return "\n".join(r.message() for r in results.values()) or "(none)"
