"""Seed time and API calls per environment on the embedded target (goal: < 5 s per environment).

Run: python benchmarks/bench_seed.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from harness.inventory import load_inventory
from harness.targets.embedded import EmbeddedTarget

ENVS = [("bbws", "dev"), ("bbws", "sit"), ("bbws", "prod"), ("bbws-access", "sit"), ("propie", "production")]


def main() -> None:
    """Print seed seconds (median of N) and calls per environment."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    began = time.perf_counter()
    for inventory, env_name in ENVS:
        env = load_inventory(inventory).environment(env_name)
        times, calls = [], 0
        for _ in range(args.repeat):
            target = EmbeddedTarget(env).start()
            times.append(target.seed_seconds)
            calls = target.seeded.calls
            target.close()
        print(
            f"{inventory}/{env_name}: seed median {statistics.median(times):.2f}s max {max(times):.2f}s, {calls} calls"
        )
    print(f"total {time.perf_counter() - began:.1f}s")


if __name__ == "__main__":
    main()
