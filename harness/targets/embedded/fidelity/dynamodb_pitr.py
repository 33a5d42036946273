"""DynamoDB point-in-time recovery that restores the past (moto copies the *current* items).

For a table with PITR enabled every write keeps the item's previous image with the time of the write
(the target's clock). ``RestoreTableToPointInTime`` rebuilds the items as of ``RestoreDateTime`` by
undoing, newest first, the writes made after it; memory grows with the writes made, not with
the table size, and history older than the recovery period is dropped as the window moves.

AWS behaviour followed (DynamoDB API reference, RestoreTableToPointInTime, DescribeContinuousBackups,
PointInTimeRecoveryDescription):

- errors: source missing ``TableNotFoundException``; target exists ``TableAlreadyExistsException``;
  PITR not enabled ``PointInTimeRecoveryUnavailableException``; time outside
  [EarliestRestorableDateTime, LatestRestorableDateTime] ``InvalidRestoreTimeException``.
- EarliestRestorableDateTime is when PITR was enabled (at most RecoveryPeriodInDays ago);
  LatestRestorableDateTime "is typically 5 minutes before the current time" and moves with it
  (``AccountContext.pitr_lag``); disabling PITR discards the history.
- the restored table keeps key schema, attribute definitions, indexes and billing mode (or the
  overrides given) but not PITR, TTL, tags or streams of the source; RestoreSummary names the source
  and the restore time.
- a restore takes time (AWS re:Post, "Why is my DynamoDB table restore taking a long time?": "at least
  20 minutes no matter the size of the table", then proportional to the largest partition's item count):
  the restored table is ``CREATING`` with ``RestoreInProgress`` for ``restore_duration(items)`` of the
  target's clock, and reads and writes of it answer ``ResourceNotFoundException`` ("... or its status
  might not be ACTIVE", API reference) until it is ``ACTIVE``.
"""

from __future__ import annotations

