"""``harness rollback``: the on-call Lambda rollback (000 §4.2, §4.4; 001 §6.2.1; 002), thin over
harness.actions.rollback.

    harness rollback --env sit --service tenant-instance-management --reason "5xx after 1.0.3"
    harness rollback --env sit --function bbws-tenant-instance-management-sit --to-version 2 --reason ...
    harness rollback --env sit --all --to-label 1.0.2 --reason ... --target aws --allow-mutation
    harness rollback --env prod --all --approved-by A --approved-by B --reason ... --dry-run

The plan is printed first; ``--dry-run`` stops there; on a real account (or LocalStack) nothing is
applied without ``--allow-mutation`` (the plan is printed, then the refusal: exit 3). An apply first reserves its report
files (refused naming the path when they cannot be written), then takes the environment's operation
lease (harness/lease.py; ``--lock-timeout`` waits, the plan is then made from the state found), then
plans. Output: one line per function (from -> to, health, outcome), the verdict, the report paths.
Ctrl-C or SIGTERM during the batch starts nothing new, lets the functions in flight finish, reads
every alias back and records and reports the truth ("INTERRUPTED (SIGINT): 3 of 7 moved; 4 not
started"); a second signal aborts at once. Exit statuses: harness.cli.common.EXIT_STATUSES (a function
that failed or was refused mid-batch, its alias moved since the plan, is 1).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence, TextIO

from harness import options
from harness.actions.base import COMPLETE, DRY_RUN, FAILED, REFUSED, SKIPPED, ActionResult, Plan
from harness.actions.interrupt import Interrupts
from harness.actions.lambda_versions import service_of
from harness.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REFUSED,
    Evidence,
    add_authority_args,
    add_operation_args,
    add_target_args,
    authority,
    environment,
    held_lease,
    lease_note,
    refusal_status,
    rehearsal_label,
    reserved_evidence,
    started_target,
    verdict_line,
    whole_plan,
    would_apply,
)
from harness.cli.common import show_plan as common_show_plan
from harness.cli.confirm import confirmed, must_confirm, not_confirmed
from harness.cli.output import add_output_arg, record_reports, record_result
from harness.errors import HarnessError
from harness.outcome import Outcome

FAILING_VERDICTS = ("fail", "error")  # a checklist row's verdicts that fail the verification (000 §7.4)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``harness rollback``."""
    p = sub.add_parser(
        "rollback",
        help="roll Lambda aliases back (one function, one service or all), verified and recorded",
        description="Roll back Lambda aliases as the rollback runbook does (000 §4.2, §4.4): checkpoint alias, alias "
        "moved "
        "(routing cleared), verified, /health through fn:alias, audit record, SSM deployed-version. Prints the plan "
        "first.",
    )
    add_target_args(p)
    what = p.add_argument_group("what to roll back (one of)")
    what.add_argument("--function", help="one function (with --service: must belong to it)")
    what.add_argument("--service", help="every function of one inventory service (002 'services')")
    what.add_argument("--all", action="store_true", help="every function of the inventory (000 §4.4)")
    to = p.add_argument_group(
        "target version (default: the version before the one the alias serves)"
    ).add_mutually_exclusive_group()
    to.add_argument("--to-version", metavar="N", help="an explicit published version (000 §4.2.4)")
    to.add_argument("--to-label", metavar="LABEL", help="the version whose Description is this release label (002)")
    to.add_argument(
        "--to-backup",
        nargs="?",
        const="",
        metavar="ALIAS",
        help="a backup-* alias's version; no value: the newest (001 §6.2.1)",
    )
    to.add_argument(
        "--to-deployed-previous",
        action="store_true",
        help="the release deployed before the current one (SSM history, 002)",
    )
    add_authority_args(p)
    options.add(p.add_argument, "--reports-dir")
    add_operation_args(p)
    p.add_argument(
        "--max-workers",
        type=int,
        default=8,
        metavar="N",
        help="functions rolled back at once (default 8; Lambda's control-plane quota is per account)",
    )
    p.add_argument(
        "--verify", action="store_true", help="also run the post-rollback checklist rows for what moved (000 §7.4)"
    )
    options.add(p.add_argument, "--api-base-url")
    add_output_arg(p)
    p.set_defaults(func=run)


def selection(args: argparse.Namespace) -> Any:
    """The RollbackTo for the ``--to-*`` options."""
    from harness.actions.rollback import RollbackTo

    if args.to_version:
        return RollbackTo.version(args.to_version)
    if args.to_label:
        return RollbackTo.label(args.to_label)
    if args.to_backup is not None:
        return RollbackTo.backup(args.to_backup or None)
    if args.to_deployed_previous:
        return RollbackTo.deployed_previous()
    return RollbackTo.previous()


