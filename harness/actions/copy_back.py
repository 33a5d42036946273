"""Copy a restored table back into the original name: 000 §6.6 option B, with writes frozen.

000 §6.6 option B: "Stop all writes (set Lambda concurrency to 0) ... DynamoDB does not support table
rename - you must: 1. Create new table with original name 2. Copy data from restored table 3. Delete
old and restored tables". Deleting the original table to recreate it would throw away what the
original still carries (its PITR history — the only way back if the copy is wrong —, streams and
their consumers, tags, alarms, IAM policies naming its ARN) and leave a window with no table at all.
The harness reaches the same end state in place:

0. plan: scan both tables to key -> digest and list every put and delete (counts and sample keys in the
   plan); a copy that deletes anything, or from a table that is empty or more than
   ``dynamodb.shrink_refusal_percent`` (default 10 %) smaller, is refused unless ``allow_shrink``
   (``--allow-shrink``): a restore taken too early is empty, and copying it would empty the live table;
1. checkpoint: an on-demand backup of the original (CreateBackup, waited for until AVAILABLE), so the
   copy itself is undoable; its ARN and the command that restores from it are in the result, the
   audit record and the report (harness.actions.table_backup);
2. freeze the writers: reserved concurrency 0 on the table's functions (inventory
   ``dynamodb.tables[].functions``, 000 §6.6 step 1), then wait out their longest timeout so no
   in-flight invocation writes during the copy;
3. reconcile: scan both tables again; when the difference is not exactly the planned one (the live
   table changed since the plan) nothing is copied and the action fails; otherwise put exactly the
   planned items and delete exactly the planned keys, a progress line on stderr every 10 s;
4. verify: the original now equals the restored table (digests, zero differences);
5. unfreeze: each writer's reserved concurrency back to what it was (deleted when there was none) —
   in a ``finally``, so also when the copy fails or is interrupted.

Interrupted (000 §8: the record says what happened): ``should_stop`` (SIGINT/SIGTERM or a lost lease, through
harness/actions/interrupt.py) starts no new batch; the BatchWriteItem in flight finishes, the writers are
unfrozen, and both tables are read back (consistent scans): the result (INTERRUPTED) and the record (FAILED)
count what was put, deleted and not started from that read-back, never from the plan.

The restored table is kept (drop it with the cleanup action once the copy is verified).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from harness import aws
from harness.actions.audit_record import audit, new_plan
from harness.actions.base import COMPLETE, FAILED, ActionResult, Change, Plan, execute
from harness.actions.guards import Authority, refusal
from harness.actions.interrupt import tally
from harness.actions.table_backup import TableBackup, backup_name, shrink_refusal, take_backup
from harness.actions.table_copy import PROGRESS_EVERY_S, Progress, Stop, TableChanged, never, quiet, reconcile
from harness.data_verify import (
    CopyDiff,
    compare,
    copy_diff,
    key_names,
    table_digests,
)
from harness.outcome import Outcome
from harness.targets.base import TargetLike

__all__ = ["TableChanged", "apply_copy_back", "copy_back", "freeze", "plan_copy_back", "reconcile", "unfreeze"]

RULE = "prod-rollback"
FROZEN = 0  # 000 §6.6 "set Lambda concurrency to 0"
DRAIN_SLICE_S = 1.0  # the drain looks for a stop request this often


@dataclass(frozen=True)
class Writer:
    """A function that writes the table: its reserved concurrency before the freeze and its timeout."""

    function: str
    reserved: int | None
    timeout: int


@dataclass(frozen=True)
class CopyBackSpec:
    """What a copy-back plan read and will do: the exact puts and deletes, the writers, the backup name."""

    table: str
    source: str
    diff: CopyDiff
    writers: tuple[Writer, ...]
    backup: str  # the CreateBackup name (its ARN exists only once taken)
    drain_s: int


def plan_copy_back(
    target: TargetLike,
    table: str,
    *,
    source: str,
    authority: Authority,
    functions: Iterable[str] | None = None,
    allow_shrink: bool = False,
) -> Plan[CopyBackSpec]:
    """Decide, reading only, the copy of ``source`` (a restored table) into inventory table ``table``: exact counts."""
    plan: Plan[CopyBackSpec] = new_plan("copy-back", target, authority, ("dynamodb-table-active", "dynamodb-reads"))
    try:
        spec = target.env.table(table)
    except KeyError as exc:
        plan.refusal = str(exc.args[0])
        return plan
    plan.refusal = _precondition(target, authority, table, source)
    if plan.refused:
        return plan
    diff = copy_diff(target.client("dynamodb"), table, source)
    shrink = shrink_refusal(spec, diff.table_count, diff.source_count, source)
    if (shrink or diff.deletes) and not allow_shrink:
        why = shrink or f"{source} lacks {len(diff.deletes)} of {table}'s {diff.table_count} items"
        plan.refusal = (
            f"copy-back {source} -> {table} would delete {len(diff.deletes)} and put {len(diff.puts)} item(s): {why}; "
            "nothing changed (pass --allow-shrink to copy anyway; a backup is taken first)"
        )
        return plan
    writers = tuple(_writer(target, fn) for fn in (tuple(functions) if functions is not None else spec.functions))
    backup = backup_name(table, "copy-back", plan.planned_at)
    plan.spec = CopyBackSpec(table, source, diff, writers, backup, max([w.timeout for w in writers] or [0]))
    plan.changes += _changes(plan.spec)
    if not writers:
        plan.notes.append(
            f"the inventory lists no functions for {table}: nothing is frozen, concurrent writes may race the copy"
        )
    plan.notes.append(
        f"{table} has {diff.table_count} items now, {source} {diff.source_count}: after the copy {table} holds "
        f"{diff.source_count} ({len(diff.puts) - diff.overwrites} added, {diff.overwrites} overwritten, "
        f"{len(diff.deletes)} deleted)"
    )
    plan.notes.append(
        "000 §6.6 option B deletes and recreates the table; the harness copies in place and keeps its PITR history, "
        "streams, tags, alarms and ARN"
    )
    return plan


def _precondition(target: TargetLike, authority: Authority, table: str, source: str) -> str | None:
    """Why the copy cannot be planned at all (same table, no permission, a table missing, key schemas differ)."""
    if source == table:
        return f"source and destination are both {table}"
    why = refusal(target, authority, rule=RULE)
    if why:
        return why
    ddb = target.client("dynamodb")
    for name in (table, source):
        desc = aws.get_or_none(ddb.describe_table, TableName=name)
        if desc is None:
            return f"table {name} does not exist: nothing copied"
        if desc["Table"]["TableStatus"] != "ACTIVE":
            return f"table {name} is {desc['Table']['TableStatus']}: nothing copied"
    if key_names(ddb, table) != key_names(ddb, source):
        return f"key schemas differ: {table} {key_names(ddb, table)} vs {source} {key_names(ddb, source)}"
    return None


def _writer(target: TargetLike, fn: str) -> Writer:
    lam = target.client("lambda")
    conc = lam.get_function_concurrency(FunctionName=fn).get("ReservedConcurrentExecutions")
    timeout = int(lam.get_function_configuration(FunctionName=fn).get("Timeout") or 0)
    return Writer(fn, conc, timeout)


def _changes(spec: CopyBackSpec) -> list[Change]:
    """Backup, freeze, put, delete, unfreeze: the plan's lines, in the apply's order."""
    d, table = spec.diff, spec.table
    out = [
        Change(
            f"dynamodb:{table}",
            "backup",
            None,
            f"{spec.backup} ({d.table_count} items)",
            "create",
            "checkpoint: the copy can be undone from it (ARN and restore command printed when taken)",
        )
    ]
    out += [
        Change(
            f"lambda:{w.function}",
            "ReservedConcurrentExecutions",
            _conc(w.reserved),
            str(FROZEN),
            "update",
            "000 §6.6 option B step 1: stop all writes",
        )
        for w in spec.writers
    ]
    out.append(
        Change(
            f"dynamodb:{table}",
            "items",
            f"{d.table_count} now",
            f"{len(d.puts)} put from {spec.source}" + (f": {d.sample(d.puts)}" if d.puts else ""),
            "write",
            "items missing or different (000 §6.6 option B, in place)",
        )
    )
    out.append(
        Change(
            f"dynamodb:{table}",
            "items",
            f"{d.table_count} now",
            f"{len(d.deletes)} deleted" + (f": {d.sample(d.deletes)}" if d.deletes else ""),
            "delete",
            f"keys {spec.source} does not have",
        )
    )
    out += [
        Change(
            f"lambda:{w.function}",
            "ReservedConcurrentExecutions",
            str(FROZEN),
            _conc(w.reserved),
            "update",
            "000 §6.6 option B step 4: resume writes (also on failure)",
        )
        for w in spec.writers
    ]
    return out


def _conc(value: int | None) -> str:
    return "unreserved" if value is None else str(value)


def _spec(plan: Plan[CopyBackSpec]) -> CopyBackSpec:
    if plan.spec is None:
        raise ValueError(f"{plan.action} plan has no spec (refused plans are never applied)")
    return plan.spec


def apply_copy_back(
    target: TargetLike, plan: Plan[CopyBackSpec], *, progress: Progress = quiet, should_stop: Stop | None = None
) -> ActionResult:
    """Backup, freeze writers, check the diff is the planned one, put/delete exactly that, verify; writers always
    unfrozen; audit record COMPLETE or FAILED naming the backup. Once ``should_stop`` says why, no new batch starts
    and the outcome is INTERRUPTED with the read-back counts (the module docstring)."""
    spec = _spec(plan)
    stop = should_stop or never
    table, source, n_writers = spec.table, spec.source, len(spec.writers)
    result = ActionResult(plan, COMPLETE)
    changes = iter(plan.changes)
    extra = {"writers": ",".join(w.function for w in spec.writers) or None, "backup_name": spec.backup}
    with audit(
        target, plan, resource=f"dynamodb:{table}", from_version=spec.backup, to_version=source, extra=extra
    ) as trail:
        backup = take_backup(target, table, spec.backup, spec.diff.table_count, progress=progress)
        trail.update(extra={**trail.record.extra, **backup.record()})
        result.changed(target.clock.now(), next(changes))
        result.log(target.clock.now(), backup.line())
        result.evidence["backup"] = backup.record()
        cut = _copy(target, spec, result, (changes, plan.changes[len(plan.changes) - n_writers :]), progress, stop)
        if cut:
            _read_back(target, spec, result, trail, cut)
        else:
            trail.update(extra={**trail.record.extra, **result.evidence["copied"]})
    if not cut:
        result.message = (
            f"{table} now holds the items of {source} ({result.evidence['copied']['items_put']} put, "
            f"{result.evidence['copied']['items_deleted']} deleted); writers unfrozen; "
        )
    result.message += _way_back(backup)
    result.record = trail.record
    return result


def _copy(
    target: TargetLike,
    spec: CopyBackSpec,
    result: ActionResult,
    lines: tuple[Any, list[Change]],
    progress: Progress,
    stop: Stop,
) -> str | None:
    """Freeze, drain, reconcile, verify, unfreeze (always); why the copy was cut short by a stop request, or None.
    ``lines``: the plan's change lines still to record, and its unfreeze lines."""
    changes, resumes = lines
    frozen = False
    try:
        if stop() is None:
            frozen = True  # before the first call: a freeze that fails halfway is still undone
            freeze(target, spec.writers, result, changes)
            _drain(target, spec.drain_s, result, progress, stop)
        if stop() is not None:
            return stop()
        written, deleted = reconcile(target, spec.diff, progress=progress, should_stop=stop)
        result.evidence["copied"] = {"items_put": written, "items_deleted": deleted}
        result.log(
            target.clock.now(), f"copied {spec.source} into {spec.table}: {written} item(s) put, {deleted} deleted"
        )
        if (written, deleted) != (len(spec.diff.puts), len(spec.diff.deletes)):
            return stop() or "stopped"
        result.changed(target.clock.now(), next(changes))
        result.changed(target.clock.now(), next(changes))
        _verify(target, spec.table, spec.source, result)
        return None
    finally:
        if frozen:
            unfreeze(target, spec.writers, result)
            for c in resumes:  # recorded only once every writer is unfrozen (unfreeze raises otherwise)
                result.changed(target.clock.now(), c)


