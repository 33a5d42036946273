"""pytest glue for runbook sections: "this section of our runbook still works", in a team's suite and game day.

    def test_rollback_section_still_works(runbook_section):
        result = runbook_section("runbooks/rollback.md", "2", fault="bad-lambda-version", verify="post-rollback")
        assert result.ok, "\\n".join(result.render())

    @pytest.mark.runbook_section("runbooks/rollback.md", "2", fault="bad-lambda-version", verify="post-rollback")
    def test_rollback_section(runbook_rehearsal):
        assert runbook_rehearsal.ok, "\\n".join(runbook_rehearsal.render())

Either runs on the session's target (``--env``, ``--target``); a test that uses them is ``mutating`` (the
section's commands change the target), so the harness plugin's rules apply: embedded by default,
``--allow-mutation`` elsewhere. A relative path is looked up beside the test file, then from the rootdir.
A module of its own (registered by the ``runbook_harness_runbook`` entry point).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pytest

from harness.runbook.rehearse import Rehearsal
from harness.targets.base import Target

MARKER = (
    "runbook_section(path, section, fault=None, verify=None, variables=None, args=(), rows=None): rehearse that "
    "section of the runbook on the session's target; the test takes `runbook_rehearsal`"
)
FIXTURES = ("runbook_section", "runbook_rehearsal")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A rehearsal runs the runbook's own commands: the test is mutating (before the harness plugin judges it)."""
    for item in items:
        uses = any(f in getattr(item, "fixturenames", ()) for f in FIXTURES)
        if (uses or item.get_closest_marker("runbook_section")) and not item.get_closest_marker("mutating"):
            item.add_marker(pytest.mark.mutating)


def _path(request: pytest.FixtureRequest, path: str | Path) -> Path:
    p = Path(path)
    if p.is_absolute():
        return p
    beside = Path(str(request.node.fspath)).parent / p
    return beside if beside.exists() else Path(str(request.config.rootpath)) / p


def rehearse_section(
    request: pytest.FixtureRequest,
    target: Target,
    path: str | Path,
    section: str,
    *,
    fault: str | None = None,
    verify: str | None = None,
    variables: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    rows: Sequence[str] | None = None,
) -> Rehearsal:
    """Rehearse ``section`` of the runbook at ``path`` on ``target``; the report goes to the test's output."""
    from harness.cli.runbook import checklist_verifier
    from harness.runbook import faults
    from harness.runbook.document import load
    from harness.runbook.rehearse import rehearse

    runbook = load(_path(request, path))
    inject = (lambda t: faults.inject(fault, t, variables)) if fault else None
    check = checklist_verifier(verify, rows) if verify else None
    result = rehearse(runbook, section, target, variables=variables, args=args, inject=inject, verify=check)
    print("\n".join(result.render()))
    return result


@pytest.fixture
def runbook_section(request: pytest.FixtureRequest, target: Target) -> Callable[..., Rehearsal]:
    """``runbook_section(path, section, fault=..., verify=..., variables=..., args=...)`` -> the Rehearsal."""

    def run(path: str | Path, section: str, **options: Any) -> Rehearsal:
        return rehearse_section(request, target, path, section, **options)

    return run


@pytest.fixture
def runbook_rehearsal(request: pytest.FixtureRequest, target: Target) -> Rehearsal:
    """The rehearsal of the section the test's ``runbook_section`` marker names."""
    marker = request.node.get_closest_marker("runbook_section")
    if marker is None:
        pytest.fail("runbook_rehearsal needs @pytest.mark.runbook_section(path, section, ...)", pytrace=False)
    return rehearse_section(request, target, *marker.args, **marker.kwargs)
