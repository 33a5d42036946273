"""pytest glue for game-day drills: options, the safety rule, the ``gameday`` fixture, reports, history, summary.

Where the drill runner lives, and why: in ``harness/drills`` (library code, no pytest, no Allure, no
``checks/``), so the same drills run from a test, a benchmark or a future CLI. What the runner cannot import
— the checklist — reaches it as a *probe*: this plugin's :class:`ChecklistProbe` runs rows through
``verify_checklist`` (Allure steps, and the steady-state and verification rows recorded in the run's
verification report; detection rows, which are *meant* to fail, are kept out of it), and
:class:`RowsProbe` runs them plainly (tests, benchmarks). Progress comes back through a listener: an Allure
step per phase and the ``pytest_harness_fault_injected`` / ``pytest_harness_fault_reverted`` hooks.

- options: ``--recovery-cmd [DRILL=]CMD`` (the team's own script instead of the harness's recovery; a bare
  command replaces the Lambda rollback drills' recovery), ``--notify-slack-webhook URL``,
  ``--notify-sns-topic ARN`` (off unless given; env ``HARNESS_SLACK_WEBHOOK``/``SLACK_WEBHOOK_URL``,
  ``HARNESS_SNS_TOPIC``), ``--gameday-items N`` (the PITR drill's own items);
- safety: drills are ``mutating`` (the harness plugin's rules: embedded by default, LocalStack and AWS only
  with ``--allow-mutation``) and never run on a protected environment, whatever the approvals (skipped with
  the reason); on a target shared between xdist workers (not in-process) drills take turns under a file lock;
- reports per drill: ``gameday-<drill>-<inv>-<env>-<UTC>.md``, its 000 §8 ``incident-gameday-...md``, the
  pre-fault snapshot of the PITR drill, ``gameday/<drill>-....json`` (for the summary), a line in
  ``<reports-dir>/gameday-history.jsonl`` (outside the run directories: history accumulates across runs);
- the run's summary (controller only): ``gameday-summary-<inv>-<env>-<UTC>.md`` and ``gameday-rto.svg`` in the
  run's reports, attached to Allure as the "Game-day summary" result.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlparse

import allure
import pytest

from harness.actions import Authority
from harness.checks.catalogue import rows_for
from harness.checks.context import CheckContext
from harness.checks.runner import run_row
from harness.drills import history
from harness.drills.digest import environment_digest
from harness.drills.external import with_command
from harness.drills.lambda_drills import ALL, SINGLE
from harness.drills.model import SKIPPED, Check, DrillResult, DrillSkipped, Row
from harness.drills.pitr_drill import DEFAULT_ITEMS
from harness.drills.pitr_drill import NAME as PITR
from harness.drills.promotion_drill import NAME as PROMOTION
from harness.drills.runner import DrillSpec, Listener, run_drill
from harness.drills.state_drill import NAME as STATE
from harness.faults.base import Fault
from harness.inventory import Environment
from harness.lease import operation_lease
from harness.notify import NotifyConfig, notify, sns_region
from harness.report.gameday import render_drill, render_drill_incident, render_summary, timeline_events
from harness.report.svg_chart import rto_chart
from harness.targets.base import Target, TargetLike

DRILLS = (SINGLE, ALL, PITR, STATE, PROMOTION)
COMMAND_DRILLS = (SINGLE, ALL)  # a bare --recovery-cmd replaces these recoveries (a team's Lambda rollback script)
RECORDED_PHASES = ("steady state", "verification", "settle")  # rows that count in the run's verification report
RESULTS_DIR = "gameday"  # per-drill JSON in the run directory, read by the controller's summary
CHART = "gameday-rto.svg"
LOCK_NAME = ".gameday.lock"
DEFAULT_REASON = "game day: a rehearsed fault and its recovery"
DEFAULT_ACTOR = "runbook-harness game day"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("runbook-harness")
    group.addoption(
        "--recovery-cmd",
        action="append",
        default=[],
        metavar="[DRILL=]CMD",
        help="game days: run CMD as the recovery instead of the harness's action (pointed at the rehearsal with "
        "AWS_ENDPOINT_URL "
        f"and dummy credentials); DRILL= picks a drill ({', '.join(DRILLS)}), a bare CMD replaces "
        f"{' and '.join(COMMAND_DRILLS)}",
    )
    group.addoption(
        "--notify-slack-webhook",
        default=os.environ.get("HARNESS_SLACK_WEBHOOK") or os.environ.get("SLACK_WEBHOOK_URL"),
        metavar="URL",
        help="game days: post each drill's result to this Slack incoming webhook (002). Env: HARNESS_SLACK_WEBHOOK",
    )
    group.addoption(
        "--notify-sns-topic",
        default=os.environ.get("HARNESS_SNS_TOPIC"),
        metavar="ARN",
        help="game days: publish each drill's result to this SNS topic on the target (004). Env: HARNESS_SNS_TOPIC",
    )
    group.addoption(
        "--gameday-items",
        default=str(DEFAULT_ITEMS),
        metavar="N",
        help=f"game days: items the PITR drill writes (default {DEFAULT_ITEMS})",
    )


def recovery_commands(config: pytest.Config) -> dict[str, str]:
    """``--recovery-cmd`` values by drill; a bare command is filed under every drill of :data:`COMMAND_DRILLS`."""
    out: dict[str, str] = {}
    for raw in config.getoption("--recovery-cmd") or []:
        head, sep, rest = str(raw).partition("=")
        if sep and head.strip() in DRILLS:
            out[head.strip()] = rest.strip()
        else:
            for name in COMMAND_DRILLS:
                out.setdefault(name, str(raw).strip())
    return out


def pytest_harness_validate_options(config: pytest.Config, env: Environment, target_name: str) -> None:
    """One-line usage errors for the game-day options, before any target starts."""
    for raw in config.getoption("--recovery-cmd") or []:
        head, sep, rest = str(raw).partition("=")
        command = rest if sep and head.strip() in DRILLS else str(raw)
        name = head.strip()
        if sep and "-" in name and name == name.lower() and name.replace("-", "").isalnum() and name not in DRILLS:
            raise pytest.UsageError(f"--recovery-cmd {raw!r}: unknown drill {name!r}; drills: {', '.join(DRILLS)}")
        if sep and name == PROMOTION:
            raise pytest.UsageError(
                f"--recovery-cmd {raw!r}: {PROMOTION}'s recovery is the monitor's automatic rollback (001 §6.3.1), "
                "not a command"
            )
        if not command.strip():
            raise pytest.UsageError(f"--recovery-cmd {raw!r}: no command")
    url = config.getoption("--notify-slack-webhook")
    if url and urlparse(url).scheme not in ("http", "https"):
        raise pytest.UsageError(f"--notify-slack-webhook {url!r}: not an http(s) URL")
    topic = config.getoption("--notify-sns-topic")
    if topic:
        try:
            sns_region(topic)
        except ValueError as exc:
            raise pytest.UsageError(f"--notify-sns-topic: {exc}") from None
    items = str(config.getoption("--gameday-items"))
    if not items.isdigit() or int(items) < 1:
        raise pytest.UsageError(f"--gameday-items {items!r}: expected a whole number of items, at least 1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Never a drill on a protected environment, whatever the approvals (skipped with the reason, ahead of any
    other)."""
    from harness.pytest_plugin.harness_plugin import harness_state

    env = harness_state(config).env
    if env is None or not env.protected:
        return
    reason = (
        f"game-day drills never run on protected environment {env.inventory}/{env.name}, even with approvals: "
        "rehearse on a non-protected environment (e.g. --env sit)"
    )
    for item in items:
        if item.get_closest_marker("gameday"):
            item.add_marker(pytest.mark.skip(reason=reason), append=False)


