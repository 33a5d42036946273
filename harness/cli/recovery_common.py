"""What the state and table commands share: plan first, then apply only when allowed (harness.cli.common).

Every mutating command here goes through :func:`plan_then_apply`: an apply proves its report writable, takes
the environment's operation lease (harness/lease.py; ``--lock-timeout``, ``--break-lease``) and plans only
then; a plan-only run takes no lease. Exit statuses (harness.cli.common.EXIT_STATUSES): 0 done (or a dry run /
listing), 1 the action or verification failed, 2 the plan names an unknown table/key, 3 refused (nothing
changed: the plan's refusal, an unwritable report, or no ``--allow-mutation`` on a target that is kept), 5 the
lease is held by another operation (nothing changed).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from harness.actions import Authority
from harness.actions.base import ActionResult, Plan
from harness.actions.interrupt import Interrupts
from harness.actions.rollback_plan import APPROVAL_RULE
from harness.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REFUSED,
    Evidence,
    EvidenceRefused,
    authority,
    held_lease,
    lease_note,
    not_permitted,
    refusal_status,
    reserved_evidence,
    show_plan,
    verdict_line,
    whole_plan,
    would_apply,
)
from harness.cli.output import record_reports, record_result
from harness.clock import parse_utc
from harness.errors import HarnessError
from harness.outcome import Outcome
from harness.recovery_report import action_section, document
from harness.targets import Target

if TYPE_CHECKING:
    from harness.lease import Lease

OK, FAILED, REFUSED = EXIT_OK, EXIT_FAILED, EXIT_REFUSED
RULE = APPROVAL_RULE  # breaking an expired lease on a protected environment: the rollback approvals (000 §9.3)


Stop = Callable[[], "str | None"]  # why an apply must start nothing new (a signal, a lost lease), or None
Apply = Callable[[Plan[Any], Stop], ActionResult]


def plan_then_apply(
    args: argparse.Namespace,
    target: Target,
    plan: Callable[[Authority], Plan[Any]],
    apply: Apply,
    *,
    scope: str,
    rule: str = RULE,
    interruptible: bool = False,
) -> int:
    """Print the plan, then apply it unless refused, a dry run, or not allowed on this target.

    A plan-only run takes no lease. An apply first proves ``--report`` writable and reserves its report under
    ``<reports-dir>/runs/<run>/`` (refused naming the path, exit 3; older runs pruned by ``--keep-runs``), then
    takes the environment's operation lease (exit 5 naming the holder; ``--lock-timeout`` waits), and only then
    plans, so a plan made after waiting sees the state the other operation left. On a terminal against a kept
    target the plan is followed by a question: the typed environment name is the consent
    (harness/cli/confirm.py; ``--yes`` skips it and ``--allow-mutation`` is the consent again). An
    ``interruptible`` apply runs with SIGINT/SIGTERM as a stop request (harness/actions/interrupt.py): it starts
    nothing new, reads back and returns INTERRUPTED (exit 130, reported); a second signal aborts at once.
    """
    from harness.cli.confirm import confirmed, must_confirm, not_confirmed

    auth = authority(args)
    ask = must_confirm(args, target)  # on a terminal the typed environment name is the consent (Terraform's apply)
    if not (ask or would_apply(target, auth, args.dry_run)):
        return _plan_only(args, target, plan, auth)
    command = f"harness {args.command} ({scope})"
    out = sys.stdout  # looked up per call: --output json replaces it for the command
    env = target.env
    with (
        reserved_report(getattr(args, "report", None)),
        reserved_evidence(args, target, f"{env.inventory}-{env.name}", [args.command]) as evidence,
        held_lease(args, target, auth, command=command, scope=scope, rule=rule, out=out) as lease,
    ):
        made = _shown(plan, auth, target)
        if made.refused:
            return _refused(target, made)
        if ask and not confirmed(target):
            print(not_confirmed(target))
            return REFUSED
        run = Run(args, target, scope, evidence)
        stop = lease_stop(lease)
        try:
            with Interrupts() if interruptible else nullcontext(Interrupts()) as interrupts:
                result = apply(made, lambda: interrupts.stopped or stop())
        except BaseException as exc:  # reported, then re-raised: the exit status stays the error's
            run.broke(made, exc)
            raise
        return run.applied(result)


def lease_stop(lease: Lease | None) -> Stop:
    """Why the lease was lost (an apply then starts nothing new), or None while it is held."""
    return (lambda: lease.lost) if lease is not None else (lambda: None)


def _shown(plan: Callable[[Authority], Plan[Any]], auth: Authority, target: Target) -> Plan[Any]:
    # Plan as if mutation were allowed, so a kept target still shows every change; approvals are still checked.
    made = whole_plan(plan, dataclasses.replace(auth, allow_mutation=True), target.env)
    show_plan(made, sys.stdout)
    sys.stdout.flush()
    return made


def _plan_only(
    args: argparse.Namespace, target: Target, plan: Callable[[Authority], Plan[Any]], auth: Authority
) -> int:
    made = _shown(plan, auth, target)
    if made.refused:
        return _refused(target, made)
    note = _lease_note(target)
    if note:
        print(note)
    if args.dry_run:
        print("dry run: nothing changed")
        return OK
    print(not_permitted(target))
    return REFUSED


def _lease_note(target: Target) -> str | None:
    """Who holds the environment's lease now (a plan-only run takes none); None when it cannot be read."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return lease_note(target)
    except (BotoCoreError, ClientError):  # a lease table absent from this account: nothing to say
        return None


