"""Cleanup of restored tables (000 §6.6 option B step 3 "Delete old and restored tables", done safely):
only a table a restore created, never an inventory table, never one a function's alias still reads.

The plan names the table's exact item count now (a Select=COUNT scan) and every function version a
table switch published to read it (deleted with it: left, it would serve a dropped table if promoted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from harness import aws
from harness.actions.audit_record import audit, new_plan
from harness.actions.base import COMPLETE, ActionResult, Change, Plan, execute
from harness.actions.guards import Authority, refusal
from harness.actions.table_switch import tables_served
from harness.data_verify import count_items
from harness.poll import PollFailed, PollTimeout, Waiting, poll
from harness.targets.base import TargetLike

RULE = "prod-rollback"
DELETE_POLL_S = 5.0
DELETE_TIMEOUT_S = 30 * 60.0
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    """No progress output."""


@dataclass(frozen=True)
class Leftover:
    """A function version a table switch published to read the table, and the checkpoint aliases on it."""

    function: str
    version: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class DropTableSpec:
    """What a drop-table plan read: the table, its item count and where it was restored from, the leftovers."""

    name: str
    items: int
    restored_from: str
    leftovers: tuple[Leftover, ...]


def plan_drop_table(target: TargetLike, name: str, *, authority: Authority) -> Plan[DropTableSpec]:
    """Decide, reading only, whether ``name`` may be deleted: only a table a restore created, and no alias reads it."""
    plan: Plan[DropTableSpec] = new_plan("table-cleanup", target, authority, ("dynamodb-table-active",))
    plan.refusal = _refusal(target, authority, name)
    if plan.refused:
        return plan
    table = target.client("dynamodb").describe_table(TableName=name)["Table"]
    leftovers, blocked = switch_leftovers(target, name)
    if blocked:
        plan.refusal = f"{name}: {blocked}"
        return plan
    summary = table.get("RestoreSummary") or {}
    origin = str(summary.get("SourceTableArn") or summary.get("SourceBackupArn") or "?").split("/")[-1]
    plan.spec = DropTableSpec(name, count_items(target.client("dynamodb"), name), origin, tuple(leftovers))
    for left in leftovers:
        for alias in left.aliases:
            plan.changes.append(
                Change(
                    f"lambda:{left.function}:alias/{alias}",
                    "FunctionVersion",
                    left.version,
                    None,
                    "delete",
                    "checkpoint of a switch to this table",
                )
            )
        plan.changes.append(
            Change(
                f"lambda:{left.function}:{left.version}",
                "version",
                f"reads {name}",
                None,
                "delete",
                "published by a table switch; left, it would serve a dropped table if promoted",
            )
        )
    plan.changes.append(
        Change(
            f"dynamodb:{name}",
            "table",
            f"{plan.spec.items} items, restored from {origin}",
            None,
            "delete",
            "cleanup of a restored table",
        )
    )
    return plan


def _refusal(target: TargetLike, authority: Authority, name: str) -> str | None:
    """Why ``name`` may not be dropped (inventory table, no permission, missing, not restored, protected, read)."""
    env = target.env
    protected = {t.name for t in env.tables} | (
        {env.terraform.lock_table} if env.terraform and env.terraform.lock_table else set()
    )
    if name in protected:
        return f"{name} is an inventory table: the harness never deletes one"
    why = refusal(target, authority, rule=RULE)
    if why:
        return why
    desc = aws.get_or_none(target.client("dynamodb").describe_table, TableName=name)
    if desc is None:
        return f"table {name} does not exist: nothing to drop"
    summary = desc["Table"].get("RestoreSummary") or {}
    if not summary.get("SourceTableArn") and not summary.get("SourceBackupArn"):
        return f"{name} was not created by a restore (no RestoreSummary): the harness deletes only restored tables"
    if desc["Table"].get("DeletionProtectionEnabled"):
        return f"{name} has deletion protection enabled: not dropped"
    readers = sorted(fn for fn, t in tables_served(target).items() if t == name)
    if readers:
        return f"{name} is still read by {', '.join(readers)} (alias {env.alias}): switch back first"
    return None


def switch_leftovers(target: TargetLike, name: str) -> tuple[list[Leftover], str | None]:
    """Published versions whose table variable names ``name`` (a switch made them) and the checkpoint aliases on them.

    Returns the leftovers, or a reason when such a version is held by another alias (the harness never
    deletes what it did not make).
    """
    lam = target.client("lambda")
    prefix = target.env.checkpoint_alias_prefix
    out: list[Leftover] = []
    for spec in target.env.tables:
        for fn in spec.functions:
            aliases = list(aws.paginate(lam, "list_aliases", "Aliases", FunctionName=fn))
            for v in aws.paginate(lam, "list_versions_by_function", "Versions", FunctionName=fn):
                variables = (v.get("Environment") or {}).get("Variables") or {}
                if v["Version"] == "$LATEST" or variables.get(spec.env_var) != name:
                    continue
                on_it = [a["Name"] for a in aliases if a["FunctionVersion"] == v["Version"]]
                other = [a for a in on_it if not a.startswith(prefix)]
                if other:
                    return (
                        [],
                        f"{fn} version {v['Version']} reads it and alias {', '.join(other)} points there: not dropped",
                    )
                out.append(Leftover(fn, str(v["Version"]), tuple(on_it)))
    return out, None


def _spec(plan: Plan[DropTableSpec]) -> DropTableSpec:
    if plan.spec is None:
        raise ValueError(f"{plan.action} plan has no spec (refused plans are never applied)")
    return plan.spec


def apply_drop_table(target: TargetLike, plan: Plan[DropTableSpec], *, progress: Progress = _quiet) -> ActionResult:
    """Delete the leftovers, DeleteTable and wait (on the target's clock) until it is gone; audit record."""
    spec = _spec(plan)
    ddb, lam = target.client("dynamodb"), target.client("lambda")
    result = ActionResult(plan, COMPLETE)
    changes = iter(plan.changes)
    with audit(target, plan, resource=f"dynamodb:{spec.name}", extra={"items": spec.items}) as trail:
        for left in spec.leftovers:
            for alias in left.aliases:
                lam.delete_alias(FunctionName=left.function, Name=alias)
                result.changed(target.clock.now(), next(changes))
            lam.delete_function(FunctionName=left.function, Qualifier=left.version)
            result.changed(target.clock.now(), next(changes))
        ddb.delete_table(TableName=spec.name)
        _wait_gone(target, spec.name, progress)
        result.changed(target.clock.now(), next(changes))
    result.record = trail.record
    removed = len(spec.leftovers)
    result.message = f"dropped restored table {spec.name} ({spec.items} items)" + (
        f" and {removed} function version(s) published to read it" if removed else ""
    )
    return result


def wait_table(
    target: TargetLike, name: str, *, what: str, goal: str, timeout_s: float, interval_s: float, progress: Progress
) -> float:
    """Poll DescribeTable on the target's clock until the table's status is ``goal`` (``gone`` once deleted);
    the seconds waited on that clock; PollTimeout/PollFailed carrying the last status seen."""
    ddb = target.client("dynamodb")

    def status() -> str:
        desc = aws.get_or_none(ddb.describe_table, TableName=name)
        return "gone" if desc is None else str(desc["Table"]["TableStatus"])

    waiting: Waiting[str] = Waiting(
        what, state=lambda s: s, done=lambda s: s == goal, timeout_s=timeout_s, interval_s=interval_s
    )
    began = target.clock.now()
    poll(target.clock, status, waiting, progress=progress)
    return (target.clock.now() - began).total_seconds()


def _wait_gone(target: TargetLike, name: str, progress: Progress) -> None:
    try:
        wait_table(
            target,
            name,
            what=f"drop {name}",
            goal="gone",
            timeout_s=DELETE_TIMEOUT_S,
            interval_s=DELETE_POLL_S,
            progress=progress,
        )
    except (PollTimeout, PollFailed) as exc:
        raise RuntimeError(str(exc)) from None


def drop_table(
    target: TargetLike, name: str, *, authority: Authority, dry_run: bool = False, progress: Progress = _quiet
) -> ActionResult:
    """Plan and (unless refused or a dry run) delete a restored table."""
    return execute(
        lambda: plan_drop_table(target, name, authority=authority),
        lambda p: apply_drop_table(target, p, progress=progress),
        dry_run=dry_run,
    )