# -- probes ------------------------------------------------------------------------------------------


class RowsProbe:
    """Checklist rows on a fresh context per call, plainly (tests, benchmarks): ``RowsProbe(target)(check, phase)``."""

    def __init__(self, target: TargetLike, api_base_url: str | None = None) -> None:
        self.target = target
        self.api_base_url = api_base_url

    def __call__(self, check: Check, phase: str) -> list[Row]:
        """Every row of ``check.slugs`` on ``check.resources`` (any procedure), judged now."""
        where = check.target or self.target
        api = self.api_base_url if where is self.target else None
        ctx = CheckContext.for_target(
            where, expect_versions=dict(check.expect_versions), api_base_url=api or getattr(where, "api_base_url", None)
        )
        wanted = set(check.resources)
        return [run_row(ctx, p).to_dict() for p in rows_for(ctx.env, None, check.slugs) if p.row.resource in wanted]


class ChecklistProbe:
    """Rows through ``verify_checklist``: Allure steps per row; steady-state and verification rows recorded in the run's
    report."""

    def __init__(self, verify: Callable[..., Any]) -> None:
        self.verify = verify

    def __call__(self, check: Check, phase: str) -> list[Row]:
        results = self.verify(
            None,
            slugs=check.slugs,
            resources=check.resources,
            expect_versions=dict(check.expect_versions),
            phase=phase,
            must_pass=False,
            target=check.target,
            record=phase in RECORDED_PHASES,
        )
        return [r.to_dict() for r in results]


