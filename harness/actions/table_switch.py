"""Switch functions to another table: 000 §6.6 option A / 004 "swap tables", done so traffic follows.

000 §6.6 option A runs ``aws lambda update-function-configuration --environment DYNAMODB_TABLE=...``
on each function. That changes ``$LATEST`` only. Traffic reaches these functions through the alias
(``latest-{env}``, 000 §4.2.3), which points to a *published version*, and a published version's
configuration is immutable: after the runbook's command the alias still serves the old variable and
every request still reads the old table. The runbook's switch switches nothing that serves traffic
(the same mistake as seed defect 3, health-checking ``$LATEST`` instead of ``fn:alias``). 004's
"update the application's environment variables" has the same gap.

So the harness, per function (the inventory's ``dynamodb.tables[].functions``):

1. reads the version V the alias serves, V's configuration and ``$LATEST``'s; refuses when ``$LATEST``
   is not V's code and configuration (publishing would release other code — e.g. after an alias
   rollback ``$LATEST`` still holds the bad release), when the alias routes by weight, or when V has
   no such variable (then it does not read its table from it, and switching it changes nothing);
2. checkpoints V with an alias ``<checkpoint_alias_prefix><ts>`` (000 §4.2.4's pattern);
3. sets ``$LATEST``'s variables to V's with the table variable changed, waits (``function_updated_v2``),
   and publishes that as a new version N with V's code (``CodeSha256`` pinned) and V's Description
   (the release label, which 002 matches on) — or reuses an already published version with exactly
   that code and configuration (switching back finds V itself, so no version is published);
4. moves the alias to N and verifies from the configuration: the alias serves N and N's variable
   names the new table.

Before any move, the plan counts the items of the table the functions read now and of the one they
will read; a table that is empty, or more than ``dynamodb.shrink_refusal_percent`` (default 10 %)
smaller, is refused unless ``allow_shrink`` (``--allow-shrink``): a restore taken too early is empty.
The apply first takes an on-demand backup of the table the functions leave (harness.actions.table_backup:
its ARN and the command that restores from it in the result, the record and the report).

On any failure every function already switched goes back to its checkpoint version (and ``$LATEST``
to its previous variables). Switching back is the same action with the original table as target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from harness import aws
from harness.actions.audit_record import audit, new_plan
from harness.actions.base import COMPLETE, FAILED, ActionResult, Change, Plan, execute
from harness.actions.guards import Authority, refusal
from harness.actions.table_backup import TableBackup, backup_name, shrink_refusal, take_backup
from harness.actions.table_serving import (
    SAME_FUNCTION,
    ServedTable,
    read_function,
    reusable,
    served_table,
    table_of,
    tables_served,
)
from harness.data_verify import count_items
from harness.inventory.model import Table
from harness.records import FunctionChange
from harness.targets.base import TargetLike

RULE = "prod-rollback"
CHECKPOINT_STAMP = "%Y%m%d-%H%M%S"  # 000 §4.2.4 TIMESTAMP=$(date +%Y%m%d-%H%M%S)
Progress = Callable[[str], None]
__all__ = [
    "SAME_FUNCTION",
    "Move",
    "ServedTable",
    "TableSwitchSpec",
    "apply_table_switch",
    "plan_table_switch",
    "served_table",
    "switch_table",
    "table_of",
    "tables_served",
]


def _quiet(_: str) -> None:
    """No progress output."""


def _checkpoint_name(target: TargetLike, function: str, taken: set[str]) -> str:
    """``rollback-checkpoint-<ts>`` (000 §4.2.4), with ``-2``, ``-3`` ... when that name exists."""
    stamp = target.clock.now().strftime(CHECKPOINT_STAMP)
    base = f"{target.env.checkpoint_alias_prefix}{stamp}"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


@dataclass(frozen=True)
class Move:
    """One function's switch: what it serves now, the variables wanted, a reusable version, the checkpoint name."""

    served: ServedTable
    wanted: dict[str, str]
    reuse: str | None
    checkpoint: str