@dataclass(frozen=True)
class Run:
    """One applied command: what it prints, records and reports (the reserved evidence, ``--report``)."""

    args: argparse.Namespace
    target: Target
    scope: str
    evidence: Evidence

    def applied(self, result: ActionResult) -> int:
        """Per-item lines, the verdict (REHEARSAL on a disposable target), the reports; the exit status."""
        for child in result.children:
            print(
                f"  {child.plan.details.get('function', child.plan.action)}: {child.outcome} {child.message}".rstrip()
            )
        env = self.target.env
        line = f"{result.outcome}: {result.plan.action} {env.inventory}/{env.name} — {result.message}"
        if result.outcome == Outcome.INTERRUPTED:
            record = f"record {result.record.record_id} {result.record.status}" if result.record else "no record"
            line = f"{result.message} — {result.plan.action} {env.inventory}/{env.name}, {record}"
        print(verdict_line(self.target, line), flush=True)
        record_result(result, [(str(c.plan.details.get("function", c.plan.action)), c) for c in result.children])
        self.report(f"{result.outcome}", action_section(result))
        if result.outcome == Outcome.INTERRUPTED:
            return EXIT_INTERRUPTED
        return OK if result.ok else FAILED

    def broke(self, plan: Plan[Any], exc: BaseException) -> None:
        """The apply raised (a second signal, an apply that takes none, an AWS error): the report says so; the
        audit record ends FAILED (harness.records.audited), never IN_PROGRESS."""
        aborted = isinstance(exc, KeyboardInterrupt)
        outcome = "INTERRUPTED (aborted)" if aborted else "FAILED"
        why = (str(exc) or "KeyboardInterrupt") if aborted else f"{type(exc).__name__}: {exc}"
        text = (
            f"### {plan.action}: {outcome}\n\nStopped during the apply ({why}): what was changed was not read back; "
            "the audit record ends FAILED (never IN_PROGRESS). Read the state back before acting again.\n\n```\n"
            f"{plan.render()}\n```\n"
        )
        self.report(outcome, text)

    def report(self, outcome: str, section: str) -> None:
        """The run's report under reports/runs/<run>/ (and ``--report FILE``), titled with the outcome."""
        env = self.target.env
        title = f"harness {self.args.command} ({self.scope}) on {env.inventory}/{env.name}: {outcome}"
        text = document(title, self.target, [section])
        paths = self.evidence.write({self.args.command: text})
        extra = getattr(self.args, "report", None)
        if extra:
            Path(extra).write_text(self.evidence.decorate(text), encoding="utf-8")
            paths.append(Path(extra))
        print(f"report: {', '.join(str(p) for p in paths)}", flush=True)
        record_reports(paths)


