"""Data corruption -> PITR restore, verified against the snapshot taken before the fault, and a switch (000 §6; 004).

On the first table whose PITR is required (000 §6.7), preferring one the inventory's functions read:

1. setup: the drill writes its own uniquely keyed items (the fault never touches an application item) and
   snapshots the whole table (key -> digest, harness/data_verify.py), kept as a file in the run's reports;
2. steady state: the table's rows (``dynamodb-pitr``, ``dynamodb-reads``, ``dynamodb-table-active``), its
   functions' rows, and ``data-integrity``: the table equals the snapshot;
3. fault: a bulk update and a bulk delete of drill items (harness/faults/data.py), just after a restore point;
4. detection: ``data-integrity`` must go red. (``dynamodb-reads`` stays green: no 000 §7.4 row sees corrupted
   data; the report shows it beside the integrity row);
5. recovery: wait until the restore point is restorable (``LatestRestorableDateTime`` trails by about 5 minutes:
   the rehearsal clock moves, AWS really waits), restore into a new table (000 §6.4, settings re-applied),
   compare it with the snapshot (000 §6.5), then switch the table's functions to it (000 §6.6 option A, done
   so the alias follows: harness/actions/table_switch.py);
6. verification: the functions' aliases on the switch's versions and healthy, the table they now read equal to
   the snapshot;
7. cleanup: switch back, the corruption undone from its before-images, the restored table dropped (with the
   versions the switch published), the drill's items deleted.

RTO kind: "Database schema issue | Restore from PITR | < 60 min" (002).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from harness.actions.base import COMPLETE
from harness.actions.guards import Authority
from harness.actions.pitr import drop_table, restore_table, wait_restorable
from harness.actions.table_switch import switch_table, tables_served
from harness.data_verify import compare, table_digests, write_snapshot
from harness.drills.model import (
    DETECTION,
    SETTLE,
    STEADY,
    VERIFICATION,
    Check,
    Detection,
    DrillSkipped,
    Probe,
    Recovery,
    Row,
    row,
)
from harness.drills.rows import (
    INTEGRITY,
    STATE_ROWS,
    TABLE_ROWS,
    WINDOW_ROWS,
    function_resource,
    integrity_row,
    snapshot_path,
)
from harness.drills.runner import DrillRun, DrillSpec
from harness.drills.traffic import every_function, healthy_traffic
from harness.faults.data import corrupt_items, delete_keys, write_items
from harness.faults.deployment import RECORD_GAP_S
from harness.inventory.model import Table
from harness.targets.base import TargetLike

NAME = "data-corruption-pitr"
DEFAULT_ITEMS = 200  # harness setting: the drill's own items (benchmarks/bench_gameday.py runs 10,000)
UPDATE_SHARE, DELETE_SHARE = 10, 20  # 1 in 10 items overwritten, 1 in 20 deleted: a bulk corruption, most items intact
ITEM_PREFIX = "harness-gameday"
RESTORE_POINT_MARGIN_S = 1.0
SEVERITY = "P1 (000 §2.3 data integrity; 001 §6.1 Critical)"


def drill_table(target: TargetLike) -> Table:
    """The first table whose PITR is required and that holds data, preferring one the inventory's functions read."""
    env = target.env
    required = [t for t in env.tables if t.pitr == "required" and t.purpose == "data"]
    if not required:
        raise DrillSkipped(f"{env.inventory}/{env.name} has no data table with PITR required (000 §6.7)")
    return next((t for t in required if t.functions), required[0])


def _value(kind: str, text: str, n: int) -> dict[str, Any]:
    return {"S": {"S": text}, "N": {"N": str(n)}, "B": {"B": text.encode()}}[kind]


def drill_keys(table: Table, run: str, count: int) -> list[dict[str, Any]]:
    """``count`` unique keys in the table's key schema (hash ``harness-gameday-<run>-<n>``)."""
    base = int(run, 16) % 10**9 * 100_000
    keys = []
    for i in range(count):
        key = {table.hash_key.name: _value(table.hash_key.type, f"{ITEM_PREFIX}-{run}-{i:06d}", base + i)}
        if table.range_key:
            key[table.range_key.name] = _value(table.range_key.type, ITEM_PREFIX, 0)
        keys.append(key)
    return keys


