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
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.actions.base import COMPLETE, ActionResult
from harness.actions.guards import Authority
from harness.actions.pitr import drop_table, restore_table, wait_restorable
from harness.actions.table_switch import switch_table, tables_served
from harness.data_verify import Digests, compare, table_digests, write_snapshot
from harness.drills.base import BaseDrill, DrillRun, UndoStep
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
from harness.drills.traffic import every_function, healthy_traffic
from harness.faults.base import Fault
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
    values: dict[str, dict[str, Any]] = {"S": {"S": text}, "N": {"N": str(n)}, "B": {"B": text.encode()}}
    return values[kind]


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


class DataCorruptionDrill(BaseDrill):
    """Data corruption in a PITR table -> restore, verify against the snapshot, switch (see the module docstring)."""

    def __init__(
        self,
        target: TargetLike,
        authority: Authority,
        probe: Probe,
        *,
        items: int = DEFAULT_ITEMS,
        snapshot_dir: Path | None = None,
    ) -> None:
        env = target.env
        self.table = table = drill_table(target)
        if not target.supports("pitr-restore"):
            raise DrillSkipped(target.unsupported_reason("pitr-restore") or "pitr-restore not rehearsable")
        self.target, self.authority, self.probe = target, authority, probe
        self.items, self.snapshot_dir = items, snapshot_dir
        self.functions = list(table.functions)
        self.fn_resources = tuple(dict.fromkeys(function_resource(env, fn) for fn in self.functions))
        self.run_id = uuid.uuid4().hex[:8]
        self.keys = drill_keys(table, self.run_id, items)
        self.update, self.delete = max(1, items // UPDATE_SHARE), max(1, items // DELETE_SHARE)
        self.name = NAME
        self.title = f"Data corruption in {table.name} -> PITR restore, verified against the snapshot, switch"
        self.kind = "database"
        self.ref = "000 §6.1-§6.6, §6.7; 004 DynamoDB Rollback; 002 Rollback Scenarios"
        self.must_detect = ((INTEGRITY, table.name),)
        self.digest_of = (target,)
        self.severity = SEVERITY
        self.root_cause = (
            f"game-day fault: {self.update} of the drill's {items} items in {table.name} overwritten and "
            f"{self.delete} deleted (a bad bulk write)"
        )
        self.notes = list(NOTES)
        # What the phases learn: the pre-fault snapshot, the restore point, the restored table, the switch.
        self.snapshot: Digests | None = None
        self.restore_point: datetime | None = None
        self.restored: str | None = None
        self.switched = False

    def _snapshot(self) -> Digests:
        if self.snapshot is None:
            raise RuntimeError("no snapshot: the setup phase has not run")
        return self.snapshot

    def setup(self, run: DrillRun) -> None:
        """The drill's own items written, then the whole table snapshotted (kept as a file in the run's reports)."""
        table, target = self.table.name, self.target
        write_items(target, table, [{**_plain(key), "status": "GOOD", "drill": self.run_id} for key in self.keys])
        snapshot = table_digests(target.client("dynamodb"), table, taken_at=target.clock.now())
        path = snapshot_path(self.snapshot_dir, table, f"{NAME}-{self.run_id}")
        if path is not None:
            write_snapshot(snapshot, path)
            snapshot.source = f"snapshot:{path}"
        self.snapshot = snapshot
        run.log(
            f"setup: {self.items} drill items written to {table}; snapshot of {len(snapshot)} items"
            + (f" ({path.name})" if path else "")
        )

    def steady(self, run: DrillRun) -> list[Row]:
        """The table's rows, its functions' rows, and the snapshot as the integrity baseline."""
        table = self.table.name
        rows = self.probe(Check(TABLE_ROWS, (table,)), STEADY)
        rows += self.probe(Check(STATE_ROWS, self.fn_resources), STEADY) if self.functions else []
        snapshot = self._snapshot()
        taken = snapshot.taken_at.isoformat(timespec="seconds") if snapshot.taken_at else "?"
        # The snapshot was taken from this table a moment ago: it *is* the steady state (no second full scan).
        baseline = f"snapshot of {len(snapshot)} items taken at {taken}: the baseline"
        return rows + [row(INTEGRITY, table, f"{table} as snapshotted before the fault", baseline, True, "000 §6.5")]

    def inject(self, run: DrillRun) -> Fault:
        """A restore point, then a bulk update and delete of drill items just after it."""
        # RestoreDateTime may travel in whole seconds: the drill's writes end a second before the restore point
        # and the fault starts a second after it, so the restore holds every drill item and no corruption.
        clock = self.target.clock
        clock.sleep(RESTORE_POINT_MARGIN_S)
        self.restore_point = clock.now()
        clock.sleep(RESTORE_POINT_MARGIN_S)
        return corrupt_items(
            self.target, self.table.name, self.keys, self.authority, update=self.update, delete=self.delete
        )

    def detect(self, run: DrillRun) -> Detection:
        """``data-integrity`` against the snapshot, beside ``dynamodb-reads`` (which cannot see it)."""
        table = self.table.name
        integrity = integrity_row(self.target, table, self._snapshot())
        return Detection([integrity] + self.probe(Check(("dynamodb-reads",), (table,)), DETECTION))

    def recover(self, run: DrillRun) -> Recovery:
        """Restore to a new table at the restore point, compare it with the snapshot, switch its functions."""
        point = self.restore_point
        if point is None:
            raise RuntimeError("no restore point: the fault phase has not run")
        progress: list[str] = []
        status = wait_restorable(self.target, self.table.name, point, progress=progress.append)
        failed, actions, expect = self._restore_and_switch(run, point, progress)
        if failed is not None:
            return failed
        how = "restore to a new table at the restore point, verify against the snapshot" + (
            ", switch its functions (option A)" if self.functions else ""
        )
        return Recovery(
            f"harness: {how} (000 §6.3-§6.6)",
            True,
            f"{self.table.name} as of {point.isoformat(timespec='seconds')} in {self.restored}"
            f"{'; ' + '; '.join(progress[-1:]) if progress else ''}; window {status.line()}",
            actions=actions,
            events=[e for a in actions for e in a.timeline],
            expect_versions=expect,
        )

    def _restore_and_switch(
        self, run: DrillRun, point: datetime, progress: list[str]
    ) -> tuple[Recovery | None, list[ActionResult], dict[str, str]]:
        """(the failed recovery or None, the actions, where the switch left the aliases)."""
        table, target, who = self.table.name, self.target, self.authority
        restored = restore_table(target, table, authority=who, at=point, reapply=True, progress=progress.append)
        actions = [restored]
        if restored.outcome != COMPLETE:
            message = f"{restored.outcome}: {restored.message}"
            return Recovery("harness restore-table (000 §6.4)", False, message, actions=actions), actions, {}
        name = self.restored = str(restored.evidence["restored_table"])
        check = compare(self._snapshot(), table_digests(target.client("dynamodb"), name))  # 000 §6.5 before any read
        run.log(f"restored table {name} vs the snapshot: {check.line()}")
        if not check.equal:
            message = f"{name} differs from the snapshot: {check.line()}"
            return Recovery("harness restore-table (000 §6.4, §6.5)", False, message, actions=actions), actions, {}
        if not self.functions:
            return None, actions, {}
        target.clock.sleep(RECORD_GAP_S)
        switched = switch_table(target, table, name, authority=who)
        actions.append(switched)
        if switched.outcome != COMPLETE:
            message = f"switch: {switched.outcome}: {switched.message}"
            method = "harness restore-table + switch-table (000 §6.4-§6.6)"
            return Recovery(method, False, message, actions=actions), actions, {}
        self.switched = True
        moved = switched.evidence.get("functions") or {}
        return None, actions, {fn: str(m["to"]) for fn, m in moved.items() if m.get("to")}

    def verify(self, run: DrillRun) -> list[Row]:
        """The functions on the switch's versions, reading the restored table, whose data equals the snapshot."""
        table, name = self.table.name, self.restored
        rows: list[Row] = []
        reading = name or table
        if self.functions:
            expect = run.result.recovery.expect_versions if run.result.recovery else {}
            rows += self.probe(Check(STATE_ROWS, self.fn_resources, expect_versions=expect), VERIFICATION)
            served = tables_served(self.target)
            reading = served.get(self.functions[0]) or table
            alias = self.target.env.alias
            rows += [
                row(
                    "table-served",
                    fn,
                    f"{fn}:{alias} reads the restored table (000 §6.6 option A)",
                    f"reads {served.get(fn)}",
                    name is not None and served.get(fn) == name,
                    "000 §6.6",
                )
                for fn in self.functions
            ]
        # The data the application now reads (the restored table once switched) equals the snapshot (000 §6.5).
        return rows + [integrity_row(self.target, reading, self._snapshot(), label=table)]

    def settle(self, run: DrillRun) -> list[Row]:
        """Healthy traffic, then the functions' windowed rows."""
        # The wait for a restorable moment moved the clock past the window: traffic keeps the window rows measurable.
        healthy_traffic(self.target, every_function(self.target))
        return self.probe(Check(WINDOW_ROWS, self.fn_resources), SETTLE) if self.functions else []

    def undo_steps(self) -> list[UndoStep]:
        """Switch back, undo the corruption, drop the restored table, delete the drill's items."""
        return [self.switch_back, self.undo_corruption, self.drop_restored, self.delete_items]

    def switch_back(self, run: DrillRun) -> list[str]:
        """The functions back on the original table (if the recovery switched them)."""
        if not self.switched:
            return []
        table = self.table.name
        self.target.clock.sleep(RECORD_GAP_S)
        back = switch_table(self.target, table, table, authority=self.authority)
        if back.outcome != COMPLETE:
            raise RuntimeError(f"switch back to {table}: {back.outcome}: {back.message}")
        self.switched = False
        return [f"functions switched back to {table}"]

    def undo_corruption(self, run: DrillRun) -> list[str]:
        """The corrupted items back from their before-images (the fault's undo)."""
        return run.revert_fault()

    def drop_restored(self, run: DrillRun) -> list[str]:
        """The restored table dropped, with the versions the switch published."""
        if not self.restored:
            return []
        dropped = drop_table(self.target, self.restored, authority=self.authority)
        if dropped.outcome != COMPLETE:
            raise RuntimeError(f"drop {self.restored}: {dropped.outcome}: {dropped.message}")
        return [dropped.message]

    def delete_items(self, run: DrillRun) -> list[str]:
        """The drill's own items deleted."""
        table = self.table.name
        return [f"{delete_keys(self.target, table, self.keys)} drill item(s) deleted from {table}"]


NOTES = (
    "no 000 §7.4 row sees corrupted data (dynamodb-reads passes while an item is readable): the 000 §6.5 "
    "comparison with the snapshot taken before the fault detects it",
    "the switch publishes a version whose variable names the restored table and moves the alias (000 §6.6's "
    "update-function-configuration changes only $LATEST, which no alias serves)",
)


data_corruption_drill = DataCorruptionDrill  # the name scenarios build it by


def _plain(key: dict[str, Any]) -> dict[str, Any]:
    """A typed key as plain values (for write_items, which types them again)."""
    from harness import aws

    return aws.from_item(key)
