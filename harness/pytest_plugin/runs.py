"""The run directory's lifetime on the controller: run.json, the count of tests that ran, the copy to the reports root.

The session (harness/pytest_plugin/session.py) opens the run; :class:`RunTracker` closes it after every other
plugin wrote its files, and says on the terminal where the reports are.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from harness import run_dirs
from harness.pytest_plugin.state import HarnessState


def record(state: HarnessState, **info: Any) -> None:
    """Merge ``info`` into this run's run.json (the controller's, or a serial run's)."""
    if state.reports_dir is None:
        return
    try:
        run_dirs.write_run_info(state.reports_dir, info)
    except OSError:
        pass  # best effort: the outcome is on the terminal either way


class RunTracker:
    """Controller side of a run directory: counts tests that ran, closes the run, says where reports are."""

    NAME = "runbook-harness-runs"

    def __init__(self, config: pytest.Config, state: HarnessState) -> None:
        self.config, self.state = config, state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Count tests that reached an outcome (an xdist crash report counts: the test started)."""
        if (
            report.when == "call"
            or (report.when == "setup" and not report.passed)
            or report.when not in ("setup", "call", "teardown")
        ):
            self.state.tests_ran += 1

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> Any:
        """After every other plugin wrote its files (JUnit, the verification report): close the run.

        A run that ran at least one test is copied to the reports root (``junit.xml``,
        ``allure-results/``, ``verification-*.md``), replacing the previous copies; a run that collected
        nothing, or was refused, leaves them as they are.
        """
        result = yield
        state = self.state
        if state.reports_dir is None or state.reports_root is None:
            return result
        status = int(session.exitstatus)
        outcome = "ran" if state.tests_ran else "ran nothing"
        if status == pytest.ExitCode.INTERRUPTED:
            outcome = "interrupted" if state.tests_ran else "interrupted before any test"
        if state.tests_ran and state.reports_dir.is_dir():
            try:
                state.published = run_dirs.publish(state.reports_root, state.reports_dir)
            except OSError as exc:
                sys.stderr.write(f"WARNING: could not copy {state.reports_dir} to {state.reports_root}: {exc}\n")
        record(
            state,
            outcome=outcome,
            exit_status=status,
            tests=state.tests_ran,
            checklist=state.checklist or None,
            published=state.published,
            finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        return result

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Where this run's reports are, and whether the reports root now holds them."""
        state = self.state
        if state.reports_dir is None or state.reports_root is None:
            return
        run = display(state.reports_dir)
        if state.published:
            main = [n for n in state.published if n in ("allure-results", "junit.xml") or n.startswith("verification-")]
            others = len(state.published) - len(main)
            listed = ", ".join(main) + (f" and {others} more report{'s' if others > 1 else ''}" if others else "")
            terminalreporter.write_line(f"reports: {run} (copied to {display(state.reports_root)}/: {listed})")
        else:
            terminalreporter.write_line(
                f"reports: {run} (no test ran: {display(state.reports_root)}/ keeps the previous run's files)"
            )


def display(path: Path) -> str:
    """``path`` relative to the working directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
