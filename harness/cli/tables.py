"""``harness`` table commands: PITR status, restore, verify, snapshot, switch, copy back, drop (000 §6, 004)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.cli.common import add_authority_args, add_operation_args, add_target_args, authority, started_target
from harness.cli.output import add_output_arg
from harness.cli.recovery_common import (
    FAILED,
    OK,
    RULE,
    add_report_arg,
    aws_errors,
    parse_time,
    plan_then_apply,
    progress,
)
from harness.errors import HarnessError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register pitr-status, restore-table, verify-table, snapshot-table, switch-table, copy-back, drop-table."""
    _add_status_and_restore(sub)
    _add_verify_and_snapshot(sub)
    _add_switch_copy_drop(sub)


def _add_status_and_restore(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "pitr-status", help="PITR status and restorable window of the inventory's tables (000 §6.2, §6.3)"
    )
    add_target_args(p)
    p.add_argument(
        "--table", action="append", default=None, help="a table (repeatable; default: every inventory table)"
    )
    p.set_defaults(func=aws_errors(status_cmd))
    p = sub.add_parser(
        "restore-table",
        help="restore a table to a point in time into a new table (000 §6.4, 004)",
        description="RestoreTableToPointInTime into <table><suffix>[<UTC ts>] (inventory dynamodb.restore_*), "
        "wait for ACTIVE, optionally re-apply PITR, TTL, tags and streams.",
    )
    add_target_args(p)
    add_authority_args(p)
    add_report_arg(p)
    p.add_argument("--table", required=True, help="the inventory table to restore")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument(
        "--at", default=None, metavar="ISO8601", help="restore as of this time (inside the restorable window)"
    )
    when.add_argument(
        "--latest", action="store_true", help="the latest restorable time (004 --use-latest-restorable-time)"
    )
    p.add_argument(
        "--name", default=None, help="the new table's name (default from the inventory: <table>-restored-<ts>)"
    )
    p.add_argument(
        "--suffix",
        default=None,
        help="name suffix instead of the inventory's dynamodb.restore_suffix (e.g. -recovery, 004)",
    )
    sse = p.add_mutually_exclusive_group()
    sse.add_argument(
        "--sse", dest="sse", action="store_true", default=None, help="--sse-specification-override Enabled=true (004)"
    )
    sse.add_argument(
        "--no-sse", dest="sse", action="store_false", help="no SSE override (default: inventory dynamodb.restore_sse)"
    )
    p.add_argument(
        "--reapply",
        action="store_true",
        help="re-apply the source's PITR, TTL, tags and streams (a restore does not carry them)",
    )
    add_operation_args(p, reports=False)
    add_output_arg(p)
    p.set_defaults(func=aws_errors(restore_cmd))


def _add_verify_and_snapshot(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify-table", help="compare a table with a snapshot, another table, or the source at a time (000 §6.5)"
    )
    add_target_args(p)
    add_authority_args(p)
    p.add_argument("--table", required=True, help="the table to verify (e.g. the restored one)")
    against = p.add_mutually_exclusive_group(required=True)
    against.add_argument(
        "--snapshot", default=None, metavar="FILE", help="a snapshot file (snapshot-table) taken before the fault"
    )
    against.add_argument("--against", default=None, metavar="TABLE", help="another table (e.g. the source)")
    against.add_argument(
        "--against-at",
        default=None,
        metavar="ISO8601",
        help="the source as it was at this time (a scratch PITR restore, dropped afterwards: needs mutation rights)",
    )
    p.add_argument(
        "--source",
        default=None,
        help="with --against-at: the source table (default: the table --table was restored from)",
    )
    p.add_argument("--segments", type=int, default=None, help="parallel scan segments (default 4)")
    p.add_argument("--report", default=None, metavar="FILE", help="also write the verification as markdown to FILE")
    add_operation_args(p, reports=False)  # --against-at restores (and drops) a scratch table under the lease
    p.set_defaults(func=aws_errors(verify_cmd))
    p = sub.add_parser(
        "snapshot-table", help="write a table's key -> digest snapshot (JSON lines) to compare with later"
    )
    add_target_args(p)
    p.add_argument("--table", required=True)
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--segments", type=int, default=None, help="parallel scan segments (default 4)")
    p.set_defaults(func=aws_errors(snapshot_cmd))


def _add_switch_copy_drop(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "switch-table", help="move the table's functions to another table: publish + alias (000 §6.6 option A)"
    )
    add_target_args(p)
    add_authority_args(p)
    add_report_arg(p)
    p.add_argument(
        "--table", required=True, help="the inventory table whose functions switch (dynamodb.tables[].functions)"
    )
    p.add_argument(
        "--to",
        required=True,
        metavar="TABLE",
        help="the table they read afterwards (the restored one; the original to switch back)",
    )
    _allow_shrink(p, "switch to a table that is empty or has far fewer items than the one the functions leave")
    add_operation_args(p, reports=False)
    p.set_defaults(func=aws_errors(switch_cmd))
    p = sub.add_parser("copy-back", help="copy a restored table into the original, writers frozen (000 §6.6 option B)")
    add_target_args(p)
    add_authority_args(p)
    add_report_arg(p)
    p.add_argument("--table", required=True, help="the inventory table to copy into")
    p.add_argument("--from", dest="source", required=True, metavar="TABLE", help="the restored table to copy from")
    _allow_shrink(p, "copy even when it deletes items, or from a table that is empty or has far fewer items")
    add_operation_args(p, reports=False)
    add_output_arg(p)
    p.set_defaults(func=aws_errors(copy_back_cmd))
    p = sub.add_parser("drop-table", help="delete a restored table (never an inventory table, never one still read)")
    add_target_args(p)
    add_authority_args(p)
    add_report_arg(p)
    p.add_argument("--table", required=True, help="the restored table to delete")
    add_operation_args(p, reports=False)
    p.set_defaults(func=aws_errors(drop_cmd))