def data_corruption_drill(
    target: TargetLike,
    authority: Authority,
    probe: Probe,
    *,
    items: int = DEFAULT_ITEMS,
    snapshot_dir: Path | None = None,
) -> DrillSpec:
    """The drill spec (skips where the inventory has no such table or the target cannot restore PITR)."""
    env = target.env
    table = drill_table(target)
    if not target.supports("pitr-restore"):
        raise DrillSkipped(target.unsupported_reason("pitr-restore") or "pitr-restore not rehearsable")
    functions = list(table.functions)
    fn_resources = tuple(dict.fromkeys(function_resource(env, fn) for fn in functions))
    run_id = uuid.uuid4().hex[:8]
    keys = drill_keys(table, run_id, items)
    update, delete = max(1, items // UPDATE_SHARE), max(1, items // DELETE_SHARE)
    ddb = target.client("dynamodb")

    def setup(run: DrillRun) -> None:
        write_items(
            target,
            table.name,
            [{**{k: v for k, v in _plain(key).items()}, "status": "GOOD", "drill": run_id} for key in keys],
        )
        snapshot = table_digests(ddb, table.name, taken_at=target.clock.now())
        path = snapshot_path(snapshot_dir, table.name, f"{NAME}-{run_id}")
        if path is not None:
            write_snapshot(snapshot, path)
            snapshot.source = f"snapshot:{path}"
        run.data["snapshot"] = snapshot
        run.log(
            f"setup: {items} drill items written to {table.name}; snapshot of {len(snapshot)} items"
            + (f" ({path.name})" if path else "")
        )

    def steady(run: DrillRun) -> list[Row]:
        rows = probe(Check(TABLE_ROWS, (table.name,)), STEADY)
        rows += probe(Check(STATE_ROWS, fn_resources), STEADY) if functions else []
        snapshot = run.data["snapshot"]
        # The snapshot was taken from this table a moment ago: it *is* the steady state (no second full scan).
        return rows + [
            row(
                INTEGRITY,
                table.name,
                f"{table.name} as snapshotted before the fault",
                f"snapshot of {len(snapshot)} items taken "
                f"at {snapshot.taken_at.isoformat(timespec='seconds') if snapshot.taken_at else '?'}: the baseline",
                True,
                "000 §6.5",
            )
        ]

    def inject(run: DrillRun):  # type: ignore[no-untyped-def]
        # RestoreDateTime may travel in whole seconds: the drill's writes end a second before the restore point
        # and the fault starts a second after it, so the restore holds every drill item and no corruption.
        target.clock.sleep(RESTORE_POINT_MARGIN_S)
        run.data["restore_point"] = target.clock.now()
        target.clock.sleep(RESTORE_POINT_MARGIN_S)
        return corrupt_items(target, table.name, keys, authority, update=update, delete=delete)

    def detect(run: DrillRun) -> Detection:
        return Detection(
            [integrity_row(target, table.name, run.data["snapshot"])]
            + probe(Check(("dynamodb-reads",), (table.name,)), DETECTION)
        )

    def recover(run: DrillRun) -> Recovery:
        point = run.data["restore_point"]
        progress: list[str] = []
        status = wait_restorable(target, table.name, point, progress=progress.append)
        restored = restore_table(
            target, table.name, authority=authority, at=point, reapply=True, progress=progress.append
        )
        actions = [restored]
        if restored.outcome != COMPLETE:
            return Recovery(
                "harness restore-table (000 §6.4)", False, f"{restored.outcome}: {restored.message}", actions=actions
            )
        name = restored.evidence["restored_table"]
        run.data["restored"] = name
        check = compare(run.data["snapshot"], table_digests(ddb, name))  # 000 §6.5 before anything reads it
        run.log(f"restored table {name} vs the snapshot: {check.line()}")
        if not check.equal:
            return Recovery(
                "harness restore-table (000 §6.4, §6.5)",
                False,
                f"{name} differs from the snapshot: {check.line()}",
                actions=actions,
            )
        expect: dict[str, str] = {}
        if functions:
            target.clock.sleep(RECORD_GAP_S)
            switched = switch_table(target, table.name, name, authority=authority)
            actions.append(switched)
            if switched.outcome != COMPLETE:
                return Recovery(
                    "harness restore-table + switch-table (000 §6.4-§6.6)",
                    False,
                    f"switch: {switched.outcome}: {switched.message}",
                    actions=actions,
                )
            run.data["switched"] = True
            expect = {fn: str(m["to"]) for fn, m in (switched.evidence.get("functions") or {}).items() if m.get("to")}
        events = [e for a in actions for e in a.timeline]
        how = "restore to a new table at the restore point, verify against the snapshot" + (
            ", switch its functions (option A)" if functions else ""
        )
        return Recovery(
            f"harness: {how} (000 §6.3-§6.6)",
            True,
            f"{table.name} as of {point.isoformat(timespec='seconds')} in {name}"
            f"{'; ' + '; '.join(progress[-1:]) if progress else ''}; window {status.line()}",
            actions=actions,
            events=events,
            expect_versions=expect,
        )

    def verify(run: DrillRun) -> list[Row]:
        name = run.data.get("restored")
        rows: list[Row] = []
        reading = name or table.name
        if functions:
            expect = run.result.recovery.expect_versions if run.result.recovery else {}
            rows += probe(Check(STATE_ROWS, fn_resources, expect_versions=expect), VERIFICATION)
            served = tables_served(target)
            reading = served.get(functions[0]) or table.name
            for fn in functions:
                rows.append(
                    row(
                        "table-served",
                        fn,
                        f"{fn}:{env.alias} reads the restored table (000 §6.6 option A)",
                        f"reads {served.get(fn)}",
                        name is not None and served.get(fn) == name,
                        "000 §6.6",
                    )
                )
        # The data the application now reads (the restored table once switched) equals the snapshot (000 §6.5).
        return rows + [integrity_row(target, reading, run.data["snapshot"], label=table.name)]

    def settle(run: DrillRun) -> list[Row]:
        # The wait for a restorable moment moved the clock past the window: traffic keeps the window rows measurable.
        healthy_traffic(target, every_function(target))
        return probe(Check(WINDOW_ROWS, fn_resources), SETTLE) if functions else []

    def switch_back(run: DrillRun) -> list[str]:
        if not run.data.get("switched"):
            return []
        target.clock.sleep(RECORD_GAP_S)
        back = switch_table(target, table.name, table.name, authority=authority)
        if back.outcome != COMPLETE:
            raise RuntimeError(f"switch back to {table.name}: {back.outcome}: {back.message}")
        run.data["switched"] = False
        return [f"functions switched back to {table.name}"]

    def undo_corruption(run: DrillRun) -> list[str]:
        return run.revert_fault()

    def drop_restored(run: DrillRun) -> list[str]:
        name = run.data.get("restored")
        if not name:
            return []
        dropped = drop_table(target, name, authority=authority)
        if dropped.outcome != COMPLETE:
            raise RuntimeError(f"drop {name}: {dropped.outcome}: {dropped.message}")
        return [dropped.message]

    def delete_items(run: DrillRun) -> list[str]:
        return [f"{delete_keys(target, table.name, keys)} drill item(s) deleted from {table.name}"]

    return DrillSpec(
        name=NAME,
        title=f"Data corruption in {table.name} -> PITR restore, verified against the snapshot, switch",
        kind="database",
        ref="000 §6.1-§6.6, §6.7; 004 DynamoDB Rollback; 002 Rollback Scenarios",
        target=target,
        setup=setup,
        steady=steady,
        inject=inject,
        detect=detect,
        must_detect=(("data-integrity", table.name),),
        recover=recover,
        verify=verify,
        settle=settle,
        cleanup=[switch_back, undo_corruption, drop_restored, delete_items],
        digest_of=(target,),
        severity=SEVERITY,
        root_cause=f"game-day fault: {update} of the drill's {items} items in {table.name} overwritten and {delete} "
        "deleted (a bad bulk write)",
        notes=[
            "no 000 §7.4 row sees corrupted data (dynamodb-reads passes while an item is readable): the 000 §6.5 "
            "comparison with the "
            "snapshot taken before the fault detects it",
            "the switch publishes a version whose variable names the restored table and moves the alias (000 §6.6's "
            "update-function-configuration changes only $LATEST, which no alias serves)",
        ],
    )


def _plain(key: dict[str, Any]) -> dict[str, Any]:
    """A typed key as plain values (for write_items, which types them again)."""
    from harness import aws

    return aws.from_item(key)
