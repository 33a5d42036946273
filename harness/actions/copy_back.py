"""Copy a restored table back into the original name: 000 §6.6 option B, with writes frozen.

000 §6.6 option B: "Stop all writes (set Lambda concurrency to 0) ... DynamoDB does not support table
rename - you must: 1. Create new table with original name 2. Copy data from restored table 3. Delete
old and restored tables". Deleting the original table to recreate it would throw away what the
original still carries (its PITR history — the only way back if the copy is wrong —, streams and
their consumers, tags, alarms, IAM policies naming its ARN) and leave a window with no table at all.
The harness reaches the same end state in place:

1. checkpoint: an on-demand backup of the original (CreateBackup), so the copy itself is undoable;
2. freeze the writers: reserved concurrency 0 on the table's functions (inventory
   ``dynamodb.tables[].functions``, 000 §6.6 step 1), then wait out their longest timeout so no
   in-flight invocation writes during the copy;
3. reconcile: scan both tables to key -> digest (harness.data_verify), put every item of the restored
   table whose digest differs or is missing, delete every key the restored table does not have;
4. verify: the original now equals the restored table (digests, zero differences);
5. unfreeze: each writer's reserved concurrency back to what it was (deleted when there was none) —
   in a ``finally``, so also when the copy fails or is interrupted.

The restored table is kept (drop it with the cleanup action once the copy is verified).
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from harness import aws
from harness.actions.audit_record import audit, new_plan
from harness.actions.base import COMPLETE, ActionResult, Change, Plan, execute
from harness.actions.guards import Authority, refusal
from harness.data_verify import DEFAULT_SEGMENTS, compare, item_digest, key_names, key_text, table_digests, typed_key
from harness.targets.base import TargetLike

RULE = "prod-rollback"
BACKUP_STAMP = "%Y%m%d-%H%M%S"
FROZEN = 0  # 000 §6.6 "set Lambda concurrency to 0"


def plan_copy_back(
    target: TargetLike, table: str, *, source: str, authority: Authority, functions: Iterable[str] | None = None
) -> Plan:
    """Decide, reading only, the copy of ``source`` (a restored table) into inventory table ``table``."""
    env = target.env
    plan = new_plan("copy-back", target, authority, ("dynamodb-table-active", "dynamodb-reads"))
    now = plan.planned_at
    try:
        spec = env.table(table)
    except KeyError as exc:
        plan.refusal = str(exc.args[0])
        return plan
    if source == table:
        plan.refusal = f"source and destination are both {table}"
        return plan
    why = refusal(target, authority, rule=RULE)
    if why:
        plan.refusal = why
        return plan
    ddb, lam = target.client("dynamodb"), target.client("lambda")
    for name in (table, source):
        desc = aws.get_or_none(ddb.describe_table, TableName=name)
        if desc is None or desc["Table"]["TableStatus"] != "ACTIVE":
            plan.refusal = (
                f"table {name} is {'missing' if desc is None else desc['Table']['TableStatus']}: nothing copied"
            )
            return plan
    if key_names(ddb, table) != key_names(ddb, source):
        plan.refusal = f"key schemas differ: {table} {key_names(ddb, table)} vs {source} {key_names(ddb, source)}"
        return plan
    writers = tuple(functions) if functions is not None else spec.functions
    freeze: list[dict[str, Any]] = []
    for fn in writers:
        conc = lam.get_function_concurrency(FunctionName=fn).get("ReservedConcurrentExecutions")
        timeout = int(lam.get_function_configuration(FunctionName=fn).get("Timeout") or 0)
        freeze.append({"function": fn, "reserved": conc, "timeout": timeout})
    backup = f"{table}-before-copy-back-{now.strftime(BACKUP_STAMP)}"
    plan.changes.append(
        Change(f"dynamodb:{table}", "backup", None, backup, "create", "checkpoint: the copy can be undone from it")
    )
    for f in freeze:
        plan.changes.append(
            Change(
                f"lambda:{f['function']}",
                "ReservedConcurrentExecutions",
                _conc(f["reserved"]),
                str(FROZEN),
                "update",
                "000 §6.6 option B step 1: stop all writes",
            )
        )
    plan.changes.append(
        Change(
            f"dynamodb:{table}",
            "items",
            "current items",
            f"the items of {source}",
            "write",
            "put what differs, delete what the restored table lacks (000 §6.6 option B, in place)",
        )
    )
    for f in freeze:
        plan.changes.append(
            Change(
                f"lambda:{f['function']}",
                "ReservedConcurrentExecutions",
                str(FROZEN),
                _conc(f["reserved"]),
                "update",
                "000 §6.6 option B step 4: resume writes (also on failure)",
            )
        )
    if not writers:
        plan.notes.append(
            f"the inventory lists no functions for {table}: nothing is frozen, concurrent writes may race the copy"
        )
    plan.notes.append(
        "000 §6.6 option B deletes and recreates the table; the harness copies in place and keeps its PITR history, "
        "streams, tags, alarms and ARN"
    )
    plan.details.update(
        table=table, source=source, freeze=freeze, backup=backup, drain_s=max([f["timeout"] for f in freeze] or [0])
    )
    return plan


def _conc(value: int | None) -> str:
    return "unreserved" if value is None else str(value)


def apply_copy_back(target: TargetLike, plan: Plan) -> ActionResult:
    """Checkpoint, freeze writers, reconcile, verify; writers always unfrozen; audit record COMPLETE or FAILED."""
    d = plan.details
    table, source = d["table"], d["source"]
    ddb = target.client("dynamodb")
    result = ActionResult(plan, COMPLETE)
    changes = iter(plan.changes)
    with audit(
        target,
        plan,
        resource=f"dynamodb:{table}",
        from_version=d["backup"],
        to_version=source,
        extra={"writers": ",".join(f["function"] for f in d["freeze"]) or None},
    ) as trail:
        ddb.create_backup(TableName=table, BackupName=d["backup"])
        result.changed(target.clock.now(), next(changes))
        try:
            freeze(target, d["freeze"], result, changes)
            if d["drain_s"]:
                result.log(
                    target.clock.now(), f"waiting {d['drain_s']} s (the writers' longest timeout) for in-flight writes"
                )
                target.clock.sleep(d["drain_s"])
            written, deleted = reconcile(target, table, source)
            result.changed(target.clock.now(), next(changes))
            result.log(target.clock.now(), f"copied {source} into {table}: {written} item(s) put, {deleted} deleted")
            check = compare(table_digests(ddb, source), table_digests(ddb, table))
            result.evidence["verification"] = check.to_dict()
            if not check.equal:
                raise RuntimeError(f"after the copy {check.line()}")
            result.log(target.clock.now(), f"verified: {check.line()}")
        finally:
            unfreeze(target, d["freeze"], result)
        trail.update(extra={**trail.record.extra, "items_put": written, "items_deleted": deleted})
    for c in plan.changes[len(plan.changes) - len(d["freeze"]) :]:
        result.changed(target.clock.now(), c)
    result.record = trail.record
    result.message = (
        f"{table} now holds the items of {source} ({written} put, {deleted} deleted); writers "
        f"unfrozen; checkpoint backup {d['backup']}"
    )
    return result


def freeze(target: TargetLike, writers: list[dict[str, Any]], result: ActionResult, changes: Iterator[Change]) -> None:
    """Reserved concurrency 0 on each writer (000 §6.6 option B step 1)."""
    lam = target.client("lambda")
    for f in writers:
        lam.put_function_concurrency(FunctionName=f["function"], ReservedConcurrentExecutions=FROZEN)
        result.changed(target.clock.now(), next(changes))
        result.log(
            target.clock.now(), f"froze {f['function']} (reserved concurrency {FROZEN}, was {_conc(f['reserved'])})"
        )


def unfreeze(target: TargetLike, writers: list[dict[str, Any]], result: ActionResult) -> None:
    """Each writer's reserved concurrency back as it was; tries every writer, then raises the first error."""
    lam = target.client("lambda")
    errors: list[BaseException] = []
    for f in writers:
        try:
            if f["reserved"] is None:
                lam.delete_function_concurrency(FunctionName=f["function"])
            else:
                lam.put_function_concurrency(FunctionName=f["function"], ReservedConcurrentExecutions=f["reserved"])
            result.log(target.clock.now(), f"unfroze {f['function']} (reserved concurrency {_conc(f['reserved'])})")
        except Exception as exc:  # noqa: BLE001 (the others must still be unfrozen)
            errors.append(exc)
            result.log(target.clock.now(), f"could NOT unfreeze {f['function']}: {exc}")
    if errors:
        raise errors[0]


