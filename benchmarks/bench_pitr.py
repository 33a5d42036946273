"""Cost of the embedded PITR history (fidelity extension): write overhead, restore time, memory.

Writes ``--items`` items to a PITR-enabled table, then ``--updates`` overwrites, and restores to a
time before the overwrites. Memory still held after the writes is measured with tracemalloc, with
and without PITR: the difference is the history (one entry per write, plus the previous images
that overwrites keep alive).

Run: PYTHONPATH=. python benchmarks/bench_pitr.py [--items 10000 --updates 2000]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import tracemalloc

from harness.actions.pitr import wait_active
from harness.clock import FixedClock
from harness.data_verify import count_items
from harness.inventory import load_inventory
from harness.targets.embedded import EmbeddedTarget


def batch_put(ddb, table: str, keys: range, status: str) -> None:
    """BatchWriteItem in pages of 25."""
    items = [
        {"PutRequest": {"Item": {"id": {"S": f"k{i:06d}"}, "status": {"S": status}, "pad": {"S": "x" * 100}}}}
        for i in keys
    ]
    for start in range(0, len(items), 25):
        ddb.batch_write_item(RequestItems={table: items[start : start + 25]})


def run(pitr: bool, items: int, updates: int, account: str) -> None:
    """One table, with or without PITR: timings and memory of the overwrites."""
    env = dataclasses.replace(load_inventory("bbws").environment("sit"), account=account)
    clock = FixedClock()
    target = EmbeddedTarget(env, seed=False, clock=clock).start()
    try:
        ddb = target.client("dynamodb")
        ddb.create_table(
            TableName="bench",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        if pitr:
            ddb.update_continuous_backups(
                TableName="bench", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        tracemalloc.start()
        began = time.perf_counter()
        batch_put(ddb, "bench", range(items), "ORIGINAL")
        load_s = time.perf_counter() - began
        before = clock.now()
        clock.advance(minutes=10)
        began = time.perf_counter()
        batch_put(ddb, "bench", range(updates), "OVERWRITTEN")
        update_s = time.perf_counter() - began
        current, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        line = (
            f"pitr={'on ' if pitr else 'off'} load {items} items {load_s:.2f}s; {updates} overwrites {update_s:.2f}s; "
            f"memory held after {items + updates} writes {current / 2**20:.1f} MiB"
        )
        if pitr:
            clock.advance(minutes=10)
            began = time.perf_counter()
            ddb.restore_table_to_point_in_time(
                SourceTableName="bench", TargetTableName="bench-restored", RestoreDateTime=before
            )
            restore_s = time.perf_counter() - began
            # A restored table may be CREATING for a while on the rehearsal clock: wait for ACTIVE, then count.
            wait_active(target, "bench-restored", minutes=240)
            restored = count_items(ddb, "bench-restored")
            line += f"; restore {restore_s:.2f}s ({restored} items)"
        print(line)
    finally:
        target.close()


def main() -> None:
    """Print the PITR costs with and without history."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10000)
    parser.add_argument("--updates", type=int, default=2000)
    args = parser.parse_args()
    run(False, args.items, args.updates, "900000000001")
    run(True, args.items, args.updates, "900000000002")


if __name__ == "__main__":
    main()
