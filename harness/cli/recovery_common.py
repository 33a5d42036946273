"""What the state and table commands share: plan first, then apply only when allowed (harness.cli.common).

Exit statuses (harness.cli.common.EXIT_STATUSES): 0 done (or a dry run / listing), 1 the action or
verification failed, 2 the plan names an unknown table/key, 3 refused (nothing changed: the plan's
refusal, or no ``--allow-mutation`` on a target that is kept).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
from datetime import datetime
from typing import Any, Callable

from harness.actions import Authority
from harness.actions.base import ActionResult, Plan
from harness.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REFUSED,
    authority,
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


def plan_then_apply(
    args: argparse.Namespace,
    target: Target,
    plan: Callable[[Authority], Plan[Any]],
    apply: Callable[[Plan[Any]], ActionResult],
) -> int:
    """Print the plan, then apply it unless refused, a dry run, or not allowed on this target."""
    auth = authority(args)
    # Plan as if mutation were allowed, so a kept target still shows every change; approvals are still checked.
    made = whole_plan(plan, dataclasses.replace(auth, allow_mutation=True), target.env)
    show_plan(made, sys.stdout)
    sys.stdout.flush()
    if made.refused:
        return refusal_status(made.refusal or "")
    if args.dry_run:
        print("dry run: nothing changed")
        return OK
    if not would_apply(target, auth, args.dry_run):
        print(not_permitted(target))
        return REFUSED
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
