"""``harness`` commands for the PropIE production rollback (004): blue/green switch-back, redeploy of the
last good Amplify build, CloudFormation stack rollback. The DynamoDB part of 004 is ``restore-table
--latest --suffix -recovery --sse`` and ``switch-table`` (harness/cli/tables.py).

Each prints its plan first, then applies it unless refused, a dry run, or not allowed on the target
(exit status 0 done, 1 failed, 3 refused: harness/cli/recovery_common.py); waits print progress on
stderr. amplify-redeploy run again after it succeeded says "already serving <commit> (job J); nothing
to do" and exits 0. The inventory defaults to
``propie`` (or ``$HARNESS_INVENTORY``).
"""

from __future__ import annotations

import argparse
import os

from harness.actions import amplify, cloudformation
from harness.cli.common import add_authority_args, add_operation_args, add_target_args, started_target
from harness.cli.recovery_common import add_report_arg, plan_then_apply, progress

INVENTORY = "propie"


def _common(p: argparse.ArgumentParser) -> None:
    add_target_args(p)
    add_authority_args(p)
    add_report_arg(p)
    add_operation_args(p, reports=False)
    p.set_defaults(inventory=os.environ.get("HARNESS_INVENTORY", INVENTORY))


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register amplify-switch-back, amplify-redeploy and stack-rollback."""
    p = sub.add_parser(
        "amplify-switch-back",
        help="move the domain's prefixes back to the blue branch, verified (004 Command Line Rollback)",
        description="UpdateDomainAssociation with every prefix of the domain (the call replaces the whole list), "
        "the inventory's onto amplify.branch; waits for the domain and verifies the build it serves.",
    )
    _common(p)
    p.set_defaults(func=switch_back_cmd)

    p = sub.add_parser(
        "amplify-redeploy",
        help="redeploy the last good build before the one serving (004 Rollback Amplify Deployment)",
        description="The newest SUCCEED job older than the branch's activeJobId, rebuilt: StartJob RELEASE of its "
        "commit (repository-connected app) or StartDeployment of its sourceUrl (manual app); waits and verifies.",
    )
    _common(p)
    p.add_argument("--branch", default=None, help="the branch (default: the inventory's amplify.branch)")
    p.add_argument(
        "--job-id",
        default=None,
        help="a successful job to redeploy instead of the last good one before the serving build",
    )
    p.set_defaults(func=redeploy_cmd)

    p = sub.add_parser(
        "stack-rollback",
        help="roll a CloudFormation stack back on the path its state allows (004 Rollback Infrastructure Changes)",
        description="rollback-stack for UPDATE_FAILED; update-stack with the previous template and parameters for a "
        "stable "
        "stack (RollbackStack would be refused there). Previous = the files given, else the inventory's backup "
        "files, else "
        "(rehearsal only) the emulator's record.",
    )
    _common(p)
    p.add_argument("--stack", default=None, help="the stack (default: the inventory's first cloudformation stack)")
    p.add_argument(
        "--template-file", default=None, metavar="FILE", help="the previous template (004: backup/appsync-previous.yml)"
    )
    p.add_argument(
        "--parameters-file",
        default=None,
        metavar="FILE",
        help="its parameters (004: backup/appsync-parameters-previous.json)",
    )
    p.add_argument(
        "--backup-dir",
        default=None,
        metavar="DIR",
        help="save the stack's current template and parameters here before updating it",
    )
    p.set_defaults(func=stack_rollback_cmd)


def switch_back_cmd(args: argparse.Namespace) -> int:
    """harness amplify-switch-back."""
    with started_target(args) as target:
        return plan_then_apply(
            args,
            target,
            lambda auth: amplify.plan_switch_back(target, auth),
            lambda plan, _stop: amplify.apply_switch_back(target, plan, progress=progress),
            scope="amplify domain",
        )


def redeploy_cmd(args: argparse.Namespace) -> int:
    """harness amplify-redeploy."""
    with started_target(args) as target:
        return plan_then_apply(
            args,
            target,
            lambda auth: amplify.plan_redeploy_last_good(target, auth, branch=args.branch, job_id=args.job_id),
            lambda plan, _stop: amplify.apply_redeploy_last_good(target, plan, progress=progress),
            scope=f"amplify branch {args.branch or '(inventory)'}",
        )


def stack_rollback_cmd(args: argparse.Namespace) -> int:
    """harness stack-rollback."""
    with started_target(args) as target:
        return plan_then_apply(
            args,
            target,
            lambda auth: cloudformation.plan_stack_rollback(
                target,
                auth,
                args.stack,
                template_file=args.template_file,
                parameters_file=args.parameters_file,
                backup_dir=args.backup_dir,
            ),
            lambda plan, _stop: cloudformation.apply_stack_rollback(target, plan, progress=progress),
            scope=f"stack {args.stack or 'default'}",
        )
