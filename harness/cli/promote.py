"""``harness promote``: DEV -> SIT (001 §3.2.1) and SIT -> PROD (001 §4), thin over harness.actions.promote.

    harness promote --from dev --to sit --service tenant-instance-management --approved-by "Dev Lead" --reason "release
1.0.3"
    harness promote --from sit --to prod --all --approved-by "Tech Lead" --approved-by "Ops Lead" --reason CR-123
--target aws --allow-mutation
    harness promote --from sit --to prod --function bbws-tenant-instance-management-sit --rehearsal-start
2026-11-24T20:05:00Z ...

The source's pre-promotion gates (001 §2.1: the ``source-*`` rows) run first and are printed; the
plan is printed; ``--dry-run`` stops there; the destination changes only on a disposable rehearsal or
with ``--allow-mutation``. ``--all`` promotes the whole stack in 001 §5.1 order (the Terraform phase is
left to the Terraform runbook). On ``--target embedded`` both environments are seeded rehearsals on one
emulator (the destination in its own account, on its own clock: ``--rehearsal-start`` puts it inside a
maintenance window). ``--target aws`` uses each environment's own credentials (profile ``bbws-{env}``).
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from dataclasses import replace
from typing import Any, TextIO

from harness import options
from harness.actions.interrupt import Interrupts
from harness.cli.common import (
    EXIT_OK,
    Evidence,
    add_authority_args,
    add_operation_args,
    authority,
    environment,
    held_lease,
    rehearsal_label,
    reserved_evidence,
    started_target,
    verdict_line,
    whole_plan,
    would_apply,
)
from harness.cli.confirm import must_confirm
from harness.cli.output import add_output_arg, record_reports, record_result
from harness.cli.rollback import (
    exit_status,
    function_line,
    leaves,
    plan_facts_function,
    stop_after_plan,
    stop_before_apply,
)
from harness.errors import HarnessError
from harness.outcome import Outcome


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``harness promote``."""
    p = sub.add_parser(
        "promote",
        help="promote Lambda releases to the next environment (gates, approvals, window, monitor, automatic rollback)",
        description="Promote as the promotion runbook does (001 §3.2.1, §4): source gates, backup alias, package and "
        "release "
        "settings copied, publish, alias moved, post-deployment monitor with the 001 §6.3.1 automatic-rollback "
        "triggers.",
    )
    p.add_argument("--from", dest="source", required=True, help="the environment promoted from (dev, sit)")
    p.add_argument("--to", dest="dest", required=True, help="the environment promoted into (its promotes_to)")
    for flag in ("--inventory", "--target", "--assume-role"):
        options.add(p.add_argument, flag)
    what = p.add_argument_group("what to promote (one of)")
    what.add_argument("--function", help="one source function")
    what.add_argument("--service", help="every function of one service")
    what.add_argument("--all", action="store_true", help="every service, in 001 §5.1 order")
    p.add_argument("--version", help="with --function: a source version other than the one its alias serves")
    p.add_argument(
        "--skip-gates",
        action="store_true",
        help="do not run the source gates (only with --emergency; 001 §3.2.1 'never skip unless emergency')",
    )
    options.add(p.add_argument, "--rehearsal-start")
    add_authority_args(p)
    options.add(p.add_argument, "--reports-dir")
    add_operation_args(p)
    add_output_arg(p)
    p.set_defaults(func=run)


def _gates(source: Any, out: TextIO, keep: list[dict[str, Any]]) -> tuple[bool, str]:
    """Run the source's ``source-*`` rows (001 §2.1), print them and keep them for the checklist; the gate result."""
    from harness.checks.catalogue import rows_for
    from harness.checks.context import CheckContext
    from harness.checks.runner import run_row

    ctx = CheckContext.for_target(source)
    rows = [run_row(ctx, p) for p in rows_for(source.env, "pre-promotion")]
    keep += [r.to_dict() for r in rows]
    for r in rows:
        print(f"  gate [{r.verdict.value.upper()}] {r.slug} {r.resource}: {r.observed}", file=out)
    failed = [r.message() for r in rows if not r.ok]
    return not failed, "; ".join(failed) or f"{len(rows)} gate rows passed on {source.env.name}"


def _destination(args: argparse.Namespace, source: Any, stack: ExitStack) -> Any:
    """The destination target: a peer on the source's emulator (embedded), else its own target."""
    dest_env = environment(args, args.dest)
    clock = None
    if args.rehearsal_start:
        if not source.supports("clock-control"):
            raise HarnessError(f"--rehearsal-start: {source.unsupported_reason('clock-control')}")
        from harness.clock import RehearsalClock, parse_utc

        try:
            clock = RehearsalClock(parse_utc(args.rehearsal_start))
        except ValueError as exc:
            raise HarnessError(f"--rehearsal-start: {exc}") from None
    if source.in_process:
        from harness.targets.embedded.peer import start_peer

        peer = start_peer(source, dest_env, clock=clock)
        stack.callback(peer.close)
        return peer
    return stack.enter_context(started_target(args, dest_env))


