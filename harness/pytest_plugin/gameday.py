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
- the run's summary (controller only, harness/pytest_plugin/gameday_summary.py): ``gameday-summary-...md`` and
  ``gameday-rto.svg`` in the run's reports, attached to Allure as the "Game-day summary" result.
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
from harness.checks.catalogue import RUNBOOKS, rows_for
from harness.checks.context import CheckContext
from harness.checks.runner import run_row
from harness.drills import history
from harness.drills.base import Drill
from harness.drills.digest import environment_digest
from harness.drills.external import with_command
from harness.drills.lambda_drills import ALL, SINGLE
from harness.drills.model import SKIPPED, Check, DrillResult, DrillSkipped, Row
from harness.drills.pitr_drill import DEFAULT_ITEMS
from harness.drills.pitr_drill import NAME as PITR
from harness.drills.promotion_drill import NAME as PROMOTION
from harness.drills.runner import Listener, run_drill
from harness.drills.state_drill import NAME as STATE
from harness.faults.base import Fault
from harness.inventory import Environment
from harness.lease import operation_lease
from harness.notify import NotifyConfig, notify, sns_region
from harness.options import Option
from harness.pytest_plugin.gameday_summary import RESULTS_DIR
from harness.pytest_plugin.state import harness_state
from harness.report.gameday import render_drill, render_drill_incident, timeline_events
from harness.targets.base import Target, TargetLike

pytest_plugins = ["harness.pytest_plugin.gameday_summary"]

DRILLS = (SINGLE, ALL, PITR, STATE, PROMOTION)
COMMAND_DRILLS = (SINGLE, ALL)  # a bare --recovery-cmd replaces these recoveries (a team's Lambda rollback script)
RECORDED_PHASES = ("steady state", "verification", "settle")  # rows that count in the run's verification report
LOCK_NAME = ".gameday.lock"
DEFAULT_REASON = "game day: a rehearsed fault and its recovery"
DEFAULT_ACTOR = "runbook-harness game day"


# The game-day options: the option table's shape (harness/options.py); pytest only, so declared here beside
# the drill names their help lists.
OPTIONS = (
    Option(
        "--recovery-cmd",
        "game days: run CMD as the recovery instead of the harness's action (pointed at the rehearsal with "
        f"AWS_ENDPOINT_URL and dummy credentials); DRILL= picks a drill ({', '.join(DRILLS)}), a bare CMD replaces "
        f"{' and '.join(COMMAND_DRILLS)}",
        action="append",
        default=(),
        metavar="[DRILL=]CMD",
    ),
    Option(
        "--notify-slack-webhook",
        "game days: post each drill's result to this Slack incoming webhook (002)",
        env=("HARNESS_SLACK_WEBHOOK", "SLACK_WEBHOOK_URL"),
        metavar="URL",
    ),
    Option(
        "--notify-sns-topic",
        "game days: publish each drill's result to this SNS topic on the target (004)",
        env=("HARNESS_SNS_TOPIC",),
        metavar="ARN",
    ),
    Option(
        "--gameday-items",
        f"game days: items the PITR drill writes (default {DEFAULT_ITEMS})",
        default=str(DEFAULT_ITEMS),
        metavar="N",
    ),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """The game-day options, in the harness's group."""
    group = parser.getgroup("runbook-harness")
    for option in OPTIONS:
        group.addoption(option.flag, **option.kwargs())


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
            json.dumps(fault.to_dict(), indent=2, default=str, ensure_ascii=False),
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

    def run(self, drill: Drill | Callable[[], Drill]) -> DrillResult:
        """Run the drill (a drill, or a factory that may raise DrillSkipped); report it; fail or skip the test as it
        ended."""
        try:
            made = drill() if callable(drill) else drill
        except DrillSkipped as exc:
            pytest.skip(str(exc))
        _label_drill(made)
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
        if not result.ok and result.outcome != SKIPPED:
            allure.dynamic.title(f"{result.title}: {result.outcome}")
        with allure.step(f"timeline on the {result.clock}: {_rto_words(result)}"):
            for event in timeline_events(result):
                since = (event.at - result.injected_at).total_seconds() if result.injected_at else 0.0
                with allure.step(f"{event.what}: {event.at:%H:%M:%S} UTC (+{since:.1f} s)"):
                    pass
        allure.attach(
            json.dumps(result.to_dict(), indent=2, default=str, ensure_ascii=False),
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


def _rto_words(result: DrillResult) -> str:
    """The RTO on both clocks, or why there is none (never "None s")."""
    if result.rto_s is None:
        return "RTO not measured (recovery not verified)"
    wall = "" if result.rto_wall_s is None else f", wall {result.rto_wall_s:.2f} s"
    return f"RTO {result.rto_s:.1f} s{wall}"


def _label_drill(drill: Drill) -> None:
    """Title and group the drill's Allure result with the runbook procedure it rehearses (000 §4.2 -> epic "000
    Rollback Runbook ..."), as the checklist rows of that runbook are, whatever the drill's outcome."""
    code = drill.ref.strip()[:3]
    allure.dynamic.title(drill.title or drill.name)
    allure.dynamic.epic(RUNBOOKS.get(code, f"{code} runbook"))
    allure.dynamic.feature(f"Game day: {drill.ref}")
    allure.dynamic.story(drill.name)
    allure.dynamic.label("drill", drill.name)


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
