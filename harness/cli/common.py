"""What every mutating ``harness`` command shares with the pytest plugin: the same options, the same
target (account verified first), the same authority, and the plan printed before anything changes.

``--target aws`` with ``AWS_ENDPOINT_URL`` works against ``harness serve``; ``--target embedded``
(the default) starts a seeded rehearsal in this process (moto is imported only then).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, TextIO

from harness import options
from harness.actions import Authority
from harness.actions.base import ActionResult, Plan
from harness.errors import HarnessError
from harness.inventory import Environment, load_inventory
from harness.targets import TARGETS, Target, make_target

if TYPE_CHECKING:
    from harness.actions.interrupt import Interrupts
    from harness.lease import Lease

TARGET_ENV = "HARNESS_TARGET"


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


# -- exit statuses, leases, evidence, rehearsal labels (shared by every mutating command) ------------------

EXIT_OK = 0  # done, or plan only (--dry-run, no --allow-mutation is 3)
EXIT_FAILED = 1  # an operation or check failed
EXIT_USAGE = 2  # a usage mistake: bad or missing options, unknown function/table/key/environment
EXIT_REFUSED = 3  # refused by a safety rule (approvals, --allow-mutation, window, reports); nothing changed
EXIT_ACCOUNT_GUARD = 4  # the credentials are not the environment's account (as pytest's guard); nothing called
EXIT_LEASE_HELD = 5  # another operation holds the environment's lease (harness/lease.py); nothing changed
EXIT_INTERRUPTED = 130  # SIGINT/SIGTERM: what was done is printed, recorded and reported
EXIT_STATUSES: dict[int, str] = {
    EXIT_OK: "done, or plan only (--dry-run)",
    EXIT_FAILED: "an operation or check failed",
    EXIT_USAGE: "usage mistake (bad options; unknown function, table, key or environment)",
    EXIT_REFUSED: "refused by a safety rule (approvals, no --allow-mutation on a kept target, ...): plan printed, "
    "nothing changed",
    EXIT_ACCOUNT_GUARD: "account guard: the credentials are not the environment's account; nothing called",
    EXIT_LEASE_HELD: "another operation holds the environment's lease; nothing changed",
    EXIT_INTERRUPTED: "interrupted (SIGINT/SIGTERM): what was done is printed, recorded and reported",
}


# A plan refused because it names something the inventory (or the account) does not have is a usage mistake.
_UNKNOWN_NAME = re.compile(
    r"^(unknown (function|service|table|key|stack|branch|app)\b|no table '|'[^']*' is not a state key"
    r"|table \S+ does not exist)"
)


def refusal_status(refusal: str) -> int:
    """EXIT_USAGE for a refusal that names an unknown function/service/table/key, else EXIT_REFUSED."""
    return EXIT_USAGE if _UNKNOWN_NAME.match(refusal.strip()) else EXIT_REFUSED


def not_permitted(target: Target) -> str:
    """The refusal line of a plan-only run on a kept target without ``--allow-mutation`` (exit 3)."""
    env = target.env
    return (
        f"REFUSED: changing {env.inventory}/{env.name} on target {target.name} needs --allow-mutation; the plan "
        "above is what it would do; nothing changed"
    )


def whole_plan(make: Callable[[Authority], Plan[Any]], auth: Authority, env: Environment) -> Plan[Any]:
    """The plan made with ``auth``; when a safety rule refused it before it read anything (no changes), the plan
    made as if permitted and approved, carrying that refusal: the operator sees every change first, then why it
    is refused (exit 3). The returned plan is refused whenever ``auth``'s is, so it is never applied."""
    made = make(auth)
    if not made.refused or made.changes or refusal_status(made.refusal or "") == EXIT_USAGE:
        return made
    need = max((rule.min_approvers for rule in env.approvals.values()), default=0)
    as_approved = dataclasses.replace(
        auth,
        allow_mutation=True,
        approvers=tuple(f"(approver {i + 1})" for i in range(need)),
        reason=auth.reason or "(plan only)",
        incident=auth.incident or "(plan only)",
        emergency=True,  # outside the maintenance window the plan is still shown (001 §4.1.2)
    )
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        full = make(as_approved)
    except (BotoCoreError, ClientError, HarnessError):
        return made  # what the refused plan did not read cannot be shown; its refusal stands
    if full.refused:
        return made
    return dataclasses.replace(full, refusal=made.refusal)