@dataclass(frozen=True)
class TableSwitchSpec:
    """What a table-switch plan read and will do: the moves, the tables left (backed up first) and the counts."""

    table: str
    to_table: str
    env_var: str
    moves: tuple[Move, ...]
    counts: dict[str, int]  # table -> item count when planned (the ones left and the one switched to)
    backups: dict[str, str]  # table left -> CreateBackup name


def plan_table_switch(
    target: TargetLike,
    table: str,
    to_table: str,
    *,
    authority: Authority,
    functions: Iterable[str] | None = None,
    allow_shrink: bool = False,
) -> Plan[TableSwitchSpec]:
    """Decide, reading only, how each function's alias moves to a version reading ``to_table``."""
    plan: Plan[TableSwitchSpec] = new_plan(
        "table-switch",
        target,
        authority,
        ("lambda-alias-version", "health-endpoint", "dynamodb-table-active", "dynamodb-reads"),
    )
    try:
        spec = target.env.table(table)
    except KeyError as exc:
        plan.refusal = str(exc.args[0])
        return plan
    names = tuple(functions) if functions is not None else spec.functions
    plan.refusal = _table_refusal(target, authority, spec, names, to_table)
    if plan.refused:
        return plan
    _pitr_note(target, plan, spec, to_table)
    lam = target.client("lambda")
    moves: list[Move] = []
    for fn in names:
        served, state, problem = read_function(lam, target, fn, spec, to_table)
        if problem or served is None or state is None:
            plan.refusal = f"{fn}: {problem}"
            return plan
        if served.table == to_table:
            plan.notes.append(f"{fn}: {served.alias} (version {served.version}) already reads {to_table}")
            continue
        wanted = {**served.variables, spec.env_var: to_table}
        reuse = reusable(lam, served, state.served, wanted)  # the served configuration as read above
        taken = {a["Name"] for a in aws.paginate(lam, "list_aliases", "Aliases", FunctionName=fn)}
        moves.append(Move(served, wanted, reuse, _checkpoint_name(target, fn, taken)))
    left = sorted({m.served.table for m in moves if m.served.table})
    counts = {t: count_items(target.client("dynamodb"), t) for t in (*left, to_table)}
    plan.refusal = _shrink(spec, left, to_table, counts, allow_shrink)
    if plan.refused:
        return plan
    backups = {t: backup_name(t, "switch", plan.planned_at) for t in left}
    plan.spec = TableSwitchSpec(table, to_table, spec.env_var, tuple(moves), counts, backups)
    plan.changes += _backup_changes(plan.spec) + [c for m in moves for c in _move_changes(m, spec.env_var, to_table)]
    if not moves:
        plan.notes.append("every function already reads the target table: no change")
    else:
        plan.notes.append(
            "items now: " + ", ".join(f"{t} {n}" for t, n in counts.items()) + f"; {len(moves)} function(s) switch"
        )
    return plan


def _table_refusal(
    target: TargetLike, authority: Authority, spec: Table, names: tuple[str, ...], to_table: str
) -> str | None:
    """Why no switch to ``to_table`` can be planned (no functions, no permission, table missing or not ACTIVE)."""
    if not names:
        return (
            f"the inventory lists no functions for {spec.name} (dynamodb.tables[].functions): nothing to switch "
            "(000 §6.6)"
        )
    why = refusal(target, authority, rule=RULE)
    if why:
        return why
    described = aws.get_or_none(target.client("dynamodb").describe_table, TableName=to_table)
    if described is None:
        return f"table {to_table} does not exist: nothing to switch to"
    if described["Table"]["TableStatus"] != "ACTIVE":
        return f"table {to_table} is {described['Table']['TableStatus']}, not ACTIVE: not switched to"
    return None


def _pitr_note(target: TargetLike, plan: Plan[TableSwitchSpec], spec: Table, to_table: str) -> None:
    pitr = (
        target.client("dynamodb")
        .describe_continuous_backups(TableName=to_table)["ContinuousBackupsDescription"]
        .get("PointInTimeRecoveryDescription", {})
    )
    if (
        to_table != spec.name
        and pitr.get("PointInTimeRecoveryStatus") != "ENABLED"
        and spec.pitr in ("required", "recommended")
    ):
        plan.notes.append(
            f"{to_table} has PITR {pitr.get('PointInTimeRecoveryStatus', 'DISABLED')} (a restore does not carry it; "
            f"{spec.name} is 'pitr {spec.pitr}', 000 §6.7): re-apply it (restore-table --reapply) before it serves for "
            "long"
        )


