"""Discovery time and calls for a few hundred resources (goal: seconds; calls per resource stated in
harness/discover.py): a synthetic estate seeded on the embedded target, then read back.

Run: python benchmarks/bench_discover.py [--functions 200 --tables 50 --services 50]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from harness.discover import discover
from harness.inventory.synth import Size, synthesize
from harness.targets.embedded import EmbeddedTarget


def main() -> None:
    """Print seconds and calls of one discovery of the synthetic SIT."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--functions", type=int, default=200)
    parser.add_argument("--tables", type=int, default=50)
    parser.add_argument("--services", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inventory = synthesize(Size(args.functions, args.tables, args.services), Path(tmp) / "synth.toml")
        target = EmbeddedTarget(inventory.environment("sit")).start()
        try:
            began = time.perf_counter()
            found = discover(target, "sit")
            seconds = time.perf_counter() - began
        finally:
            target.close()
    resources = len(found.functions) + len(found.tables) + len(found.buckets) + len(found.services)
    calls = sum(found.calls.values())
    print(
        f"{resources} resources ({len(found.functions)} functions, {len(found.tables)} tables, "
        f"{len(found.buckets)} buckets, {len(found.services)} ECS services): {seconds:.1f} s, {calls} calls "
        f"({calls / max(resources, 1):.1f} per resource)"
    )
    for op, n in found.calls.most_common(8):
        print(f"  {op}: {n}")


if __name__ == "__main__":
    main()