import copy
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from moto.core.exceptions import JsonRESTError
from moto.dynamodb.exceptions import (
    MockValidationException,
    PointInTimeRecoveryUnavailable,
    ResourceNotFoundException,
    TableAlreadyExistsException,
    TableNotFoundException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Backup, GlobalSecondaryIndex, LocalSecondaryIndex, RestoredPITTable, Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult

from harness.targets.embedded.fidelity import registry

HISTORY_ATTR = "_harness_pitr"
READY_ATTR = "_harness_ready_at"  # when a restored table becomes ACTIVE (target's clock)
RESTORE_MINIMUM = timedelta(minutes=20)  # re:Post: "at least 20 minutes no matter the size of the table"
# Assumed (AWS publishes no rate): one partition holds ~10 GB; at ~1 KB per item and 20 s per 100,000 items
# a full partition adds ~30 min, keeping a full-partition restore "usually less than an hour" (re:Post).
RESTORE_SECONDS_PER_ITEM = 20 / 100_000
Key = tuple[DynamoType, DynamoType | None]
# moto's Table.items layout: hash -> Item, or hash -> range -> Item for a table with a range key
Items = dict[DynamoType, Any]


class InvalidRestoreTime(JsonRESTError):
    """InvalidRestoreTimeException as DynamoDB raises it."""

    def __init__(self, message: str) -> None:
        super().__init__("com.amazonaws.dynamodb.v20120810#InvalidRestoreTimeException", message)


@dataclass
class PitrHistory:
    """A table's write history since PITR was enabled: (time, key, previous image or None)."""

    enabled_at: datetime
    recovery_days: int = 35
    writes: list[tuple[datetime, Key, Item | None]] = field(default_factory=list)

    def __deepcopy__(self, memo: dict[int, Any]) -> "PitrHistory":
        # moto deep-copies whole tables to roll back failed transactions; the history goes with them.
        return PitrHistory(self.enabled_at, self.recovery_days, copy.deepcopy(self.writes, memo))

    def earliest(self, now: datetime) -> datetime:
        """EarliestRestorableDateTime: PITR enablement, at most the recovery period ago."""
        return max(self.enabled_at, now - timedelta(days=self.recovery_days))

    def latest(self, now: datetime, lag: timedelta) -> datetime:
        """LatestRestorableDateTime: ``lag`` before now, never before the earliest."""
        return max(self.earliest(now), now - lag)

    def record(self, at: datetime, key: Key, previous: Item | None) -> None:
        """Remember that ``key`` held ``previous`` until ``at``; forget what left the window."""
        with _lock:
            self.writes.append((at, key, previous))
            horizon = at - timedelta(days=self.recovery_days)
            if self.writes[0][0] < horizon:
                self.writes = [w for w in self.writes if w[0] >= horizon]

    def undo_after(self, at: datetime) -> dict[Key, Item | None]:
        """For each key written after ``at``: what it held at ``at`` (None: absent)."""
        with _lock:
            undo: dict[Key, Item | None] = {}
            for when, key, previous in reversed(self.writes):
                if when <= at:
                    break
                undo[key] = previous  # earlier writes overwrite later ones: the oldest image wins
            return undo


_lock = threading.RLock()


def history(table: Table) -> PitrHistory | None:
    """The table's PITR history when PITR is enabled and its account is served by a fidelity target."""
    return getattr(table, HISTORY_ATTR, None)


def _now(table: Table) -> datetime | None:
    """The served account's clock reading (None when moto's own behaviour applies)."""
    ctx = registry.context(table.account_id)
    return ctx.clock.now().astimezone(timezone.utc) if ctx else None


def _key(table: Table, attrs: dict[str, Any]) -> Key | None:
    """(hash, range) of an item or key document; None when the hash key is missing."""
    if table.hash_key_attr not in attrs:
        return None
    hash_value = DynamoType(attrs[table.hash_key_attr])
    range_value = (
        DynamoType(attrs[table.range_key_attr]) if table.range_key_attr and table.range_key_attr in attrs else None
    )
    return hash_value, range_value


def _table_put(original: Any) -> Any:
    def put_item(self: Table, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        hist, key = history(self), None
        previous = None
        if hist is not None:
            key = _key(self, item_attrs)
            previous = self.get_item(*key) if key and (key[1] is not None or not self.range_key_attr) else None
        result = original(self, item_attrs, *args, **kwargs)
        now = _now(self)
        if hist is not None and key is not None and now is not None:
            hist.record(now, key, previous)  # put replaces the Item object: the old one is immutable now
        return result

    put_item.__doc__ = "PutItem, remembering the previous image for PITR (fidelity extension)."
    return put_item


def _table_delete(original: Any) -> Any:
    def delete_item(self: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Any:
        removed = original(self, hash_key, range_key)
        hist, now = history(self), _now(self)
        if hist is not None and removed is not None and now is not None:
            hist.record(now, (hash_key, range_key), removed)
        return removed

    delete_item.__doc__ = "DeleteItem, remembering the deleted image for PITR (fidelity extension)."
    return delete_item


def _backend_update(original: Any) -> Any:
    def update_item(self: DynamoDBBackend, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        table = self.get_table(table_name)
        hist = history(table)
        item_key = _key(table, key) if hist is not None else None
        before = copy.deepcopy(table.get_item(*item_key)) if item_key else None
        result = original(self, table_name, key, *args, **kwargs)
        now = _now(table)
        # UpdateItem mutates the stored Item in place; a new item was already recorded by put_item.
        if hist is not None and item_key is not None and before is not None and now is not None:
            hist.record(now, item_key, before)
        return result

    update_item.__doc__ = "UpdateItem, remembering the previous image for PITR (fidelity extension)."
    return update_item


def _update_backups(original: Any) -> Any:
    def update_continuous_backups(self: DynamoDBBackend, table_name: str, spec: dict[str, Any]) -> Any:
        result = original(self, table_name, spec)
        ctx = registry.context(self.account_id)
        if ctx is None:
            return result
        table = self.get_table(table_name)
        if spec.get("PointInTimeRecoveryEnabled"):
            days = int(
                spec.get("RecoveryPeriodInDays")
                or result["PointInTimeRecoveryDescription"].get("RecoveryPeriodInDays", 35)
            )
            hist = history(table)
            if hist is None:
                setattr(table, HISTORY_ATTR, PitrHistory(ctx.clock.now().astimezone(timezone.utc), days))
            else:
                hist.recovery_days = days
        else:
            setattr(table, HISTORY_ATTR, None)  # disabling PITR deletes the continuous backups
        return self.describe_continuous_backups(table_name)

    update_continuous_backups.__doc__ = (
        "UpdateContinuousBackups, starting or dropping PITR history (fidelity extension)."
    )
    return update_continuous_backups


def _describe_backups(original: Any) -> Any:
    def describe_continuous_backups(self: DynamoDBBackend, table_name: str) -> Any:
        result = original(self, table_name)
        ctx = registry.context(self.account_id)
        if ctx is None:
            return result
        hist = history(self.get_table(table_name))
        if hist is None:
            return result
        now = ctx.clock.now().astimezone(timezone.utc)
        described = copy.deepcopy(result)
        pitr = described["PointInTimeRecoveryDescription"]
        pitr["EarliestRestorableDateTime"] = hist.earliest(now).timestamp()
        pitr["LatestRestorableDateTime"] = hist.latest(now, ctx.pitr_lag).timestamp()
        pitr["RecoveryPeriodInDays"] = hist.recovery_days
        return described

    describe_continuous_backups.__doc__ = (
        "DescribeContinuousBackups with a moving restorable window (fidelity extension)."
    )
    return describe_continuous_backups


def _restore_time(body: dict[str, Any], hist: PitrHistory, now: datetime, lag: timedelta) -> datetime:
    """The requested restore time, validated against the restorable window."""
    earliest, latest = hist.earliest(now), hist.latest(now, lag)
    use_latest = bool(body.get("UseLatestRestorableTime"))
    if use_latest and body.get("RestoreDateTime") is not None:
        raise MockValidationException("Only one of RestoreDateTime or UseLatestRestorableTime can be specified")
    if use_latest:
        return latest
    if body.get("RestoreDateTime") is None:
        raise MockValidationException("Either RestoreDateTime or UseLatestRestorableTime must be specified")
    at = as_utc(body["RestoreDateTime"])
    if not earliest <= at <= latest:
        raise InvalidRestoreTime(
            f"Invalid restore time: {at.isoformat()}. RestoreDateTime must be between EarliestRestorableDateTime "
            f"{earliest.isoformat()} and LatestRestorableDateTime {latest.isoformat()}"
        )
    return at


def as_utc(value: Any) -> datetime:
    """A request timestamp (moto parses it to a datetime; raw JSON has epoch seconds) as aware UTC."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return datetime.fromtimestamp(float(value), tz=timezone.utc)


def items_at(table: Table, hist: PitrHistory, at: datetime) -> Items:
    """The table's items (moto's ``items`` layout) as they were at ``at``: current items, undone."""
    undo = hist.undo_after(at)
    restored: Items = {}
    for item in table.all_items():
        key = (item.hash_key, item.range_key)
        if key not in undo:
            _place(restored, key, copy.deepcopy(item), table.range_key_attr is not None)
    for key, previous in undo.items():
        if previous is not None:
            _place(restored, key, copy.deepcopy(previous), table.range_key_attr is not None)
    return restored


def _place(items: Items, key: Key, item: Item, ranged: bool) -> None:
    """Put ``item`` at ``key`` in moto's items layout (hash -> item, or hash -> range -> item)."""
    if ranged:
        items.setdefault(key[0], {})[key[1]] = item
    else:
        items[key[0]] = item


def restore(backend: DynamoDBBackend, body: dict[str, Any], now: datetime, lag: timedelta) -> Table:
    """RestoreTableToPointInTime as AWS does it (errors, items as of the time, what is not carried)."""
    source_name = body.get("SourceTableName") or str(body.get("SourceTableArn", "")).split(":table/")[-1]
    target_name = body.get("TargetTableName", "")
    try:
        source = backend.get_table(source_name)
    except ResourceNotFoundException:
        raise TableNotFoundException(source_name) from None
    if target_name in backend.tables:
        raise TableAlreadyExistsException(target_name)
    hist = history(source)
    if hist is None:
        raise PointInTimeRecoveryUnavailable(source_name)
    at = _restore_time(body, hist, now, lag)
    table = _restored_table(target_name, backend, source)
    table.items.update(items_at(source, hist, at))
    table.billing_mode = body.get("BillingModeOverride") or source.billing_mode
    if body.get("ProvisionedThroughputOverride"):
        table.throughput = dict(body["ProvisionedThroughputOverride"], NumberOfDecreasesToday=0)
    if "GlobalSecondaryIndexOverride" in body:
        table.global_indexes = [
            GlobalSecondaryIndex.create(i, table.table_key_attrs) for i in body["GlobalSecondaryIndexOverride"]
        ]
    if "LocalSecondaryIndexOverride" in body:
        table.indexes = [
            LocalSecondaryIndex.create(i, table.table_key_attrs) for i in body["LocalSecondaryIndexOverride"]
        ]
    if body.get("SSESpecificationOverride"):
        table.sse_specification = body["SSESpecificationOverride"]
    table.restore_date_time = at
    setattr(table, READY_ATTR, now + restore_duration(len(list(table.all_items()))))
    backend.tables[target_name] = table
    return table


def restore_duration(items: int) -> timedelta:
    """How long a restore of ``items`` items keeps the table CREATING (module docstring: the model and source)."""
    return RESTORE_MINIMUM + timedelta(seconds=items * RESTORE_SECONDS_PER_ITEM)


def restoring(table: Table | None, now: datetime) -> bool:
    """True while a restored ``table`` is still CREATING at ``now``."""
    ready = getattr(table, READY_ATTR, None)
    return ready is not None and now < ready


def _restored_describe(original: Any) -> Any:
    def describe(self: RestoredPITTable, base_key: str = "TableDescription") -> dict[str, Any]:
        result: dict[str, Any] = original(self, base_key=base_key)
        ctx = registry.context(self.account_id)
        if ctx is not None and restoring(self, ctx.clock.now().astimezone(timezone.utc)):
            result[base_key]["TableStatus"] = "CREATING"
            result[base_key]["RestoreSummary"]["RestoreInProgress"] = True
        return result

    describe.__doc__ = "A restored table CREATING (RestoreInProgress) until its restore is done (fidelity extension)."
    return describe


def _data_plane(original: Any) -> Any:
    def method(self: DynamoHandler) -> Any:
        backend = self.dynamodb_backend
        ctx = registry.context(backend.account_id)
        if ctx is not None and isinstance(self.body, dict):
            now = ctx.clock.now().astimezone(timezone.utc)
            names = [self.body.get("TableName"), *(self.body.get("RequestItems") or {})]
            for name in names:
                if name and restoring(backend.tables.get(name), now):
                    raise ResourceNotFoundException(table_name=name)
        return original(self)

    method.__doc__ = f"{original.__name__} refused while the table is still being restored (fidelity extension)."
    return method


def _restored_table(name: str, backend: DynamoDBBackend, source: Table) -> RestoredPITTable:
    """An empty RestoredPITTable shaped like ``source`` (moto's constructor deep-copies every current item)."""
    # moto's BaseModel.__new__ (which registers the instance) is annotated as returning a BaseModel.
    table = cast(RestoredPITTable, RestoredPITTable.__new__(RestoredPITTable))
    Table.__init__(
        table,
        name,
        account_id=backend.account_id,
        region=backend.region_name,
        schema=copy.deepcopy(source.schema),
        attr=copy.deepcopy(source.attr),
        throughput=copy.deepcopy(source.throughput),
    )
    table.indexes = copy.deepcopy(source.indexes)
    table.global_indexes = copy.deepcopy(source.global_indexes)
    table.source_table_arn = source.table_arn
    return table


def _handler_restore(original: Any) -> Any:
    def restore_table_to_point_in_time(self: DynamoHandler) -> Any:
        backend = self.dynamodb_backend
        ctx = registry.context(backend.account_id)
        if ctx is None:
            return original(self)
        table = restore(backend, self.body, ctx.clock.now().astimezone(timezone.utc), ctx.pitr_lag)
        return DynamoResult(table.describe())

    restore_table_to_point_in_time.__doc__ = "RestoreTableToPointInTime to the requested time (fidelity extension)."
    return restore_table_to_point_in_time


def _backup_description(original: Any) -> Any:
    def description(self: Backup) -> dict[str, Any]:
        result: dict[str, Any] = original.fget(self)
        details = result.get("SourceTableDetails", {})
        if registry.context(self.table.account_id) is not None and "TableId" not in details:
            # DynamoDB API reference, SourceTableDetails: TableId is required (moto leaves it out).
            details["TableId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, self.table.table_arn))
        return result

    return property(description)


# Item operations AWS refuses on a table that is not ACTIVE (ResourceNotFoundException).
DATA_PLANE = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
)

PATCHES: tuple[registry.Patch, ...] = (
    (Table, "put_item", _table_put),
    (Table, "delete_item", _table_delete),
    (DynamoDBBackend, "update_item", _backend_update),
    (DynamoDBBackend, "update_continuous_backups", _update_backups),
    (DynamoDBBackend, "describe_continuous_backups", _describe_backups),
    (DynamoHandler, "restore_table_to_point_in_time", _handler_restore),
    (RestoredPITTable, "describe", _restored_describe),
    (Backup, "description", _backup_description),
    *((DynamoHandler, name, _data_plane) for name in DATA_PLANE),
)


def install() -> None:
    """Patch moto's DynamoDB write paths and PITR operations (once per process)."""
    registry.patch_all(PATCHES)