def _shrink(spec: Table, left: list[str], to_table: str, counts: dict[str, int], allow: bool) -> str | None:
    """The refusal when ``to_table`` (a restored table, not the inventory's own) holds far fewer items than a table the
    functions leave (unless allowed). Switching back to the inventory table is never refused for its size."""
    if to_table == spec.name:
        return None
    for t in left:
        why = shrink_refusal(spec, counts[t], counts[to_table], to_table, t)
        if why and not allow:
            return (
                f"switch-table {t} -> {to_table}: {why}; nothing changed (pass --allow-shrink to switch anyway; "
                f"{t} is backed up first)"
            )
    return None


def _backup_changes(spec: TableSwitchSpec) -> list[Change]:
    return [
        Change(
            f"dynamodb:{t}",
            "backup",
            None,
            f"{name} ({spec.counts[t]} items)",
            "create",
            "before functions move off it (ARN and restore command printed when taken)",
        )
        for t, name in spec.backups.items()
    ]


def _move_changes(move: Move, env_var: str, to_table: str) -> list[Change]:
    served, fn = move.served, move.served.function
    out = [
        Change(
            f"lambda:{fn}:alias/{move.checkpoint}",
            "FunctionVersion",
            None,
            served.version,
            "create",
            "checkpoint of the served version (000 §4.2.4)",
        )
    ]
    if served.latest_variables.get(env_var) != to_table:
        out.append(
            Change(
                f"lambda:{fn}:$LATEST",
                f"Environment.{env_var}",
                served.latest_variables.get(env_var),
                to_table,
                "update",
                "000 §6.6 option A (alone it changes no served version)",
            )
        )
    if move.reuse is None:
        out.append(
            Change(
                f"lambda:{fn}",
                "version",
                None,
                f"new version: code of {served.version}, {env_var}={to_table}",
                "create",
                "a published version's configuration is immutable",
            )
        )
    out.append(
        Change(
            f"lambda:{fn}:alias/{served.alias}",
            "FunctionVersion",
            served.version,
            move.reuse or "the new version",
            "update",
            f"traffic reads {to_table}",
        )
    )
    return out


def _spec(plan: Plan[TableSwitchSpec]) -> TableSwitchSpec:
    if plan.spec is None:
        raise ValueError(f"{plan.action} plan has no spec (refused plans are never applied)")
    return plan.spec


def apply_table_switch(target: TargetLike, plan: Plan[TableSwitchSpec], *, progress: Progress = _quiet) -> ActionResult:
    """Back up the tables left, checkpoint, publish (or reuse) and move each alias; verify from the configuration;
    undo all on failure."""
    spec = _spec(plan)
    var, to_table = spec.env_var, spec.to_table
    result = ActionResult(plan, COMPLETE)
    changes = {m.served.function: FunctionChange(m.served.version, m.reuse) for m in spec.moves}
    done: list[Move] = []
    moved: dict[str, str] = {}
    extra = {"table": spec.table, "to_table": to_table, "env_var": var}
    with audit(target, plan, resource=None, functions=changes, extra=extra) as trail:
        backups = [take_backup(target, t, name, spec.counts[t], progress=progress) for t, name in spec.backups.items()]
        for b in backups:
            result.log(target.clock.now(), b.line())
        if backups:
            trail.update(extra={**trail.record.extra, **_backup_record(backups)})
        result.evidence["backups"] = [b.record() for b in backups]
        try:
            for move in spec.moves:
                done.append(move)
                moved[move.served.function] = _switch_one(target, move, var, to_table, result)
                changes[move.served.function] = FunctionChange(
                    move.served.version, moved[move.served.function], COMPLETE, moved[move.served.function]
                )
        except BaseException:
            for move in done:
                fn = move.served.function
                changes[fn] = FunctionChange(move.served.version, moved.get(fn), FAILED, move.served.version)
            trail.update(functions=dict(changes))
            _undo(target, done, result)
            raise
        trail.update(functions=dict(changes))
    for c in plan.changes:
        result.changed(target.clock.now(), c)
    result.record = trail.record
    result.message = (
        f"{len(spec.moves)} function(s) now read {to_table} through {target.env.alias}" if spec.moves else "no change"
    ) + "".join(f"; {b.line()}" for b in backups)
    result.evidence["functions"] = {
        m.served.function: {"from": m.served.version, "to": moved.get(m.served.function)} for m in spec.moves
    }
    return result


