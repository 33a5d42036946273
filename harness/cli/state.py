"""``harness state-*``: Terraform state versions, locks, restore, unlock, drift and the drill (000 §5.2, §5.3, §7.3)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli.common import add_authority_args, add_operation_args, add_target_args, authority, started_target
from harness.cli.output import add_output_arg
from harness.cli.recovery_common import (
    FAILED,
    OK,
    REFUSED,
    RULE,
    add_report_arg,
    aws_errors,
    parse_time,
    plan_then_apply,
)
from harness.errors import HarnessError
from harness.targets.base import TargetLike


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register state-versions, state-locks, state-restore, state-unlock, state-drift and state-drill."""
    _add_listings_and_restore(sub)
    _add_unlock_drift_drill(sub)


def _add_listings_and_restore(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("state-versions", help="list the S3 versions of each Terraform state key (000 §5.2.1)")
    add_target_args(p)
    p.add_argument("--key", default=None, help="one state key (default: every key of the inventory)")
    p.set_defaults(func=aws_errors(versions_cmd))
    p = sub.add_parser("state-locks", help="list held Terraform state locks with age, owner and operation (000 §5.3)")
    add_target_args(p)
    p.set_defaults(func=aws_errors(locks_cmd))
    p = sub.add_parser(
        "state-restore",
        help="restore a Terraform state version: backup, copy, md5 Digest (000 §5.2.2)",
        description="Back up the current state to <key>.backup-<ts>, copy the chosen version over the key "
        "(no version is deleted) and set the lock table's <bucket>/<key>-md5 Digest (000 §5.2.2 forgets it).",
    )
    add_target_args(p)
    add_authority_args(p)
    add_report_arg(p)
    p.add_argument("--key", required=True, help="the state key (one of the inventory's terraform.state_keys)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--version-id", default=None, help="the S3 version to restore")
    which.add_argument(
        "--at", default=None, metavar="ISO8601", help="restore the newest version written at or before this time"
    )
    which.add_argument("--previous", action="store_true", help="restore the version before the current latest")
    add_operation_args(p, reports=False)
    add_output_arg(p)
    p.set_defaults(func=aws_errors(restore_cmd))


def _add_unlock_drift_drill(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "state-unlock", help="release a stuck Terraform state lock: --force, its ID and a reason (000 §5.3)"
    )
    add_target_args(p)
    add_authority_args(p)
    add_report_arg(p)
    p.add_argument("--key", required=True, help="the state key whose lock to release")
    p.add_argument(
        "--lock-id", default=None, help="the lock's ID (state-locks lists it), as terraform force-unlock takes it"
    )
    p.add_argument("--force", action="store_true", help="really release it (a lock may belong to a running apply)")
    add_operation_args(p, reports=False)
    p.set_defaults(func=aws_errors(unlock_cmd))
    p = sub.add_parser(
        "state-drift",
        help="terraform plan -detailed-exitcode in a working directory (000 §7.3; needs the terraform extra)",
    )
    p.add_argument("--workdir", required=True, help="an initialized Terraform working directory")
    p.add_argument("--init", action="store_true", help="run terraform init first")
    p.set_defaults(func=aws_errors(drift_cmd))
    p = sub.add_parser(
        "state-drill", help="the state-restore drill with real Terraform on a scratch key (needs the terraform extra)"
    )
    add_target_args(p)
    add_authority_args(p)
    p.add_argument(
        "--mode",
        choices=("harness", "runbook"),
        default="harness",
        help="restore with the harness, or 000 §5.2.2's copy (stale Digest)",
    )
    p.add_argument(
        "--lockfile", action="store_true", help="S3 lockfile locking (use_lockfile) instead of the DynamoDB lock table"
    )
    p.add_argument("--report", default=None, metavar="FILE", help="write the drill report as markdown to FILE")
    add_operation_args(p, reports=False)
    p.set_defaults(func=aws_errors(drill_cmd))


def _terraform_keys(target: TargetLike, key: str | None) -> tuple[str, ...]:
    tf = target.env.terraform
    if tf is None:
        raise HarnessError(f"{target.env.inventory}/{target.env.name} has no [terraform] section")
    if key is not None and key not in tf.state_keys:
        raise HarnessError(
            f"{key!r} is not a state key of {target.env.inventory}/{target.env.name}; known: {', '.join(tf.state_keys)}"
        )
    return (key,) if key else tuple(tf.state_keys)


def _bucket(target: TargetLike) -> str:
    tf = target.env.terraform
    if tf is None:
        raise HarnessError(f"{target.env.inventory}/{target.env.name} has no [terraform] section")
    return tf.state_bucket


def versions_cmd(args: argparse.Namespace) -> int:
    """Print each key's versions, newest first, with the lock table's Digest and whether it matches."""
    from harness.actions.terraform_state import list_versions, read_digest, read_version, summarize_state

    with started_target(args) as target:
        for key in _terraform_keys(target, args.key):
            versions, deleted = list_versions(target, key)
            digest = read_digest(target, key)
            latest = None if deleted or not versions else summarize_state(read_version(target, key))
            match = (
                ""
                if digest is None or latest is None
                else (" (matches)" if digest == latest.md5 else f" (STALE: latest md5 {latest.md5})")
            )
            print(
                f"s3://{_bucket(target)}/{key}: {len(versions)} version(s)"
                + (", latest is a delete marker" if deleted else "")
                + (f"; Digest {digest}{match}" if digest else "")
            )
            for v in versions:
                print(f"  {v.line()}")
    return OK


def locks_cmd(args: argparse.Namespace) -> int:
    """Print every held lock (DynamoDB items and .tflock lockfiles) with age, owner and operation."""
    from harness.actions.terraform_locks import list_locks

    with started_target(args) as target:
        _terraform_keys(target, None)
        locks = list_locks(target)
        for lock in locks:
            print(lock.line())
        if not locks:
            print(f"no locks held in s3://{_bucket(target)}")
    return OK


def restore_cmd(args: argparse.Namespace) -> int:
    """Plan, print, and (when allowed) apply a state version restore."""
    from harness.actions.terraform_state import apply_state_restore, plan_state_restore

    at = parse_time(args.at)
    with started_target(args) as target:
        return plan_then_apply(
            args,
            target,
            lambda auth: plan_state_restore(
                target, args.key, authority=auth, version_id=args.version_id, at=at, previous=args.previous
            ),
            lambda plan, stop: apply_state_restore(target, plan, should_stop=stop),
            scope=f"state {args.key}",
            interruptible=True,
        )


def unlock_cmd(args: argparse.Namespace) -> int:
    """Plan, print, and (when allowed) release a stuck lock."""
    from harness.actions.terraform_locks import apply_state_unlock, plan_state_unlock

    with started_target(args) as target:
        return plan_then_apply(
            args,
            target,
            lambda auth: plan_state_unlock(target, args.key, lock_id=args.lock_id, force=args.force, authority=auth),
            lambda plan, _stop: apply_state_unlock(target, plan),
            scope=f"state lock {args.key}",
        )


def drift_cmd(args: argparse.Namespace) -> int:
    """terraform plan -detailed-exitcode: prints the verdict; exit 0 no drift, 1 drift or error, 3 skipped."""
    from harness.terraform import drift_check

    result = drift_check(Path(args.workdir), init=args.init)
    print(result.line())
    if result.plan is not None and result.plan.exit_code == 1:
        print(result.plan.output[-2000:])
    return {"PASS": OK, "SKIP": REFUSED}.get(result.verdict, FAILED)


def drill_cmd(args: argparse.Namespace) -> int:
    """Run the state drill on a scratch key (a kept target needs --allow-mutation)."""
    from harness.cli.common import held_lease, would_apply
    from harness.drills.terraform_state import run_state_drill
    from harness.terraform import unavailable

    missing = unavailable()
    if missing:
        print(f"skipped: {missing}")
        return REFUSED
    auth = authority(args)
    with started_target(args) as target:
        if not would_apply(target, auth, args.dry_run):
            print(
                f"not run: the drill writes a scratch state key; on target {target.name} it needs --allow-mutation "
                "(and not --dry-run)"
            )
            return REFUSED
        command = f"harness state-drill --mode {args.mode} (scratch state key)"
        with held_lease(args, target, auth, command=command, scope="scratch state key", rule=RULE, out=sys.stdout):
            report = run_state_drill(target, authority=auth, mode=args.mode, use_lockfile=args.lockfile)
        text = report.render()
        print(text)
        if args.report:
            Path(args.report).write_text(text, encoding="utf-8")
    return OK if report.ok else FAILED