def _scope(args: argparse.Namespace) -> None:
    if not (args.function or args.service or args.all):
        raise HarnessError("say what to roll back: --function NAME, --service NAME or --all")
    if args.all and (args.function or args.service):
        raise HarnessError("--all rolls back every function: leave out --function and --service")


def show_plan(plan: Plan[Any], out: TextIO, label: str | None = None) -> None:
    """The whole plan, then its refusal if any (harness.cli.common.show_plan)."""
    common_show_plan(plan, out, label)


def stop_after_plan(
    plan: Plan[Any], applying: bool, dry_run: bool, target_name: str, out: TextIO, label: str | None = None
) -> int | None:
    """Show the plan; the exit status when nothing is to change (refused, --dry-run, no --allow-mutation), else None."""
    show_plan(plan, out, label)
    out.flush()  # the operator (or a pipe) sees the whole plan before anything changes
    if plan.refused:
        print("REFUSED: nothing changed", file=out)
        return refusal_status(plan.refusal or "")
    if not applying and dry_run:
        print("plan only (--dry-run): nothing changed", file=out)
        return EXIT_OK
    if not applying:
        print(
            f"REFUSED: no --allow-mutation on target {target_name}: the plan above is what it would do; nothing "
            "changed",
            file=out,
        )
        return EXIT_REFUSED
    return None


def stop_before_apply(
    plan: Plan[Any], applying: bool, args: argparse.Namespace, target: Any, ask: bool, out: TextIO
) -> int | None:
    """:func:`stop_after_plan`, then on a terminal the typed environment name (exit 3 without it); None to apply."""
    stopped = stop_after_plan(plan, applying, args.dry_run, target.name, out, rehearsal_label(target))
    if stopped is None and ask and not confirmed(target):
        print(not_confirmed(target), file=out)
        return EXIT_REFUSED
    return stopped


def function_line(child: ActionResult, alias: str) -> str:
    """``fn: 3 -> 2, health 200 (fn:alias), COMPLETE``."""
    from harness.report.incident import plan_facts

    d, ev = plan_facts(child.plan), child.evidence
    fn = d.get("dest_function") or d.get("function")
    frm, to = d.get("from") or d.get("dest_current"), d.get("to") or ev.get("new_version") or d.get("label")
    health = ev.get("health") or {}
    if ev.get("trigger"):
        seen = f"trigger {ev['trigger']['name']}: {ev['trigger']['observed']}"
    elif health:
        seen = (
            f"health {health.get('status_code')}"
            if not health.get("problem")
            else f"health FAILED: {health.get('problem')}"
        )
    elif ev.get("monitor"):
        seen = f"monitor {ev['monitor']['window_s']:g} s: no trigger"
    else:
        seen = "health -"
    final = ev.get("final_version")
    where = f", alias {alias} on {final}" if final and child.outcome != COMPLETE else ""
    tail = f": {child.message}" if child.message and child.outcome != COMPLETE else ""
    return f"  {fn}: {frm or '-'} -> {to or '-'}, {seen}, {child.outcome}{where}{tail}"


def leaves(result: ActionResult) -> list[ActionResult]:
    """Per-function results under a batch, service or stack result."""
    return [result] if not result.children else [leaf for c in result.children for leaf in leaves(c)]


def write_reports(folder: str, name: str, files: dict[str, str]) -> list[Path]:
    """Write ``{prefix: markdown}`` as ``<folder>/<prefix>-<name>.md``; returns the paths (older helper; the
    commands write through :class:`harness.cli.common.Evidence`, reserved before any change)."""
    base = Path(folder)
    base.mkdir(parents=True, exist_ok=True)
    paths = []
    for prefix, text in files.items():
        path = base / f"{prefix}-{name}.md"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def verify_rows(
    target: Any, slugs: Sequence[str], resources: Sequence[str], expect: dict[str, str], api_base_url: str | None = None
) -> list[dict[str, Any]]:
    """Run checklist rows on a fresh context (the CLI may import harness.checks; the library may not)."""
    from harness.checks.catalogue import rows_for
    from harness.checks.context import CheckContext
    from harness.checks.runner import run_row

    base = api_base_url or getattr(target, "api_base_url", None)
    ctx = CheckContext.for_target(target, expect_versions=expect, api_base_url=base)
    wanted = set(resources)
    return [run_row(ctx, p).to_dict() for p in rows_for(target.env, None, tuple(slugs)) if p.row.resource in wanted]