def _read_back(target: TargetLike, spec: CopyBackSpec, result: ActionResult, trail: Any, why: str) -> None:
    """After a stop: both tables scanned again (consistent reads); what was put, deleted and not started, by key,
    into the result and the record (FAILED), never what the plan said."""
    ddb = target.client("dynamodb")
    names = key_names(ddb, spec.table)
    live = table_digests(ddb, spec.table, consistent=True, names=names).items
    wanted = table_digests(ddb, spec.source, consistent=True, names=names).items
    d = spec.diff
    put = sum(1 for k in d.puts if k in wanted and live.get(k) == wanted[k])
    deleted = sum(1 for k in d.deletes if k not in live)
    waiting = len(d.puts) - put + len(d.deletes) - deleted
    result.outcome = Outcome.INTERRUPTED
    result.message = tally(why, [(put, len(d.puts), "put"), (deleted, len(d.deletes), "deleted")], waiting) + "; "
    counts = {"items_put": put, "items_deleted": deleted, "items_not_started": waiting}
    result.evidence["copied"] = counts
    result.log(target.clock.now(), f"read back {spec.table} after {why}: {result.message.rstrip('; ')}")
    trail.update(extra={**trail.record.extra, **counts, "interrupted": why, "summary": result.message.rstrip("; ")})
    trail.finish(FAILED)