def _refused(target: Target, made: Plan[Any]) -> int:
    """A plan refused at apply time; on the embedded default, one more line when it names a table an earlier
    command would have made (each embedded command is a fresh rehearsal)."""
    hint = fresh_rehearsal_hint(target, made.refusal or "")
    if hint:
        print(hint)
    return refusal_status(made.refusal or "")


SERVE_RECIPE = "docs/recovery.md#one-after-another-on-harness-serve"
_MISSING_TABLE = re.compile(r"\btable (\S+) does not exist")


def fresh_rehearsal_hint(target: Target, refusal: str) -> str | None:
    """On an in-process rehearsal (the embedded default), a refusal naming a missing table gets one line: each
    command is a fresh rehearsal, so a table an earlier command made is not here; chain the steps on ``harness
    serve`` (docs/recovery.md's recipe). None elsewhere."""
    missing = _MISSING_TABLE.search(refusal)
    if not (missing and target.in_process and target.disposable):
        return None
    env = target.env
    return (
        f"note: each embedded command is a fresh rehearsal of {env.inventory}/{env.name}, so table {missing.group(1)} "
        f"an earlier command made is not here; to chain steps run `harness serve --env {env.name}` and each command "
        f"with --target aws against it (AWS_ENDPOINT_URL): {SERVE_RECIPE}"
    )


@contextmanager
def reserved_report(path: str | None) -> Iterator[None]:
    """Prove ``--report FILE`` writable before any change (EvidenceRefused naming the path, exit 3; 000 §8
    evidence before change); a file this created and left empty (refused, lease held) is removed afterwards."""
    if not path:
        yield
        return
    report = Path(path)
    existed = report.exists()
    try:
        with open(report, "a", encoding="utf-8"):  # append: proves it writable without truncating it yet
            pass
    except OSError as exc:
        raise EvidenceRefused(f"report cannot be written at {report}: {exc.strerror or exc}; nothing changed") from None
    try:
        yield
    finally:
        if not existed and report.exists() and report.stat().st_size == 0:
            report.unlink()


def progress(line: str) -> None:
    """A progress line on stderr (stdout carries the plan and result)."""
    print(line, file=sys.stderr, flush=True)


def add_report_arg(p: argparse.ArgumentParser) -> None:
    """--report FILE, --reports-dir and --keep-runs: an apply's report goes to <reports-dir>/runs/<run>/ (and FILE)."""
    from harness import options
    from harness.cli.common import DEFAULT_KEEP_RUNS

    p.add_argument("--report", default=None, metavar="FILE", help="also write the result as markdown to FILE")
    options.add(p.add_argument, "--reports-dir")
    p.add_argument(
        "--keep-runs",
        type=int,
        default=DEFAULT_KEEP_RUNS,
        metavar="N",
        help=f"keep the newest N run directories under <reports-dir>/runs (default {DEFAULT_KEEP_RUNS}; 0 keeps all)",
    )


def parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 option value as aware UTC; a HarnessError (one line) when malformed."""
    if text is None:
        return None
    try:
        return parse_utc(text)
    except ValueError as exc:
        raise HarnessError(str(exc)) from None


Command = Callable[[argparse.Namespace], int]


def aws_errors(command: Command) -> Command:
    """An AWS error (AccessDenied, throttling beyond retries, an endpoint down) becomes one ``harness:`` line."""
    from botocore.exceptions import BotoCoreError, ClientError

    from harness import aws

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except ClientError as exc:
            op = exc.operation_name or "AWS call"
            raise HarnessError(
                f"{op}: {aws.error_code(exc)}: {aws.error_message(exc)} (nothing further was changed)"
            ) from None
        except BotoCoreError as exc:
            raise HarnessError(f"AWS: {exc}") from None

    return run
