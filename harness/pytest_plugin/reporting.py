"""The verification report, rendered once (harness/checks/verification_report.py) and written once per run,
and its Allure side: environment.properties, categories.json and the "Verification report" result.
"""

from __future__ import annotations

import importlib.metadata
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pytest

from harness.checks import verification_report
from harness.checks.catalogue import PROCEDURES, RUNBOOKS
from harness.inventory.model import Environment
from harness.pytest_plugin.state import harness_state

WARN_CATEGORY = "Not measurable / warnings"
CATEGORIES = [
    # WARN passes (Allure "passed") with "WARN: <why>" as its message: not green, not a finding either.
    {"name": WARN_CATEGORY, "matchedStatuses": ["passed"], "messageRegex": "WARN:.*"},
    # A FAIL verdict is an assertion failure (Allure "failed"): something in the account is wrong.
    {"name": "Infrastructure findings", "matchedStatuses": ["failed"]},
    # Anything else raised (Allure "broken"): the harness could not read the row.
    {"name": "Harness errors", "matchedStatuses": ["broken"]},
    # The "Verification report" result of a run that did not run every planned row.
    {"name": "Incomplete runs", "matchedStatuses": ["unknown"], "messageRegex": "INCOMPLETE.*"},
]


def throttled_text(rows: Iterable[dict[str, Any]]) -> str:
    """The header line on API quotas: how many throttled calls botocore retried, and in how many rows."""
    counts = [int(r.get("throttled_retries") or 0) for r in rows]
    total, affected = sum(counts), sum(1 for c in counts if c)
    return f"{total} calls" + (
        f" in {affected} rows (adaptive retries; none failed a row unless it is ERROR)" if total else ""
    )


def write_report(
    config: pytest.Config,
    rows: list[dict[str, Any]],
    not_run: list[dict[str, Any]],
    summary: dict[str, Any] | None,
    after_actions: Mapping[str, Sequence[dict[str, Any]]],
    started: datetime,
) -> Path | None:
    """The Allure environment files, and (when the run had checklist rows: ``summary``) the markdown report in the
    run's directory and its Allure result; returns the report's path."""
    state = harness_state(config)
    assert state.env is not None and state.reports_dir is not None
    env_props = environment_properties(config)
    if summary is not None:
        env_props.update(result=summary["result"], checklist=summary["run"])
    allure_dir = getattr(config.option, "allure_report_dir", None)
    if allure_dir:
        write_allure_environment(Path(allure_dir), env_props)
    if summary is None:
        return None
    extra = [r for of_test in after_actions.values() for r in of_test]
    header = {
        "title": f"{state.env.inventory}/{state.env.name}",
        **environment_properties(config),
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run": summary["run"],
        "throttled and retried": throttled_text(rows + extra),
    }
    titles = {k: f"{RUNBOOKS[r]} {s}" for k, (r, s) in PROCEDURES.items()}
    markdown = verification_report.render(
        rows, header, titles, outcome=summary, not_run=not_run, after_actions=after_actions
    )
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    path = state.reports_dir / f"verification-{state.env.inventory}-{state.env.name}-{stamp}.md"
    state.reports_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown, encoding="utf-8")
    if allure_dir:
        attach_report_to_allure(Path(allure_dir), markdown, rows + extra, state.env, started, summary)
    return path


def environment_properties(config: pytest.Config) -> dict[str, str]:
    """inventory, env, account, region, target, emulator version, harness version."""
    state = harness_state(config)
    env = state.env
    assert env is not None
    described = state.target or state.described
    emulator = described.emulator() if described is not None else "unknown"
    try:
        version = importlib.metadata.version("runbook-harness")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return {
        "inventory": env.inventory,
        "env": env.name,
        "account": env.account,
        "region": env.region,
        "target": state.target_name,
        "emulator": emulator,
        "harness": version,
    }


def write_allure_environment(allure_dir: Path, props: dict[str, str]) -> None:
    """environment.properties and categories.json (Allure 2 readers; Allure 3 reads allurerc.mjs)."""
    allure_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"{k}={str(v).replace(chr(10), ' ')}" for k, v in props.items()]
    (allure_dir / "environment.properties").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (allure_dir / "categories.json").write_text(json.dumps(CATEGORIES, indent=2) + "\n", encoding="utf-8")


def attach_report_to_allure(
    allure_dir: Path,
    markdown: str,
    rows: Iterable[dict[str, Any]],
    env: Environment,
    started: datetime,
    summary: dict[str, Any] | None = None,
) -> None:
    """One Allure result, "Verification report", carrying the markdown report as an attachment.

    Failed when a row failed or errored; "unknown" (category "Incomplete runs") when the run did not run
    every planned row; passed otherwise.
    """
    rows = list(rows)
    summary = summary or {"result": verification_report.overall(rows), "run": f"{len(rows)} rows", "complete": True}
    failing = [r for r in rows if r.get("verdict") in ("fail", "error")]
    messages = [] if summary["complete"] else [summary["run"]]
    messages += [f"{r['slug']} {r['resource']}: {r['observed']}" for r in failing[:20]]
    report_allure_result(
        allure_dir,
        f"Verification report {env.inventory}/{env.name}: {summary['result']} ({len(rows)} rows)",
        f"verification-report-{env.inventory}-{env.name}",
        status="failed" if failing else ("unknown" if not summary["complete"] else "passed"),
        message="\n".join(messages),
        started=started,
        labels={
            "epic": "Verification report",
            "feature": f"{env.inventory}/{env.name}",
            "severity": "normal",
            "verdict": summary["result"].lower(),
        },
        attachments=[("verification report (markdown)", markdown, "md", "text/markdown")],
    )


def report_allure_result(
    allure_dir: Path,
    name: str,
    history_id: str,
    *,
    status: str,
    message: str,
    started: datetime,
    labels: Mapping[str, str],
    attachments: Sequence[tuple[str, str, str, str]],
) -> None:
    """One Allure result of the run as a whole (no test of its own): ``attachments`` are (name, body, extension,
    MIME type); ``status`` is Allure's (passed, failed, unknown)."""
    from allure_commons.logger import AllureFileLogger
    from allure_commons.model2 import Attachment, Label, StatusDetails, TestResult
    from allure_commons.utils import uuid4

    logger = AllureFileLogger(str(allure_dir))
    attached = []
    for title, body, extension, mime in attachments:
        source = f"{uuid4()}-attachment.{extension}"
        logger.report_attached_data(body=body, file_name=source)
        attached.append(Attachment(name=title, source=source, type=mime))
    result = TestResult(
        uuid=uuid4(),
        historyId=history_id,
        testCaseId=history_id,
        name=name,
        fullName=name,
        status=status,
        statusDetails=StatusDetails(message=message) if message else None,
        start=int(started.timestamp() * 1000),
        stop=int(datetime.now(timezone.utc).timestamp() * 1000),
        labels=[Label(name=k, value=v) for k, v in labels.items()],
        attachments=attached,
    )
    logger.report_result(result)
