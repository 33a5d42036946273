"""The xdist report collector: every checklist row from the test reports (local, or from xdist workers), what
was planned, and the run's outcome (planned / ran / not run, COMPLETE or INCOMPLETE).

The controller also reads xdist's collection lists, so it knows the planned rows before the first result
arrives. A run that did not run every planned row (interrupted, -x/--maxfail, a crashed worker, -k/-m) is
INCOMPLETE and never reads PASS. Rendering is harness/pytest_plugin/reporting.py's job.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from harness.checks import verification_report
from harness.checks.catalogue import rows_for
from harness.inventory.model import Environment
from harness.pytest_plugin.checklist import (
    EXTRA_ROWS_PROP,
    NOT_RUN,
    PLAN,
    PLAN_PROP,
    RESULT_PROP,
    ROW_PROP,
    row_meta,
)
from harness.pytest_plugin.reporting import write_report
from harness.pytest_plugin.state import harness_state

NAME = "runbook-harness-report"


def pytest_configure(config: pytest.Config) -> None:
    """One collector per process (the controller's writes the report)."""
    if not config.pluginmanager.has_plugin(NAME):
        config.pluginmanager.register(ReportCollector(config), NAME)


def _definition(nodeid: str) -> str:
    """The test function of a parametrized node id."""
    return nodeid.split("[", 1)[0]


class ReportCollector:
    """Gathers every checklist row from test reports (local or from xdist workers) and writes the run's report."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rows: dict[str, dict[str, Any]] = {}  # nodeid -> row (planned checklist rows)
        self.extra: dict[str, list[dict[str, Any]]] = {}  # nodeid -> rows verified inside that test
        self.definitions: dict[str, str] = {}  # checklist test function nodeid -> procedure (from the plan)
        self.collected: dict[str, str] = {}  # the same, guessed from xdist collection ids (used when no plan came)
        self.deselected: set[str] = set()
        self.started = datetime.now(timezone.utc)
        self.report_path: Path | None = None
        self.summary: dict[str, Any] = {}
        self.interrupted: str | None = None  # why the session was interrupted (Ctrl-C, xdist's -x)

    # -- what was planned: the local collection, xdist collection lists, every result's plan --------
    def _merge_plan(self, text_or_plan: str | dict[str, Any] | None) -> None:
        if not text_or_plan:
            return
        plan = json.loads(text_or_plan) if isinstance(text_or_plan, str) else text_or_plan
        self.definitions.update(plan.get("definitions", {}))
        self.deselected.update(plan.get("deselected", []))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """A worker's collection (before any result): the checklist test functions, from their row ids.

        Only a fallback for a session stopped before any result or worker output brought the plan."""
        env = harness_state(self.config).env
        if env is None:
            return
        procedure_of = {p.id: p.spec.procedure for p in rows_for(env)}
        for nodeid in ids:
            if "[" in nodeid and nodeid.endswith("]"):
                procedure = procedure_of.get(nodeid.split("[", 1)[1][:-1])
                if procedure is not None:
                    self.collected.setdefault(_definition(nodeid), procedure)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.interrupted = str(excinfo.value).strip() or "Ctrl-C"

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        self._merge_plan(getattr(node, "workeroutput", {}).get(PLAN_PROP))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = {str(k): str(v) for k, v in report.user_properties}  # every harness property is JSON text
        self._merge_plan(props.get(PLAN_PROP))
        if EXTRA_ROWS_PROP in props:
            self.extra[report.nodeid] = [
                r for k, v in report.user_properties if k == EXTRA_ROWS_PROP for r in json.loads(str(v))
            ]
        if ROW_PROP not in props:
            if report.nodeid in self.rows and report.when not in ("setup", "call", "teardown") and report.failed:
                # xdist: the worker died while running this row; no verdict came back
                self.rows[report.nodeid]["observed"] = f"not run: {report.longreprtext.strip() or 'worker crashed'}"
            return
        row = self.rows.setdefault(
            report.nodeid,
            {**json.loads(props[ROW_PROP]), "verdict": NOT_RUN, "observed": "not run", "nodeid": report.nodeid},
        )
        if RESULT_PROP in props:
            row.update(json.loads(props[RESULT_PROP]))
        elif report.when in ("setup", "call") and report.failed:
            last = (report.longreprtext or "").strip().splitlines()
            row.update(verdict="error", observed=f"harness error in {report.when}: {last[-1] if last else 'unknown'}")
        elif report.when in ("setup", "call") and report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            row.update(verdict="skip", observed=reason)

    # -- the outcome --------------------------------------------------------------------------------
    def _planned(self, env: Environment) -> dict[tuple[str, str, str], dict[str, Any]]:
        """Every planned row, keyed (test function, slug, resource)."""
        self._merge_plan(self.config.stash.get(PLAN, None))  # a serial run collected here
        planned: dict[tuple[str, str, str], dict[str, Any]] = {}
        for definition, procedure in (self.definitions or self.collected).items():
            for p in rows_for(env, procedure):
                nodeid = f"{definition}[{p.id}]"
                planned[(definition, p.spec.slug, p.row.resource)] = {
                    **row_meta(p),
                    "verdict": NOT_RUN,
                    "observed": "not run",
                    "nodeid": nodeid,
                }
        for row in self.rows.values():  # whatever ran is planned too (e.g. a function with another parametrization)
            planned.setdefault((_definition(row["nodeid"]), row["slug"], row["resource"]), row)
        return planned

    def _why_stopped(self, session: pytest.Session | None, exitstatus: int) -> str:
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            return (
                f"interrupted: {self.interrupted}"
                if self.interrupted and self.interrupted != "Ctrl-C"
                else "interrupted"
            )
        shouldfail = getattr(session, "shouldfail", False)
        if shouldfail:
            return f"{shouldfail} (-x/--maxfail)" if isinstance(shouldfail, str) else "stopped early (-x/--maxfail)"
        return "not reached: the session stopped early or a worker crashed"

    def outcome(
        self, env: Environment, exitstatus: int, session: pytest.Session | None = None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        """(checklist rows that ran, planned rows that did not, summary: planned/ran/not run/result/run line).

        Rows verified inside a test after an action (``self.extra``) count towards the result, not
        towards what was planned."""
        planned = self._planned(env)
        by_key = {(_definition(r["nodeid"]), r["slug"], r["resource"]): r for r in self.rows.values()}
        ran, not_run = [], []
        for key, meta in planned.items():
            row = by_key.get(key)
            if row is not None and row["verdict"] != NOT_RUN:
                ran.append(row)
                continue
            missing = dict(row or meta)
            if missing["nodeid"] in self.deselected:
                missing["observed"] = "deselected (-k / -m)"
            elif missing.get("observed", "not run") == "not run":
                missing["observed"] = f"not run ({self._why_stopped(session, exitstatus)})"
            not_run.append(missing)
        extra = [r for rows in self.extra.values() for r in rows]
        verdict = verification_report.overall(ran + extra)
        complete = not not_run
        deselected = sum(1 for r in not_run if r["nodeid"] in self.deselected)
        counts = f"{len(ran)} of {len(planned)} planned rows ran"
        if not complete:
            ended = self._why_stopped(session, exitstatus)
            reasons = [(deselected, "deselected by -k/-m"), (len(not_run) - deselected, ended)]
            reasons = [(n, why) for n, why in reasons if n]
            if len(reasons) == 1:
                counts += f", {len(not_run)} not run ({reasons[0][1]})"
            else:
                counts += f", {len(not_run)} not run ({', '.join(f'{n} {why}' for n, why in reasons)})"
        result = verdict if complete or verdict == "FAIL" else "INCOMPLETE"
        summary = {
            "planned": len(planned),
            "ran": len(ran),
            "not_run": len(not_run),
            "complete": complete,
            "result": result,
            "counts": counts,
            "run": f"{'COMPLETE' if complete else 'INCOMPLETE'}: {counts}",
            "after_actions": len(extra),
        }
        return ran, not_run, summary

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """The controller (or a serial run) writes the run's verification report once every row is in."""
        if hasattr(self.config, "workerinput"):
            return  # workers' rows reach the controller through their reports
        state = harness_state(self.config)
        if state.env is None or state.reports_dir is None:
            return
        rows, not_run, summary = self.outcome(state.env, int(session.exitstatus), session)
        has_rows = bool(summary["planned"] or rows or self.extra)
        if has_rows:
            self.summary = summary
            state.checklist = summary
        self.report_path = write_report(
            self.config, rows, not_run, summary if has_rows else None, self.extra, state.started or self.started
        )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """The WARN rows, and where the verification report is with the run's result."""
        if not self.summary:
            return
        warned = [r for r in self.rows.values() if r.get("verdict") == "warn"]
        warned += [r for rows in self.extra.values() for r in rows if r.get("verdict") == "warn"]
        if warned:
            terminalreporter.write_sep(
                "=", f"checklist: {len(warned)} WARN (passed, not measurable or worth a look)", yellow=True
            )
            for r in sorted(warned, key=lambda r: (r["slug"], r["resource"])):
                terminalreporter.write_line(f"WARN {r['slug']} {r['resource']}: {r.get('observed', '')}")
        s = self.summary
        where = self.report_path.name if self.report_path is not None else "not written"
        state = harness_state(self.config)
        if self.report_path is not None and state.reports_dir is not None:
            where = str(self.report_path)
        outcome = s["run"] if s["result"] == "INCOMPLETE" else f"{s['result']}; {s['run']}"
        line = f"verification report: {where} ({outcome})"
        terminalreporter.write_line(
            line, red=s["result"] in ("FAIL", "INCOMPLETE"), yellow=s["result"] == "WARN", green=s["result"] == "PASS"
        )
