"""Game-day drill timings on the embedded target (performance goals).

Goals: the Lambda drills' RTO < 10 s wall; the PITR drill at 10,000 items < 30 s (the whole drill and its RTO
are both printed); the default run ``pytest scenarios/ --env sit`` with every drill < 3 minutes, with and
without ``-n 2`` (``--runs``).

Drills run in this process through the runner with the plain probe (plugins/gameday.py ``RowsProbe``), on one
seeded bbws/sit rehearsal, each ``--repeat`` times (medians); RTO is shown on the rehearsal clock (what it
would take on AWS without the waits) and on the wall clock (what the rehearsal took).

Run: python benchmarks/bench_gameday.py [--repeat 3] [--items 10000] [--runs]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _drills(target, probe, items: int) -> dict[str, Callable]:  # type: ignore[no-untyped-def]
    from harness.actions import Authority
    from harness.drills.lambda_drills import bad_deployment_drill
    from harness.drills.pitr_drill import data_corruption_drill
    from harness.drills.state_drill import state_drill

    who = Authority(actor="bench", reason="benchmark")
    return {
        "lambda-bad-deployment": lambda: bad_deployment_drill(target, who, probe),
        "all-services-bad-deployment": lambda: bad_deployment_drill(
            target, who, probe, all_services=True, newer_undeployed=1
        ),
        "terraform-state-corruption": lambda: state_drill(target, who, probe),
        f"data-corruption-pitr ({items:,} items)": lambda: data_corruption_drill(target, who, probe, items=items),
    }


def bench_drills(repeat: int, items: int) -> None:
    from harness.drills.digest import environment_digest
    from harness.drills.runner import run_drill
    from harness.inventory import load_inventory
    from harness.pytest_plugin.gameday import RowsProbe
    from harness.targets.embedded import EmbeddedTarget

    target = EmbeddedTarget(load_inventory("bbws").environment("sit")).start()
    try:
        probe = RowsProbe(target)
        print("| drill | RTO (rehearsal clock) | RTO (wall) | whole drill (wall) | slowest phase (wall) | outcome |")
        print("|---|---|---|---|---|---|")
        for name, make in _drills(target, probe, items).items():
            runs = [
                run_drill(make(), digest=environment_digest)
                for _ in range(repeat if "pitr" not in name else max(1, repeat // 2))
            ]
            bad = [r for r in runs if not r.ok]
            med = lambda xs: statistics.median(xs) if xs else float("nan")  # noqa: E731 (a local formatter)
            slow = max(runs[-1].phases, key=lambda p: p.wall_s)
            print(
                f"| {name} | {med([r.rto_s for r in runs if r.rto_s is not None]):.1f} s | "
                f"{med([r.rto_wall_s for r in runs if r.rto_wall_s is not None]):.2f} s | "
                f"{med([r.wall_s for r in runs]):.2f} s | {slow.name} {slow.wall_s:.2f} s | "
                f"{'PASS' if not bad else 'FAIL: ' + bad[0].message()[:200]} (n={len(runs)}) |"
            )
    finally:
        target.close()


def bench_runs() -> None:
    """The default run with every drill, serial and with -n 2 (wall clock of the whole pytest process)."""
    for extra in ([], ["-n", "2"]):
        began = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "scenarios/", "--env", "sit", "-q", "-p", "no:cacheprovider", *extra],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        took = time.perf_counter() - began
        last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-200:]
        print(f"| `pytest scenarios/ --env sit {' '.join(extra)}` | {took:.1f} s | exit {proc.returncode}: {last} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--runs", action="store_true", help="also time the default pytest run, serial and -n 2")
    args = parser.parse_args()
    bench_drills(args.repeat, args.items)
    if args.runs:
        print()
        print("| command | wall | result |")
        print("|---|---|---|")
        bench_runs()


if __name__ == "__main__":
    main()