def _checked_authority(args: argparse.Namespace) -> Any:
    """The caller's authority once the options agree (HarnessError, exit 2, otherwise)."""
    if sum(bool(x) for x in (args.function, args.service, args.all)) != 1:
        raise HarnessError("say what to promote: one of --function NAME, --service NAME or --all")
    if args.version and not args.function:
        raise HarnessError("--version needs --function (one function's version)")
    auth = authority(args)
    if args.skip_gates and not (auth.emergency and auth.incident):
        raise HarnessError(
            "--skip-gates only under the emergency rule: add --emergency and --incident ID (001 §3.2.1, §4.1.2)"
        )
    return auth


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Gates, plan, print, maybe apply, one line per function, reports."""
    out = out or sys.stdout  # looked up per call: a default bound at import outlives a replaced (captured) stdout
    from harness.actions import promote as pr

    auth = _checked_authority(args)
    args.env = args.source
    src_env = environment(args, args.source)
    with ExitStack() as stack:
        source = stack.enter_context(started_target(args, src_env))
        dest = _destination(args, source, stack)
        gate_rows: list[dict[str, Any]] = []
        # evaluated by the plan after the refusals that need no read (a wrong --to never runs the gates)
        gates = (
            (True, f"skipped under the emergency rule ({auth.incident})")
            if args.skip_gates
            else (lambda: _gates(source, out, gate_rows))
        )
        ask = must_confirm(args, dest)
        if ask:  # on a terminal the typed environment name is the consent (harness/cli/confirm.py)
            auth = replace(auth, allow_mutation=True)
        applying = would_apply(dest, auth, args.dry_run)
        planning = auth if applying else replace(auth, allow_mutation=True)
        if not applying:
            plan = _plan(args, pr, source, dest, planning, gates)
            return stop_after_plan(plan, applying, args.dry_run, dest.name, out, rehearsal_label(dest)) or EXIT_OK
        stem = f"promote-{dest.env.inventory}-{src_env.name}-to-{dest.env.name}"
        scope = args.function or (f"service {args.service}" if args.service else "whole stack")
        rule = pr.approval_rule(src_env, dest.env)
        command = f"harness promote --from {src_env.name} --to {dest.env.name} ({scope})"
        with (
            reserved_evidence(args, dest, stem, ["checklist", "report"]) as evidence,
            held_lease(args, dest, auth, command=command, scope=scope, rule=rule, out=out),
        ):
            plan = _plan(args, pr, source, dest, planning, gates)
            stopped = stop_before_apply(plan, applying, args, dest, ask, out)
            if stopped is not None:
                return stopped
            with Interrupts() as interrupts:
                if args.function:
                    result = pr.apply_promote(source, dest, plan, auth)
                elif args.service:
                    result = pr.apply_promote_service(source, dest, plan, auth, interrupts=interrupts)
                else:
                    result = pr.apply_promote_stack(source, dest, plan, auth, interrupts=interrupts)
            if interrupts.stopped and result.outcome != Outcome.INTERRUPTED:
                # one function: it was in flight, so it finished its step (monitor included); say so, exit 130
                result.message += f"; {interrupts.stopped} received: the function in flight finished its step"
                result.outcome = Outcome.INTERRUPTED
            return _finish(src_env, dest, plan, result, auth, gate_rows, evidence, out)


def _plan(args: argparse.Namespace, pr: Any, source: Any, dest: Any, planning: Any, gates: Any) -> Any:
    def make(auth: Any) -> Any:
        if args.function:
            return pr.plan_promote(source, dest, auth, function=args.function, gates=gates, version=args.version)
        if args.service:
            return pr.plan_promote_service(source, dest, auth, args.service, gates=gates)
        return pr.plan_promote_stack(source, dest, auth, gates=gates)

    return whole_plan(make, planning, dest.env)


def _finish(
    src_env: Any,
    dest: Any,
    plan: Any,
    result: Any,
    auth: Any,
    gate_rows: list[dict[str, Any]],
    evidence: Evidence,
    out: TextIO,
) -> int:
    """Per-function lines, the verdict line and the reports (also after Ctrl-C)."""
    from harness.report import incident_facts, promotion_checklist, render_incident

    for child in leaves(result):
        print(function_line(child, dest.env.alias), file=out)
    line = (
        f"{result.outcome}: {plan.action} {src_env.name} -> {dest.env.name} ({dest.env.inventory}) — {result.message}"
    )
    if result.outcome == Outcome.INTERRUPTED:
        said = result.message if result.message.startswith("INTERRUPTED") else f"INTERRUPTED: {result.message}"
        line = f"{said} — {plan.action} {src_env.name} -> {dest.env.name} ({dest.env.inventory})"
    print(verdict_line(dest, line), file=out, flush=True)
    facts = incident_facts(result, dest.env, authority=auth, method=f"harness promote (CLI, target {dest.name})")
    paths = evidence.write(
        {
            "checklist": promotion_checklist(result, src_env, dest.env, gate_rows=gate_rows, authority=auth),
            "report": render_incident(
                replace(facts, title=f"Promotion Report ({src_env.name.upper()} -> {dest.env.name.upper()})")
            ),
        }
    )
    print(f"reports: {', '.join(str(p) for p in paths)}", file=out)
    record_result(result, [(plan_facts_function(c), c) for c in leaves(result)])
    record_reports(paths)
    return exit_status(result)
