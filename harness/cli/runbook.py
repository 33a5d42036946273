"""``harness runbook``: prove the runbook document itself, not only the harness's codification of it.

    harness runbook lint RUNBOOK.md [--inventory bbws] [--env sit] [--no-shellcheck] [--ignore CODE]
    harness runbook rehearse RUNBOOK.md --section 4.4 --env sit [--var NAME=VALUE] [--arg VALUE]
                             [--fault bad-lambda-version] [--verify post-rollback]

``lint`` prints one line per finding (``000 §7.1 line 412: date -v-5M is BSD-only (...) [portability]``) and
exits 1 when there is any. ``rehearse`` runs the section's shell blocks in bash against a seeded rehearsal
(harness/runbook/rehearse.py), optionally after a game-day fault and followed by a checklist on a fresh
context; exit 0 green, 1 a step failed or a checklist row stayed red, 3 refused (nothing ran).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence, TextIO

from harness.cli.common import EXIT_FAILED as EXIT_FINDINGS
from harness.cli.common import EXIT_OK, EXIT_REFUSED, add_target_args, environment, started_target
from harness.errors import HarnessError
from harness.outcome import Outcome


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``harness runbook lint`` and ``harness runbook rehearse``."""
    p = sub.add_parser("runbook", help="lint a runbook document's shell blocks, or rehearse one of its sections")
    rsub = p.add_subparsers(dest="runbook_command", required=True)
    lint = rsub.add_parser("lint", help="one line per finding in the runbook's shell blocks; exit 1 on findings")
    lint.add_argument("file", help="the runbook (markdown)")
    lint.add_argument(
        "--inventory",
        default=os.environ.get("HARNESS_INVENTORY"),
        help="check resource names against this inventory (name or path). Env: HARNESS_INVENTORY",
    )
    lint.add_argument("--env", action="append", default=[], help="only these environments' names (repeatable)")
    lint.add_argument("--no-shellcheck", action="store_true", help="skip shellcheck")
    lint.add_argument("--ignore", action="append", default=[], metavar="CODE", help="a rule code to leave out")
    lint.set_defaults(func=run_lint)
    reh = rsub.add_parser("rehearse", help="run one section's shell blocks against a seeded rehearsal")
    reh.add_argument("file", help="the runbook (markdown)")
    reh.add_argument("--section", required=True, help="section number (7.1) or title")
    add_target_args(reh)
    reh.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="bind a variable/placeholder")
    reh.add_argument("--arg", action="append", default=[], metavar="VALUE", help="a positional argument ($1, $2...)")
    reh.add_argument("--fault", default=None, help="inject this game-day fault first (harness/runbook/faults.py)")
    reh.add_argument("--verify", default=None, metavar="PROCEDURE", help="then run this checklist (post-rollback...)")
    reh.add_argument("--rows", default=None, metavar="SLUG,...", help="with --verify: only these checklist slugs")
    reh.add_argument("--allow-mutation", action="store_true", help="rehearse on a real account (never by default)")
    reh.add_argument("--json", default=None, metavar="PATH", help="also write the rehearsal as JSON")
    reh.set_defaults(func=run_rehearse)


def run_lint(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Lint, print, exit 1 on findings."""
    from harness.inventory import load_inventory
    from harness.runbook.document import load
    from harness.runbook.lint import lint

    out = out or sys.stdout
    runbook = load(args.file)
    inventory = load_inventory(args.inventory) if args.inventory else None
    result = lint(
        runbook, inventory, env_names=args.env or None, use_shellcheck=not args.no_shellcheck, ignore=args.ignore
    )
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for f in result.findings:
        print(f.render(), file=out)
    blocks = len(runbook.blocks)
    print(f"{len(result.findings)} finding(s) in {blocks} shell block(s) of {args.file}", file=out)
    return EXIT_FINDINGS if result.findings else EXIT_OK


def parse_vars(pairs: Sequence[str]) -> dict[str, str]:
    """``NAME=VALUE`` pairs as a dict (HarnessError on a pair without ``=``)."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq or not name:
            raise HarnessError(f"--var {pair!r}: expected NAME=VALUE")
        out[name] = value
    return out


def checklist_verifier(procedure: str, slugs: Sequence[str] | None = None, api_base_url: str | None = None) -> Any:
    """``verify(target, fault, mentioned)`` for a rehearsal: ``procedure``'s rows on a fresh context, narrowed to
    the resources the section names and the fault broke (all rows when it names none). A deployment fault sets
    the expected alias versions: the ones served before it (harness/faults/deployment.py expected_after)."""
    from harness.checks.catalogue import PROCEDURES

    if procedure not in PROCEDURES:
        raise HarnessError(f"unknown checklist procedure {procedure!r}; known: {', '.join(PROCEDURES)}")

    def verify(target: Any, fault: Any, mentioned: Sequence[str]) -> list[dict[str, Any]]:
        from harness.checks.catalogue import rows_for
        from harness.checks.context import CheckContext
        from harness.checks.runner import run_row
        from harness.faults.deployment import expected_after

        expect = expected_after(fault) if fault is not None else {}
        base = api_base_url or getattr(target, "api_base_url", None)
        ctx = CheckContext.for_target(target, expect_versions=expect, api_base_url=base)
        planned = rows_for(target.env, procedure, tuple(slugs) if slugs else None)
        names = set(mentioned) | (set(fault.before) if fault is not None else set())
        chosen = [p for p in planned if p.row.resource in names] or planned
        return [run_row(ctx, p).to_dict() for p in chosen]

    return verify


def run_rehearse(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Rehearse the section, print the report, exit 0/1/3."""
    from harness.runbook import faults
    from harness.runbook.document import load
    from harness.runbook.rehearse import preflight, rehearse

    out = out or sys.stdout
    runbook = load(args.file)
    section = runbook.section(args.section)
    variables = parse_vars(args.var)
    if args.fault and args.fault not in faults.FAULTS:
        raise HarnessError(f"unknown fault {args.fault!r}; known: {', '.join(faults.FAULTS)}")
    slugs = [s for s in (args.rows or "").split(",") if s]
    verify = checklist_verifier(args.verify, slugs) if args.verify else None
    env = environment(args)
    refusals = preflight(runbook, section, env, variables, args.arg)[2]
    if refusals:
        print(f"REHEARSAL of {section.cite} ({args.file}) on {env.name}", file=out)
        for r in refusals:
            print(f"REFUSED: {r}", file=out)
        print(f"REFUSED: {section.cite}: nothing ran", file=out)
        return EXIT_REFUSED
    with started_target(args, env) as target:
        if target.is_real_account and not args.allow_mutation:
            print(
                f"REFUSED: a rehearsal runs the runbook's own commands; {env.describe()} is a real account "
                "(--allow-mutation to run them there)",
                file=out,
            )
            return EXIT_REFUSED
        inject = (lambda t: faults.inject(args.fault, t, variables)) if args.fault else None
        result = rehearse(runbook, section, target, variables=variables, args=args.arg, inject=inject, verify=verify)
    for line in result.render():
        print(line, file=out)
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
    if result.outcome == Outcome.REFUSED:
        return EXIT_REFUSED
    return EXIT_OK if result.outcome == Outcome.PASS else EXIT_FINDINGS