class AllureListener(Listener):
    """An Allure step per phase; the fault hooks; the fault's evidence attached."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def phase(self, name: str, title: str) -> AbstractContextManager[Any]:
        return allure.step(title)

    def fault_injected(self, fault: Fault) -> None:
        allure.attach(
            json.dumps(fault.to_dict(), indent=2, default=str),
            name=f"fault: {fault.name}",
            attachment_type=allure.attachment_type.JSON,
        )
        self.config.hook.pytest_harness_fault_injected(config=self.config, fault=fault)

    def fault_reverted(self, fault: Fault) -> None:
        self.config.hook.pytest_harness_fault_reverted(config=self.config, fault=fault)


# -- the fixture -------------------------------------------------------------------------------------


@contextmanager
def _turn(target: TargetLike, root: Path | None) -> Iterator[None]:
    """Drills on a target other workers share (not in-process) take turns: an exclusive lock file per reports root."""
    if getattr(target, "in_process", False) or root is None:
        yield
        return
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        with history.locked(fd):
            yield
    finally:
        os.close(fd)


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


@dataclasses.dataclass
class Gameday:
    """What a drill scenario uses: the probe, the authority for faults, and :meth:`run`."""

    config: pytest.Config
    node: pytest.Item
    target: Target
    env: Environment
    authority: Authority
    probe: ChecklistProbe
    write_report: Callable[[str, str], Path]
    reports_dir: Path | None
    reports_root: Path | None

    @property
    def items(self) -> int:
        """``--gameday-items``: the PITR drill's own items."""
        return int(self.config.getoption("--gameday-items"))

    def run(self, spec: DrillSpec | Callable[[], DrillSpec]) -> DrillResult:
        """Run the drill (a spec, or a factory that may raise DrillSkipped); report it; fail or skip the test as it
        ended."""
        try:
            made = spec() if callable(spec) and not isinstance(spec, DrillSpec) else spec
        except DrillSkipped as exc:
            pytest.skip(str(exc))
        assert isinstance(made, DrillSpec)
        command = recovery_commands(self.config).get(made.name)
        if command:
            made = with_command(made, command, cwd=Path(self.config.invocation_params.dir))
        run_id = self.reports_dir.name if self.reports_dir is not None else uuid.uuid4().hex[:8]
        lease = operation_lease(
            made.target, command=f"game day drill {made.name}", scope=made.name, actor=self.authority.who, export=True
        )
        with _turn(self.target, self.reports_root), lease:  # the drill's recovery command joins the lease
            result = run_drill(made, listener=AllureListener(self.config), digest=environment_digest, run_id=run_id)
        self._attach(result)
        for action in result.recovery.actions if result.recovery else []:
            self.config.hook.pytest_harness_action_applied(
                config=self.config, result=action
            )  # plan and result in Allure
        if result.outcome != SKIPPED:
            sent = notify(
                result,
                NotifyConfig(
                    self.config.getoption("--notify-slack-webhook"), self.config.getoption("--notify-sns-topic")
                ),
                lambda region: self.target.client("sns", region=region),
            )
            result.notes += [f"notification: {line}" for line in sent]
            self._write(result)
        if result.outcome == SKIPPED:
            pytest.skip("; ".join(result.failures))
        if not result.ok:
            pytest.fail(result.message(), pytrace=False)
        return result

    def _attach(self, result: DrillResult) -> None:
        with allure.step(
            f"timeline on the {result.clock}: RTO {result.rto_s if result.rto_s is None else round(result.rto_s, 1)} "
            "s, "
            f"wall {result.rto_wall_s if result.rto_wall_s is None else round(result.rto_wall_s, 2)} s"
        ):
            for event in timeline_events(result):
                since = (event.at - result.injected_at).total_seconds() if result.injected_at else 0.0
                with allure.step(f"{event.what}: {event.at:%H:%M:%S} UTC (+{since:.1f} s)"):
                    pass
        allure.attach(
            json.dumps(result.to_dict(), indent=2, default=str),
            name=f"drill {result.name}: {result.outcome}",
            attachment_type=allure.attachment_type.JSON,
        )

    def _write(self, result: DrillResult) -> None:
        stamp = _stamp()
        base = f"{result.name}-{self.env.inventory}-{self.env.name}-{stamp}"
        self.write_report(f"gameday-{base}.md", render_drill(result))
        self.write_report(f"incident-gameday-{base}.md", render_drill_incident(result, self.env))
        if self.reports_dir is not None:
            folder = self.reports_dir / RESULTS_DIR
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{base}.json").write_text(
                json.dumps(result.to_dict(), indent=2, default=str) + "\n", encoding="utf-8"
            )
        if self.reports_root is not None:
            history.append(self.reports_root / history.HISTORY_NAME, history.history_line(result))