def show_plan(plan: Plan[Any], out: TextIO | None = None, label: str | None = None) -> None:
    """The whole plan (header, changes, notes), then its refusal if any; ``label`` (REHEARSAL) heads it."""
    from harness.cli.output import record_plan

    record_plan(plan)
    out = out or sys.stdout
    shown = dataclasses.replace(plan, refusal=None) if plan.refused else plan
    text = "\n".join(
        line for line in shown.render().splitlines() if not (plan.refused and line.strip() == "(no change)")
    )
    print(f"{label} {text}" if label else text, file=out)
    if plan.refused:
        print(f"REFUSED: {plan.refusal}", file=out)


def exit_table() -> str:
    """The exit-status contract as ``harness --help`` shows it (one line per status)."""
    return "exit statuses (every command):\n" + "\n".join(f"  {k:>3}  {v}" for k, v in EXIT_STATUSES.items())


DEFAULT_KEEP_RUNS = 20  # as the pytest plugin's --keep-runs
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def parse_duration(text: str) -> float:
    """``90``, ``30s``, ``5m``, ``1h``, ``500ms`` -> seconds (HarnessError otherwise)."""
    m = _DURATION.match(text or "")
    if not m:
        raise HarnessError(f"--lock-timeout {text!r}: a duration like 30s, 5m or 1h")
    return float(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[m.group(2) or "s"]


def add_operation_args(p: argparse.ArgumentParser, *, reports: bool = True) -> None:
    """--lock-timeout, --break-lease, --yes and (with reports) --keep-runs: every mutating command has them."""
    p.add_argument(
        "--lock-timeout",
        default="0",
        metavar="DURATION",
        help="wait this long for another operation's lease on the environment (e.g. 30s, 5m; default: refuse at "
        "once, exit 5)",
    )
    p.add_argument(
        "--break-lease",
        default=None,
        metavar="ID",
        help="break the environment's EXPIRED lease with this id first (recorded; protected environments need the "
        "command's approvals)",
    )
    from harness.cli.confirm import add_yes_arg

    add_yes_arg(p)
    if reports:
        p.add_argument(
            "--keep-runs",
            type=int,
            default=DEFAULT_KEEP_RUNS,
            metavar="N",
            help=f"keep the newest N run directories under <reports-dir>/runs (default {DEFAULT_KEEP_RUNS}; 0 keeps "
            "all)",
        )


def rehearsal_label(target: Target) -> str | None:
    """``REHEARSAL (moto 5.2.5 (embedded))`` on a disposable target, else None (a report must never pass for
    production)."""
    from harness.report.labels import rehearsal_label as label

    return label(target)


def target_line(target: Target) -> str:
    """``target: <describe> — REHEARSAL (...)``: the first line of every read command (where it looked)."""
    label = rehearsal_label(target)
    return f"target: {target.describe()}" + (f" — {label}" if label else "")


def verdict_line(target: Target, line: str) -> str:
    """The verdict line, prefixed with REHEARSAL on a disposable target."""
    label = rehearsal_label(target)
    return f"{label} {line}" if label else line


def lease_note(target: Target) -> str | None:
    """For a plan-only run (which takes no lease): who holds the environment's lease now, if anyone."""
    import time

    from harness.lease import LeaseSettings, read_lease

    settings = LeaseSettings.of(target.env)
    if settings.table is None:
        return None
    held = read_lease(target.client("dynamodb"), settings.table, target.env)
    return f"note: {held.describe(time.time())}: an apply now would be refused (exit 5)" if held else None


@contextmanager
def held_lease(
    args: argparse.Namespace, target: Target, auth: Authority, *, command: str, scope: str, rule: str, out: TextIO
) -> Iterator[Lease | None]:
    """The environment's operation lease for the block (harness/lease.py); LeaseHeld (exit 5) when another
    operation holds it. ``--break-lease ID`` first breaks an expired lease by id, with ``rule``'s approvals on a
    protected environment, and records the break."""
    from harness.actions.guards import refusal
    from harness.lease import LeaseSettings, break_lease, operation_lease

    if getattr(args, "break_lease", None):
        why = refusal(target, auth, rule=rule) if target.env.protected else None
        if why:
            raise HarnessError(f"--break-lease {args.break_lease} refused: {why}")
        broken = break_lease(
            target.client("dynamodb"),
            target.env,
            LeaseSettings.of(target.env),
            args.break_lease,
            actor=auth.who,
            reason=auth.reason,
        )
        print(f"lease broken (recorded): was {broken.describe(broken.expires)}", file=out)
    timeout = parse_duration(str(getattr(args, "lock_timeout", "0") or "0"))
    with operation_lease(
        target,
        command=command,
        scope=scope,
        actor=auth.who,
        timeout_s=timeout,
        progress=lambda line: print(line, file=out, flush=True),
    ) as lease:
        if lease is not None and timeout:
            print(f"lease {lease.lease_id} taken: planning from the current state", file=out, flush=True)
        yield lease


@dataclass(frozen=True)
class Evidence:
    """Where this run's reports go, created and proven writable before any change (000 §8)."""

    run_dir: Path
    files: dict[str, Path]  # prefix -> path
    label: str | None  # REHEARSAL (...) on a disposable target
    clock_note: str | None  # the times' clock, when it is not wall time

    def write(self, texts: dict[str, str]) -> list[Path]:
        """Write each prefix's markdown to its reserved path, titled and clock-noted; returns the paths."""
        written = []
        for prefix, text in texts.items():
            path = self.files[prefix]
            path.write_text(self.decorate(text), encoding="utf-8")
            written.append(path)
        return written

    def discard_unwritten(self) -> None:
        """Remove reserved files left empty (a refusal, a lease held elsewhere) and the run directory if empty."""
        for path in self.files.values():
            if path.exists() and path.stat().st_size == 0:
                path.unlink()
        if self.run_dir.is_dir() and not any(self.run_dir.iterdir()):
            self.run_dir.rmdir()

    def decorate(self, text: str) -> str:
        """Put the REHEARSAL label in the first heading and the clock note under it."""
        from harness.report.labels import label_report

        return label_report(text, self.label, self.clock_note)


def _clock_note(target: Target) -> str | None:
    from harness.report.labels import clock_note

    return clock_note(target)


@contextmanager
def reserved_evidence(args: argparse.Namespace, target: Target, stem: str, prefixes: list[str]) -> Iterator[Evidence]:
    """:func:`prepare_evidence` for the block; files it left unwritten are removed afterwards."""
    evidence = prepare_evidence(args, target, stem, prefixes)
    try:
        yield evidence
    finally:
        evidence.discard_unwritten()


def prepare_evidence(args: argparse.Namespace, target: Target, stem: str, prefixes: list[str]) -> Evidence:
    """A new run directory under ``<reports-dir>/runs`` with every report file created empty (proven writable),
    older runs pruned by ``--keep-runs``; HarnessError naming the path when it cannot be written."""
    from harness.run_dirs import check_writable, create_run, prune

    root = Path(getattr(args, "reports_dir", "reports"))
    label = rehearsal_label(target)
    from harness.report.labels import file_token

    token = file_token(target)
    run_id = uuid.uuid4().hex[:8]
    try:
        check_writable(root)
        run_dir = create_run(root, target.env.inventory, target.env.name)
        check_writable(run_dir)
        files = {p: run_dir / f"{p}-{stem}{token}-{run_id}.md" for p in prefixes}
        for path in files.values():
            with open(path, "x", encoding="utf-8"):  # exclusive: a run never overwrites another's evidence
                pass
    except OSError as exc:
        where = exc.filename or root
        raise EvidenceRefused(f"reports cannot be written at {where}: {exc.strerror or exc}; nothing changed") from None
    prune(root, int(getattr(args, "keep_runs", DEFAULT_KEEP_RUNS)), current=run_dir)
    return Evidence(run_dir, files, label, _clock_note(target))


class EvidenceRefused(HarnessError):
    """The reports cannot be written: refused before any change (exit 3)."""


@dataclass
class Operation:
    """What a mutating command holds while it plans and applies: reserved reports, the lease, the interrupts."""

    evidence: Evidence | None
    lease: Lease | None
    interrupts: Interrupts

    def lease_lost(self) -> str | None:
        """Why the lease was lost (a batch stops starting work), or None."""
        return self.lease.lost if self.lease else None


@contextmanager
def operation(
    args: argparse.Namespace,
    target: Target,
    auth: Authority,
    *,
    command: str,
    scope: str,
    rule: str,
    out: TextIO,
    reports: tuple[str, list[str]] | None = None,
) -> Iterator[Operation]:
    """The common path of every mutating command's apply, in order: reports reserved (``reports=(stem,
    prefixes)``; EvidenceRefused, exit 3, naming the path), the environment's lease (LeaseHeld, exit 5), then
    SIGINT/SIGTERM as a stop request for the block (``op.interrupts``; a batch checks ``op.interrupts.stopped``).
    Plan inside the block, so a plan made after waiting for the lease sees the state the other operation left.
    """
    from harness.actions.interrupt import Interrupts

    with ExitStack() as stack:
        evidence = stack.enter_context(reserved_evidence(args, target, *reports)) if reports else None
        lease = stack.enter_context(held_lease(args, target, auth, command=command, scope=scope, rule=rule, out=out))
        interrupts = stack.enter_context(Interrupts())
        yield Operation(evidence, lease, interrupts)