def _drain(target: TargetLike, seconds: int, result: ActionResult, progress: Progress, stop: Stop = never) -> None:
    """Wait out the frozen writers' longest timeout on the target's clock, a progress line every 10 s; a stop
    request ends the wait within a second (nothing is copied after it)."""
    if not seconds:
        return
    result.log(target.clock.now(), f"waiting {seconds} s (the writers' longest timeout) for in-flight writes")
    left, said = float(seconds), float(seconds) + PROGRESS_EVERY_S
    while left > 0 and stop() is None:
        if said - left >= PROGRESS_EVERY_S:
            progress(f"copy-back: waiting for in-flight writes of the frozen writers, {left:.0f} s left")
            said = left
        step = min(DRAIN_SLICE_S, left)
        target.clock.sleep(step)
        left -= step


def _way_back(backup: TableBackup) -> str:
    return f"checkpoint {backup.line()}"


def _verify(target: TargetLike, table: str, source: str, result: ActionResult) -> None:
    ddb = target.client("dynamodb")
    check = compare(table_digests(ddb, source), table_digests(ddb, table))
    result.evidence["verification"] = check.to_dict()
    if not check.equal:
        raise RuntimeError(f"after the copy {check.line()}")
    result.log(target.clock.now(), f"verified: {check.line()}")