def _allow_shrink(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--allow-shrink",
        action="store_true",
        help=f"{what} (default: refused; threshold dynamodb.shrink_refusal_percent, 10 %%); a backup is taken first",
    )


def status_cmd(args: argparse.Namespace) -> int:
    """One line per table: PITR status and window."""
    from harness.actions.pitr import pitr_status

    with started_target(args) as target:
        names = args.table or [t.name for t in target.env.tables]
        for name in names:
            print(pitr_status(target, name).line())
    return OK


def restore_cmd(args: argparse.Namespace) -> int:
    """Plan, print and (when allowed) restore; progress lines on stderr."""
    from harness.actions.pitr import apply_pitr_restore, plan_pitr_restore

    at = parse_time(args.at)
    with started_target(args) as target:
        return plan_then_apply(
            args,
            target,
            lambda auth: plan_pitr_restore(
                target,
                args.table,
                authority=auth,
                at=at,
                name=args.name,
                suffix=args.suffix,
                sse=args.sse,
                reapply=args.reapply,
            ),
            lambda plan, _stop: apply_pitr_restore(target, plan, progress=progress),
            scope=f"table {args.table}",
        )


def verify_cmd(args: argparse.Namespace) -> int:
    """Compare and print counts and differences; exit 0 identical, 1 differences."""
    from harness.actions.pitr import digests_at
    from harness.cli.common import held_lease, would_apply
    from harness.data_verify import (
        DEFAULT_SEGMENTS,
        compare,
        read_snapshot,
        table_digests,
        verify_against_snapshot,
        verify_tables,
    )

    segments = args.segments or DEFAULT_SEGMENTS
    with started_target(args) as target:
        ddb = target.client("dynamodb")
        if args.snapshot:
            try:
                snapshot = read_snapshot(Path(args.snapshot))
            except ValueError as exc:
                raise HarnessError(str(exc)) from None
            report = verify_against_snapshot(ddb, args.table, snapshot, segments=segments, progress=progress)
        elif args.against:
            report = verify_tables(ddb, args.table, args.against, segments=segments, progress=progress)
        else:
            auth = authority(args)
            if not would_apply(target, auth, args.dry_run):
                raise HarnessError(
                    "--against-at restores a scratch table: on this target it needs --allow-mutation (and not "
                    "--dry-run)"
                )
            source = args.source or _restored_from(ddb, args.table)
            at = parse_time(args.against_at)
            assert at is not None  # the option is given on this branch (argparse's mutually exclusive group)
            command = f"harness verify-table --against-at (scratch restore of {source})"
            with held_lease(args, target, auth, command=command, scope=f"table {source}", rule=RULE, out=sys.stdout):
                expected = digests_at(target, source, at, authority=auth, segments=segments, progress=progress)
            report = compare(expected, table_digests(ddb, args.table, segments=segments, progress=progress))
        print(report.render())
        if args.report:
            Path(args.report).write_text(report.render(), encoding="utf-8")
    return OK if report.equal else FAILED


def _restored_from(ddb: object, table: str) -> str:
    summary = ddb.describe_table(TableName=table)["Table"].get("RestoreSummary") or {}  # type: ignore[attr-defined]
    arn = summary.get("SourceTableArn")
    if not arn:
        raise HarnessError(f"{table} was not restored from a table: pass --source")
    return str(arn).split(":table/")[-1]


def snapshot_cmd(args: argparse.Namespace) -> int:
    """Scan the table to key -> digest and write the snapshot file."""
    from harness.data_verify import DEFAULT_SEGMENTS, table_digests, write_snapshot

    with started_target(args) as target:
        digests = table_digests(
            target.client("dynamodb"),
            args.table,
            segments=args.segments or DEFAULT_SEGMENTS,
            taken_at=target.clock.now(),
            progress=progress,
        )
        path = write_snapshot(digests, args.out)
    print(
        json.dumps(
            {"snapshot": str(path), "table": args.table, "items": len(digests), "seconds": round(digests.seconds, 3)}
        )
    )
    return OK


def switch_cmd(args: argparse.Namespace) -> int:
    """Plan, print and (when allowed) switch."""
    from harness.actions.table_switch import apply_table_switch, plan_table_switch

    with started_target(args) as target:
        return plan_then_apply(
            args,
            target,
            lambda auth: plan_table_switch(target, args.table, args.to, authority=auth, allow_shrink=args.allow_shrink),
            lambda plan, _stop: apply_table_switch(target, plan, progress=progress),
            scope=f"table {args.table} -> {args.to}",
        )


def copy_back_cmd(args: argparse.Namespace) -> int:
    """Plan, print and (when allowed) copy back."""
    from harness.actions.copy_back import apply_copy_back, plan_copy_back

    with started_target(args) as target:
        return plan_then_apply(
            args,
            target,
            lambda auth: plan_copy_back(
                target, args.table, source=args.source, authority=auth, allow_shrink=args.allow_shrink
            ),
            lambda plan, stop: apply_copy_back(target, plan, progress=progress, should_stop=stop),
            scope=f"table {args.table} <- {args.source}",
            interruptible=True,
        )


def drop_cmd(args: argparse.Namespace) -> int:
    """Plan, print and (when allowed) drop a restored table."""
    from harness.actions.pitr import apply_drop_table, plan_drop_table

    with started_target(args) as target:
        return plan_then_apply(
            args,
            target,
            lambda auth: plan_drop_table(target, args.table, authority=auth),
            lambda plan, _stop: apply_drop_table(target, plan, progress=progress),
            scope=f"table {args.table}",
        )
