"""What the operation lease costs a rollback of the 7 bbws SIT functions against ``harness serve``.

Goal (the incident-grade operations issue): the lease adds at most 2 API calls (one conditional
PutItem to take it, one conditional DeleteItem to release it; no renewal within a short run) and at
most 50 ms to the whole ``harness rollback --all --target aws`` process.

Prints: the lease's API calls in the library (counted with ``target.add_call_listener``), the
library ``rollback_all`` time with and without the lease, and the median whole-process time of
``harness rollback --all`` (``--no-lease-bench`` is not a CLI option: run this file on the commit
before the lease for the "before" figure, as the report does).

Run: python benchmarks/bench_lease.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from typing import Any

from bench_rollback import REPO, clean_env, served


def _restore(inventory: str) -> None:
    from harness.actions import Authority
    from harness.actions.rollback import RollbackTo, rollback_all
    from harness.inventory import load_inventory
    from harness.targets.aws import AwsTarget

    target = AwsTarget(load_inventory(inventory).environment("sit")).start()
    rollback_all(
        target,
        Authority(allow_mutation=True, reason="restore"),
        RollbackTo.each({f.name: "3" for f in target.env.functions}),
    )
    target.close()


def library_calls(inventory: str) -> tuple[dict[str, int], float, float]:
    """The lease's own API calls, and ``rollback_all`` seconds without and with the lease."""
    from harness.actions import Authority
    from harness.actions.rollback import rollback_all
    from harness.inventory import load_inventory
    from harness.lease import operation_lease
    from harness.targets.aws import AwsTarget

    target = AwsTarget(load_inventory(inventory).environment("sit")).start()
    who = Authority(allow_mutation=True, reason="benchmark", actor="bench")
    began = time.perf_counter()
    rollback_all(target, who)
    without = time.perf_counter() - began
    _restore(inventory)
    calls: Counter[str] = Counter()

    def count(service: str, op: str, params: dict[str, Any]) -> None:
        calls[f"{service}:{op}"] += 1

    began = time.perf_counter()
    target.add_call_listener(count)
    with operation_lease(target, command="rollback --all (bench)", scope="all", actor="bench"):
        target.remove_call_listener(count)
        rollback_all(target, who)
        target.add_call_listener(count)
    target.remove_call_listener(count)
    with_lease = time.perf_counter() - began
    lease_times = []
    for _ in range(20):
        began = time.perf_counter()
        with operation_lease(target, command="bench", scope="all", actor="bench"):
            pass
        lease_times.append(time.perf_counter() - began)
    print(f"  lease taken and released alone: median {statistics.median(lease_times) * 1000:.1f} ms of 20")
    target.close()
    _restore(inventory)
    return dict(calls), without, with_lease


def process_seconds(inventory: str, client_env: dict[str, str], repeat: int) -> float:
    """Median wall seconds of the whole ``harness rollback --all --target aws`` process (restoring between)."""
    times = []
    with tempfile.TemporaryDirectory() as reports, tempfile.TemporaryDirectory() as pycache:
        env = {k: v for k, v in clean_env().items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(client_env, PYTHONPYCACHEPREFIX=pycache)
        for i in range(repeat + 1):
            began = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "harness.cli", "rollback", "--all", "--env", "sit", "--inventory", inventory]
                + ["--target", "aws", "--allow-mutation", "--reason", "benchmark", "--reports-dir", reports],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
            )
            if i:  # the first run fills the bytecode cache
                times.append(time.perf_counter() - began)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            _restore(inventory)
    return statistics.median(times)


def main() -> None:
    """Print the figures and whether the goal is met."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--process-only", action="store_true", help="only the whole-process time (any commit)")
    args = parser.parse_args()
    import os

    with served("bbws") as client_env:
        os.environ.update(client_env)
        if not args.process_only:
            calls, without, with_lease = library_calls("bbws")
            print(f"  lease API calls: {sum(calls.values())} {calls} (goal <= 2)")
            print(f"  rollback_all 7 functions: {without * 1000:.0f} ms without, {with_lease * 1000:.0f} ms with lease")
        whole = process_seconds("bbws", client_env, args.repeat)
        print(f"  harness rollback --all (whole process, median of {args.repeat}): {whole * 1000:.0f} ms")


if __name__ == "__main__":
    main()
