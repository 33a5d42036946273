"""Data corruption in a PITR table: a bulk update and a bulk delete (000 §1.2 "Data corruption is detected", §6.1).

The fault touches only the keys the caller names — a drill writes its own uniquely keyed items first, so
no application item is ever corrupted, on a rehearsal or a real account. It reads every before-image
(consistent BatchGetItem), overwrites ``update`` items (one attribute replaced, as a faulty migration would)
and deletes ``delete`` items with BatchWriteItem; the undo writes the before-images back.

No 000 §7.4 row sees this: ``dynamodb-reads`` passes while any item is readable. What detects corruption
is the 000 §6.5 comparison against a snapshot taken before (harness/data_verify.py), which the drill runs.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from harness import aws
from harness.actions.guards import Authority
from harness.data_verify import key_text
from harness.faults.base import Fault, FaultRefused, guard
from harness.inventory.model import Table
from harness.targets.base import TargetLike

CORRUPT_ATTRIBUTE = "status"  # the attribute a bad migration overwrote (the drill's items carry it)
Key = dict[str, dict[str, Any]]
Item = dict[str, dict[str, Any]]


def _corruptible(target: TargetLike, table: str) -> Table:
    """The inventory's table, refused when unknown or when it is the deployments table (001 §6.3.2)."""
    env = target.env
    try:
        spec = env.table(table)
    except KeyError as exc:
        raise FaultRefused(str(exc.args[0])) from None
    if spec.purpose == "deployments":
        raise FaultRefused(
            f"{table} is the deployments table (the audit log, 001 §6.3.2): a game day never corrupts it"
        )
    return spec


def corrupt_items(
    target: TargetLike,
    table: str,
    keys: Sequence[Key],
    authority: Authority,
    *,
    update: int,
    delete: int,
    attribute: str = CORRUPT_ATTRIBUTE,
) -> Fault:
    """Overwrite ``attribute`` of the first ``update`` keys and delete the next ``delete`` ones; the undo writes the
    before-images back."""
    guard(target, authority)
    spec = _corruptible(target, table)
    if update < 0 or delete < 0 or update + delete > len(keys):
        raise ValueError(f"cannot update {update} and delete {delete} of {len(keys)} keys")
    ddb = target.client("dynamodb")
    names = (spec.hash_key.name,) + ((spec.range_key.name,) if spec.range_key else ())
    chosen = list(keys[: update + delete])
    before = {key_text(i, names): i for i in aws.batch_get(ddb, table, chosen)}
    missing = [k for k in chosen if key_text(k, names) not in before]
    if missing:
        raise FaultRefused(
            f"{table}: {len(missing)} of the keys to corrupt do not exist (e.g. {aws.from_item(missing[0])})"
        )
    now = target.clock.now()
    marker = f"CORRUPTED-{now:%Y%m%dT%H%M%S}"
    updated = [{**before[key_text(k, names)], attribute: {"S": marker}} for k in chosen[:update]]
    deleted = list(chosen[update:])
    aws.batch_write(ddb, table, puts=updated, deletes=deleted)

    def undo() -> list[str]:
        images = [before[key_text(k, names)] for k in chosen]
        aws.batch_write(ddb, table, puts=images)
        return [
            f"{table}: {len(images)} before-image(s) written back ({update} overwritten, {delete} deleted by the fault)"
        ]

    return Fault(
        "data-corruption",
        f"dynamodb:{table}",
        "000 §1.2 (data corruption is detected); 000 §6.1 when to use PITR",
        before={"items": len(chosen), "sample": [aws.from_item(k) for k in chosen[:3]]},
        after={
            "updated": update,
            "deleted": delete,
            "attribute": attribute,
            "value": marker,
            "updated_keys": [key_text(k, names) for k in chosen[:update]],
            "deleted_keys": [key_text(k, names) for k in deleted],
        },
        injected_at=now,
        undo=undo,
        detected_by=(),
        notes=[
            "no 000 §7.4 row can see corrupted data (dynamodb-reads passes while one item is readable): the 000 §6.5 "
            "comparison "
            "against the snapshot taken before the fault detects it"
        ],
    )


def write_items(target: TargetLike, table: str, items: Sequence[Mapping[str, Any]]) -> int:
    """Put plain items (``{"id": "x", "status": "GOOD"}``) into ``table`` in batches (a drill's own data)."""
    return aws.batch_write(target.client("dynamodb"), table, puts=[aws.to_item(i) for i in items])


def delete_keys(target: TargetLike, table: str, keys: Sequence[Key]) -> int:
    """Delete ``keys`` (typed) from ``table`` in batches."""
    return aws.batch_write(target.client("dynamodb"), table, deletes=list(keys))