def reconcile(target: TargetLike, table: str, source: str, *, segments: int = DEFAULT_SEGMENTS) -> tuple[int, int]:
    """Make ``table`` hold exactly ``source``'s items: put what differs, delete extra keys; (put, deleted)."""
    ddb = target.client("dynamodb")
    names = key_names(ddb, table)
    current = table_digests(ddb, table, segments=segments, names=names).items
    seen: set[str] = set()
    pending: list[dict[str, Any]] = []
    written = 0
    for item in aws.scan_items(ddb, source):
        k = key_text(item, names)
        seen.add(k)
        if current.get(k) != item_digest(item):
            pending.append(item)
        if len(pending) == aws.BATCH_WRITE:  # written as the scan goes: memory stays one batch
            written += aws.batch_write(ddb, table, puts=pending)
            pending = []
    written += aws.batch_write(ddb, table, puts=pending)
    deleted = aws.batch_write(ddb, table, deletes=[typed_key(k) for k in current if k not in seen])
    return written, deleted


def copy_back(
    target: TargetLike,
    table: str,
    *,
    source: str,
    authority: Authority,
    functions: Iterable[str] | None = None,
    dry_run: bool = False,
) -> ActionResult:
    """Plan and (unless refused or a dry run) copy ``source`` back into ``table``."""
    return execute(
        lambda: plan_copy_back(target, table, source=source, authority=authority, functions=functions),
        lambda p: apply_copy_back(target, p),
        dry_run=dry_run,
    )
