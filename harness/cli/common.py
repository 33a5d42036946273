"""What every mutating ``harness`` command shares with the pytest plugin: the same options, the same
target (account verified first), the same authority, and the plan printed before anything changes.

``--target aws`` with ``AWS_ENDPOINT_URL`` works against ``harness serve``; ``--target embedded``
(the default) starts a seeded rehearsal in this process (moto is imported only then).
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from typing import Iterator, TextIO

from harness import options
from harness.actions import Authority
from harness.actions.base import ActionResult
from harness.errors import HarnessError
from harness.inventory import Environment, load_inventory
from harness.targets import TARGETS, Target, make_target


def add_target_args(p: argparse.ArgumentParser, *, env_required: bool = True) -> None:
    """--env, --inventory, --target, --assume-role (the option table's, as the pytest plugin has them)."""
    options.add(p.add_argument, "--env", required=env_required)
    for flag in ("--inventory", "--target", "--assume-role"):
        options.add(p.add_argument, flag)


def add_authority_args(p: argparse.ArgumentParser) -> None:
    """--allow-mutation, --approved-by, --reason, --incident, --emergency, --actor, --dry-run."""
    p.add_argument("--dry-run", action="store_true", help="print the plan and stop: nothing is changed")
    for flag in ("--allow-mutation", "--approved-by", "--reason", "--incident", "--emergency", "--actor"):
        options.add(p.add_argument, flag)


def authority(args: argparse.Namespace) -> Authority:
    """The caller's authority from the parsed flags."""
    return Authority(
        allow_mutation=bool(getattr(args, "allow_mutation", False)),
        approvers=tuple(getattr(args, "approved_by", ()) or ()),
        reason=getattr(args, "reason", None),
        actor=getattr(args, "actor", None) or "",
        incident=getattr(args, "incident", None),
        emergency=bool(getattr(args, "emergency", False)),
    )


def environment(args: argparse.Namespace, env_name: str | None = None) -> Environment:
    """The inventory's environment (``${VAR}`` values must be set for --target aws)."""
    if args.target not in TARGETS:
        raise HarnessError(f"unknown target {args.target!r}; valid: {', '.join(TARGETS)}")
    return load_inventory(args.inventory).environment(env_name or args.env, strict_env_vars=args.target == "aws")


@contextmanager
def started_target(args: argparse.Namespace, env: Environment | None = None) -> Iterator[Target]:
    """The started target for ``args`` (account verified before any other call), closed afterwards."""
    from botocore.exceptions import BotoCoreError, ClientError

    env = env or environment(args)
    made = {"assume_role": bool(getattr(args, "assume_role", False))} if args.target == "aws" else {}
    target = make_target(args.target, env, **made)
    try:
        try:
            target.start()
        except (BotoCoreError, ClientError) as exc:
            raise HarnessError(f"cannot use target {args.target} for {env.describe()}: {exc}") from None
        yield target
    finally:
        target.close()


def would_apply(target: Target, auth: Authority, dry_run: bool) -> bool:
    """False when the command must stop after printing the plan (dry run, or no permission on a kept target)."""
    return not dry_run and (target.disposable or auth.allow_mutation)


def print_result(result: ActionResult, out: TextIO | None = None) -> None:
    """One line per child (function), then the final verdict line (to ``out``, default stdout)."""
    out = out or sys.stdout
    for child in result.children:
        print(
            f"  {child.plan.details.get('function', child.plan.action)}: {child.outcome} {child.message}".rstrip(),
            file=out,
        )
    print(
        f"{result.outcome}: {result.plan.action} {result.plan.inventory}/{result.plan.env} — {result.message}", file=out
    )
