"""The game-day summary of a run (controller only): ``gameday-summary-<inv>-<env>-<UTC>.md`` and ``gameday-rto.svg``
in the run's reports, from every drill file the workers wrote, attached to Allure as the "Game-day summary" result.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from harness.drills import history
from harness.inventory import Environment
from harness.pytest_plugin.reporting import report_allure_result
from harness.pytest_plugin.state import harness_state
from harness.report.gameday import render_summary
from harness.report.glance import short
from harness.report.svg_chart import rto_chart

RESULTS_DIR = "gameday"  # per-drill JSON in the run directory, read by the controller's summary
CHART = "gameday-rto.svg"


def drill_results(reports_dir: Path) -> list[dict[str, Any]]:
    """Every drill result this run wrote (any worker)."""
    folder = reports_dir / RESULTS_DIR
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except ValueError:
            continue
    return out


def write_summary(reports_dir: Path, reports_root: Path, env: Environment) -> tuple[Path, Path, str] | None:
    """The summary markdown and the RTO chart in the run's reports; None when no drill ran."""
    results = drill_results(reports_dir)
    if not results:
        return None
    history_path = reports_root / history.HISTORY_NAME
    past = [h for h in history.read(history_path) if h.get("inventory") == env.inventory and h.get("env") == env.name]
    svg = rto_chart(past, title=f"RTO per drill across runs: {env.inventory}/{env.name} (drill clock, log scale)")
    chart = reports_dir / CHART
    chart.write_text(svg, encoding="utf-8")
    shown = (
        os.path.relpath(history_path, reports_root.parent)
        if history_path.is_relative_to(reports_root.parent)
        else str(history_path)
    )
    text = render_summary(results, past, title=f"{env.inventory}/{env.name}", chart=CHART, history_path=shown)
    path = reports_dir / f"gameday-summary-{env.inventory}-{env.name}-{reports_dir.name.split('-')[0]}.md"
    path.write_text(text, encoding="utf-8")
    return path, chart, text


def attach_summary(
    allure_dir: Path, text: str, svg: str, results: list[dict[str, Any]], env: Environment, started: datetime
) -> None:
    """One Allure result, "Game-day summary", carrying the markdown and the chart (failed when a drill failed)."""
    failed = [r for r in results if r.get("outcome") == "FAIL"]
    report_allure_result(
        allure_dir,
        f"Game-day summary {env.inventory}/{env.name}: "
        + (f"{len(failed)} of {len(results)} drill(s) FAILED" if failed else f"no drill failed ({len(results)} ran)"),
        f"gameday-summary-{env.inventory}-{env.name}",
        status="failed" if failed else "passed",
        # one short line per failed drill: the whole reason is in that drill's own result, once
        message="\n".join(f"{r['name']}: {short('; '.join(r.get('failures') or []))}" for r in failed),
        started=started,
        labels={"epic": "Game day", "feature": f"{env.inventory}/{env.name}", "severity": "normal"},
        attachments=[
            ("game-day summary (markdown)", text, "md", "text/markdown"),
            ("RTO per drill across runs (SVG)", svg, "svg", "image/svg+xml"),
        ],
    )


class SummaryWriter:
    """Controller side: after every worker finished, the summary and chart from the run's drill files."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.written: tuple[Path, Path, str] | None = None
        self.results: list[dict[str, Any]] = []

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        state = harness_state(self.config)
        if (
            state.env is None
            or state.reports_dir is None
            or state.reports_root is None
            or not state.reports_dir.is_dir()
        ):
            return
        self.written = write_summary(state.reports_dir, state.reports_root, state.env)
        if self.written is None:
            return
        self.results = drill_results(state.reports_dir)
        allure_dir = getattr(self.config.option, "allure_report_dir", None)
        if allure_dir:
            attach_summary(
                Path(allure_dir),
                self.written[2],
                self.written[1].read_text(encoding="utf-8"),
                self.results,
                state.env,
                state.started or datetime.now(timezone.utc),
            )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.written is None:
            return
        failed = [r["name"] for r in self.results if r.get("outcome") == "FAIL"]
        line = (
            f"game day: {len(self.results)} drill(s), {len(failed)} "
            f"failed{': ' + ', '.join(failed) if failed else ''}; summary: {self.written[0]}"
        )
        terminalreporter.write_line(line, red=bool(failed), green=not failed)


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return  # workers write drill files; the controller summarizes
    if not config.pluginmanager.has_plugin("runbook-harness-gameday-summary"):
        config.pluginmanager.register(SummaryWriter(config), "runbook-harness-gameday-summary")
