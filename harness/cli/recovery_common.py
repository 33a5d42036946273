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
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from harness.actions import Authority
from harness.actions.base import ActionResult, Plan
from harness.actions.rollback_plan import APPROVAL_RULE
from harness.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REFUSED,
    EvidenceRefused,
    authority,
    held_lease,
    lease_note,
    not_permitted,
    print_result,
    refusal_status,
    show_plan,
    whole_plan,
    would_apply,
)
from harness.cli.output import record_reports, record_result
from harness.clock import parse_utc
from harness.errors import HarnessError
from harness.recovery_report import action_section
from harness.targets import Target

OK, FAILED, REFUSED = EXIT_OK, EXIT_FAILED, EXIT_REFUSED
RULE = APPROVAL_RULE  # breaking an expired lease on a protected environment: the rollback approvals (000 §9.3)


def plan_then_apply(
    args: argparse.Namespace,
    target: Target,
    plan: Callable[[Authority], Plan[Any]],
    apply: Callable[[Plan[Any]], ActionResult],
    *,
    scope: str,
    rule: str = RULE,
) -> int:
    """Print the plan, then apply it unless refused, a dry run, or not allowed on this target.

    A plan-only run takes no lease. An apply first proves ``--report`` writable (refused naming the path,
    exit 3), then takes the environment's operation lease (exit 5 naming the holder; ``--lock-timeout``
    waits), and only then plans, so a plan made after waiting sees the state the other operation left. On a
    terminal against a kept target the plan is followed by a question: the typed environment name is the
    consent (harness/cli/confirm.py; ``--yes`` skips it and ``--allow-mutation`` is the consent again).
    """
    from harness.cli.confirm import confirmed, must_confirm, not_confirmed

    auth = authority(args)
    ask = must_confirm(args, target)  # on a terminal the typed environment name is the consent (Terraform's apply)
    if not (ask or would_apply(target, auth, args.dry_run)):
        return _plan_only(args, target, plan, auth)
    command = f"harness {args.command} ({scope})"
    out = sys.stdout  # looked up per call: --output json replaces it for the command
    with (
        reserved_report(getattr(args, "report", None)),
        held_lease(args, target, auth, command=command, scope=scope, rule=rule, out=out),
    ):
        made = _shown(plan, auth, target)
        if made.refused:
            return refusal_status(made.refusal or "")
        if ask and not confirmed(target):
            print(not_confirmed(target))
            return REFUSED
        return _applied(args, made, apply)


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
        return refusal_status(made.refusal or "")
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


def _applied(args: argparse.Namespace, made: Plan[Any], apply: Callable[[Plan[Any]], ActionResult]) -> int:
    result = apply(made)
    print_result(result, out=sys.stdout)  # common's default binds the sys.stdout of import time
    record_result(result, [(str(c.plan.details.get("function", c.plan.action)), c) for c in result.children])
    report = getattr(args, "report", None)
    if report:
        with open(report, "w", encoding="utf-8") as fh:
            fh.write(action_section(result))
        print(f"report: {report}")
        record_reports([report])
    return OK if result.ok else FAILED


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
    """--report FILE: write the result as markdown."""
    p.add_argument("--report", default=None, metavar="FILE", help="also write the result as markdown to FILE")


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