def _backup_record(backups: list[TableBackup]) -> dict[str, str]:
    """One backup: its fields; several: each field joined with ``; `` (the record's extra is flat text)."""
    keys = backups[0].record().keys()
    return {k: "; ".join(b.record()[k] for b in backups) for k in keys}


def _switch_one(target: TargetLike, move: Move, var: str, to_table: str, result: ActionResult) -> str:
    """Checkpoint alias, publish or reuse, move the alias, verify; the version now served."""
    lam = target.client("lambda")
    fn, served = move.served.function, move.served
    lam.create_alias(
        FunctionName=fn,
        Name=move.checkpoint,
        FunctionVersion=served.version,
        Description=f"checkpoint before table switch to {to_table} (000 §4.2.4, §6.6)",
    )
    version = _publish_or_reuse(target, move)
    lam.update_alias(FunctionName=fn, Name=served.alias, FunctionVersion=version)
    _verify(target, fn, served.alias, version, var, to_table)
    result.log(
        target.clock.now(),
        f"{fn}: {served.alias} {served.version} -> {version}, {var}={to_table} (verified from the configuration)",
    )
    return version


def _publish_or_reuse(target: TargetLike, move: Move) -> str:
    lam = target.client("lambda")
    served = move.served
    fn = served.function
    if served.latest_variables != move.wanted:
        lam.update_function_configuration(FunctionName=fn, Environment={"Variables": move.wanted})
        aws.wait(lam, "function_updated_v2", aws.waiter_config_of(target), FunctionName=fn)
    if move.reuse:
        return str(move.reuse)
    published = lam.publish_version(FunctionName=fn, CodeSha256=served.code_sha, Description=served.description)
    aws.wait(
        lam, "published_version_active", aws.waiter_config_of(target), FunctionName=fn, Qualifier=published["Version"]
    )
    return str(published["Version"])


def _verify(target: TargetLike, fn: str, alias: str, version: str, var: str, to_table: str) -> None:
    lam = target.client("lambda")
    now_serving = lam.get_alias(FunctionName=fn, Name=alias)["FunctionVersion"]
    value = (
        (lam.get_function_configuration(FunctionName=fn, Qualifier=version).get("Environment") or {}).get("Variables")
        or {}
    ).get(var)
    if now_serving != version or value != to_table:
        raise RuntimeError(
            f"{fn}: after the switch {alias} serves {now_serving} with {var}={value}, expected {version} with "
            f"{to_table}"
        )


def _undo(target: TargetLike, done: list[Move], result: ActionResult) -> None:
    """Every function touched goes back to its checkpoint version and previous ``$LATEST`` variables."""
    lam = target.client("lambda")
    for move in reversed(done):
        served = move.served
        fn = served.function
        lam.update_alias(FunctionName=fn, Name=served.alias, FunctionVersion=served.version)
        lam.update_function_configuration(FunctionName=fn, Environment={"Variables": served.latest_variables})
        aws.wait(lam, "function_updated_v2", aws.waiter_config_of(target), FunctionName=fn)
        result.log(target.clock.now(), f"undone: {fn} {served.alias} back on checkpoint version {served.version}")


def switch_table(
    target: TargetLike,
    table: str,
    to_table: str,
    *,
    authority: Authority,
    functions: Iterable[str] | None = None,
    allow_shrink: bool = False,
    dry_run: bool = False,
    progress: Progress = _quiet,
) -> ActionResult:
    """Plan and (unless refused or a dry run) switch the table's functions to ``to_table``."""
    return execute(
        lambda: plan_table_switch(
            target, table, to_table, authority=authority, functions=functions, allow_shrink=allow_shrink
        ),
        lambda p: apply_table_switch(target, p, progress=progress),
        dry_run=dry_run,
    )