def exit_status(result: ActionResult) -> int:
    """0 for COMPLETE/SKIPPED/DRY_RUN, 3 for REFUSED, 130 for INTERRUPTED, 1 otherwise."""
    if result.outcome == REFUSED:
        return EXIT_REFUSED
    if result.outcome == Outcome.INTERRUPTED:
        return EXIT_INTERRUPTED
    return EXIT_OK if result.outcome in (COMPLETE, SKIPPED, DRY_RUN) else EXIT_FAILED


def _plan(args: argparse.Namespace, target: Any, planning: Any, to: Any) -> Plan[Any]:
    from harness.actions import rollback as rb

    def make(auth: Any) -> Plan[Any]:
        if args.function:
            return rb.plan_rollback(target, args.function, auth, to)
        return rb.plan_rollback_all(target, auth, to, service=args.service)

    return whole_plan(make, planning, target.env)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Reserve the reports, take the lease, plan, print, maybe apply, print one line per function, report."""
    out = out or sys.stdout  # looked up per call: a default bound at import outlives a replaced (captured) stdout
    from harness.actions import rollback as rb

    _scope(args)
    env = environment(args)
    auth = authority(args)
    to = selection(args)
    if args.function and args.service and service_of(env, args.function) != args.service:
        raise HarnessError(f"{args.function} is not a function of service {args.service} in {env.inventory}/{env.name}")
    action = "rollback" if args.function else "rollback-all"
    with started_target(args, env) as target:
        ask = must_confirm(args, target)
        if ask:  # on a terminal the typed environment name is the consent (harness/cli/confirm.py)
            auth = replace(auth, allow_mutation=True)
        applying = would_apply(target, auth, args.dry_run)
        # Plan-only runs plan as if permitted, so the operator sees the changes; the apply path plans
        # with the real authority, where a missing --allow-mutation is a refusal like any other.
        planning = auth if applying else replace(auth, allow_mutation=True)
        if not applying:
            plan = _plan(args, target, planning, to)
            status = stop_after_plan(plan, applying, args.dry_run, target.name, out, rehearsal_label(target)) or EXIT_OK
            note = lease_note(target)
            if note:
                print(note, file=out)
            return status
        began = target.clock.now()  # before any wait for the lease: a rollback finished since then overtook this one
        scope = args.function or (f"service {args.service}" if args.service else "all services")
        command = f"harness rollback {'--function ' + args.function if args.function else scope}"
        with (
            reserved_evidence(args, target, f"{action}-{env.inventory}-{env.name}", ["incident", "checklist"]) as ev,
            held_lease(args, target, auth, command=command, scope=scope, rule=rb.APPROVAL_RULE, out=out) as lease,
        ):
            overtaken = rollbacks_while_waiting(args, target, to, began)
            if overtaken:
                print(overtaken, file=out)
                return EXIT_REFUSED
            plan = _plan(args, target, planning, to)
            stopped = stop_before_apply(plan, applying, args, target, ask, out)
            if stopped is not None:
                return stopped
            with Interrupts() as interrupts:
                result = rb.apply_rollback(
                    target,
                    plan,
                    auth,
                    interrupts=interrupts,
                    lease_lost=(lambda: lease.lost) if lease else None,
                    max_workers=args.max_workers,
                )
            return _finish(args, target, env, plan, result, auth, ev, out)


RELATIVE_RULES = ("previous", "backup", "deployed-previous")  # chosen from what the alias serves when planned


def rollbacks_while_waiting(args: argparse.Namespace, target: Any, to: Any, began: Any) -> str | None:
    """A REFUSED line when this run waited for the lease (``--lock-timeout``) and another rollback of the
    environment was recorded meanwhile, while this one would choose its versions relative to what the aliases
    now serve: the first operator's rollback already moved them, so the same rule would take every alias a
    second release back (the double rollback 000 §4.4's operators fear). An explicit version is planned as
    usual (already served: skipped)."""
    from harness.records import parse_stamp, read_records

    if to.kind not in RELATIVE_RULES or not getattr(args, "lock_timeout", None):
        return None
    others = [
        r
        for r in read_records(target.client("dynamodb"), target.env)
        if r.action in ("rollback", "rollback-all") and parse_stamp(r.timestamp) >= began
    ]
    if not others:
        return None
    r = others[0]
    return (
        f"REFUSED: while this run waited for the lease, {r.actor} ran a rollback of {target.env.name} "
        f"(record {r.record_id}, {r.status} at {r.completed_at or r.timestamp}); the default rule would now take "
        "every alias a second release back. Nothing changed: see what the aliases serve now (--dry-run), then name "
        "the version to return to (--to-version N) or run again without --lock-timeout"
    )


def _verify(
    args: argparse.Namespace, target: Any, env: Any, plan: Plan[Any], result: ActionResult, out: TextIO
) -> list[dict[str, Any]]:
    """The post-rollback checklist rows for what moved (000 §7.4), printed; a failing row makes the outcome FAILED,
    and the verdict goes into the audit record (:func:`record_verification`) so report and record agree."""
    from harness.actions import rollback as rb

    expect = rb.final_versions(result)
    api = list(env.api.paths) if env.api else []
    rows = verify_rows(target, plan.verified_by, [*expect, *api], expect, args.api_base_url)
    for r in rows:
        print(f"  [{r['verdict'].upper()}] {r['slug']} {r['resource']}: {r['observed']}", file=out)
    failing = [r for r in rows if r["verdict"] in FAILING_VERDICTS]
    if failing and result.outcome == COMPLETE:
        result.outcome = FAILED
        result.message += "; post-rollback checklist rows failed"
    record_verification(target, result, rows, out)
    return rows


def record_verification(target: Any, result: ActionResult, rows: Sequence[dict[str, Any]], out: TextIO) -> None:
    """Write the verification's verdict into the action's audit record (000 §7.4 after 002 §4's record).

    ``verification``: verdict PASS or FAIL, rows run, rows failing (FAIL or ERROR) and which; a failing
    verification finishes the record FAILED, as a rolled-back alias whose SSM update failed does. When the
    record cannot be rewritten (changed by someone else, DynamoDB down) that is printed, the record keeps its
    status and the report says both (harness/report/incident.py ``_record_note``).
    """
    from harness.records import amend

    record, table = result.record, target.env.deployments_table
    if record is None:
        return
    failing = [r for r in rows if r["verdict"] in FAILING_VERDICTS]
    verification = {
        "verdict": str(Outcome.FAIL if failing else Outcome.PASS),
        "rows": len(rows),
        "failing": len(failing),
        "failed": [f"{r['slug']} {r['resource']}" for r in failing],
    }
    status = FAILED if failing else record.status
    try:
        client = target.client("dynamodb") if table is not None else None
        result.record = amend(client, table, record, status=status, verification=verification)
    except Exception as exc:  # noqa: BLE001 (the rollback is done; the report says the record was not amended)
        from harness import aws

        print(
            f"  audit record {record.record_id}: the verification was not recorded: {aws.error_message(exc)}",
            file=out,
        )


def _finish(
    args: argparse.Namespace,
    target: Any,
    env: Any,
    plan: Plan[Any],
    result: ActionResult,
    auth: Any,
    evidence: Evidence,
    out: TextIO,
) -> int:
    """Per-function lines, the optional checklist rows, the verdict line and the reports (also after Ctrl-C)."""
    from harness.report import incident_facts, render_incident, rollback_checklist

    for child in leaves(result):
        print(function_line(child, env.alias), file=out)
    rows: list[dict[str, Any]] = []
    if args.verify and result.outcome in (COMPLETE, FAILED):
        rows = _verify(args, target, env, plan, result, out)
    verdict = f"{result.outcome}: {plan.action} {env.inventory}/{env.name} — {result.message}"
    if result.outcome == Outcome.INTERRUPTED:
        record = result.record.record_id if result.record else "-"
        verdict = f"{result.message} — {plan.action} {env.inventory}/{env.name}, record {record} FAILED"
    print(verdict_line(target, verdict), file=out, flush=True)
    facts = incident_facts(
        result, env, rows=rows, authority=auth, method=f"harness rollback (CLI, target {target.name})"
    )
    incident = evidence.files["incident"].name
    paths = evidence.write(
        {
            "incident": render_incident(facts),
            "checklist": rollback_checklist(result, env, rows=rows, authority=auth, incident_report=incident),
        }
    )
    print(f"reports: {', '.join(str(p) for p in paths)}", file=out)
    record_result(result, [(str(plan_facts_function(c)), c) for c in leaves(result)])
    record_reports(paths)
    return exit_status(result)


def plan_facts_function(child: ActionResult) -> str:
    """The function a per-function result is about."""
    from harness.report.incident import plan_facts

    d = plan_facts(child.plan)
    return str(d.get("dest_function") or d.get("function") or child.plan.action)