def freeze(target: TargetLike, writers: Iterable[Writer], result: ActionResult, changes: Any) -> None:
    """Reserved concurrency 0 on each writer (000 §6.6 option B step 1)."""
    lam = target.client("lambda")
    for w in writers:
        lam.put_function_concurrency(FunctionName=w.function, ReservedConcurrentExecutions=FROZEN)
        result.changed(target.clock.now(), next(changes))
        result.log(target.clock.now(), f"froze {w.function} (reserved concurrency {FROZEN}, was {_conc(w.reserved)})")


def unfreeze(target: TargetLike, writers: Iterable[Writer], result: ActionResult) -> None:
    """Each writer's reserved concurrency back as it was; tries every writer, then raises the first error."""
    lam = target.client("lambda")
    errors: list[BaseException] = []
    for w in writers:
        try:
            if w.reserved is None:
                lam.delete_function_concurrency(FunctionName=w.function)
            else:
                lam.put_function_concurrency(FunctionName=w.function, ReservedConcurrentExecutions=w.reserved)
            result.log(target.clock.now(), f"unfroze {w.function} (reserved concurrency {_conc(w.reserved)})")
        except Exception as exc:  # noqa: BLE001 (the others must still be unfrozen)
            errors.append(exc)
            result.log(target.clock.now(), f"could NOT unfreeze {w.function}: {exc}")
    if errors:
        raise errors[0]


def copy_back(
    target: TargetLike,
    table: str,
    *,
    source: str,
    authority: Authority,
    functions: Iterable[str] | None = None,
    allow_shrink: bool = False,
    dry_run: bool = False,
    progress: Progress = quiet,
) -> ActionResult:
    """Plan and (unless refused or a dry run) copy ``source`` back into ``table``."""
    return execute(
        lambda: plan_copy_back(
            target, table, source=source, authority=authority, functions=functions, allow_shrink=allow_shrink
        ),
        lambda p: apply_copy_back(target, p, progress=progress),
        dry_run=dry_run,
    )