@pytest.fixture
def gameday(
    request: pytest.FixtureRequest,
    target: Target,
    env: Environment,
    authority: Authority,
    verify_checklist: Callable[..., Any],
    write_report: Callable[[str, str], Path],
) -> Gameday:
    """``gameday.run(lambda: bad_deployment_drill(target, gameday.authority, gameday.probe))``: a drill, reported and
    judged."""
    from harness.pytest_plugin.harness_plugin import harness_state

    state = harness_state(request.config)
    who = dataclasses.replace(
        authority, reason=authority.reason or DEFAULT_REASON, actor=authority.actor or DEFAULT_ACTOR
    )
    return Gameday(
        request.config,
        request.node,
        target,
        env,
        who,
        ChecklistProbe(verify_checklist),
        write_report,
        state.reports_dir,
        state.reports_root,
    )


# -- the run's summary ---------------------------------------------------------------------------------


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
    from allure_commons.logger import AllureFileLogger
    from allure_commons.model2 import Attachment, Label, Status, StatusDetails, TestResult
    from allure_commons.utils import uuid4

    logger = AllureFileLogger(str(allure_dir))
    md, chart = f"{uuid4()}-attachment.md", f"{uuid4()}-attachment.svg"
    logger.report_attached_data(body=text, file_name=md)
    logger.report_attached_data(body=svg, file_name=chart)
    failed = [r for r in results if r.get("outcome") == "FAIL"]
    name = (
        f"Game-day summary {env.inventory}/{env.name}: {len(results) - len(failed)} of {len(results)} drill(s) "
        "not failed"
    )
    logger.report_result(
        TestResult(
            uuid=uuid4(),
            historyId=f"gameday-summary-{env.inventory}-{env.name}",
            testCaseId=f"gameday-summary-{env.inventory}-{env.name}",
            name=name,
            fullName=name,
            status=Status.FAILED if failed else Status.PASSED,
            statusDetails=StatusDetails(
                message="\n".join(f"{r['name']}: {'; '.join(r.get('failures') or [])}" for r in failed)
            )
            if failed
            else None,
            start=int(started.timestamp() * 1000),
            stop=int(datetime.now(timezone.utc).timestamp() * 1000),
            labels=[
                Label(name="epic", value="Game day"),
                Label(name="feature", value=f"{env.inventory}/{env.name}"),
                Label(name="severity", value="normal"),
            ],
            attachments=[
                Attachment(name="game-day summary (markdown)", source=md, type="text/markdown"),
                Attachment(name="RTO per drill across runs (SVG)", source=chart, type="image/svg+xml"),
            ],
        )
    )


class SummaryWriter:
    """Controller side: after every worker finished, the summary and chart from the run's drill files."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.written: tuple[Path, Path, str] | None = None
        self.results: list[dict[str, Any]] = []

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from harness.pytest_plugin.harness_plugin import harness_state

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
