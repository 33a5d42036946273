"""Per-invoke cost of the embedded Lambda (fidelity extension): subprocess run, logs and metrics.

Measures, on a seeded bbws/sit rehearsal: a bare ``python -I`` start (the floor), an in-process
invocation (resolve + subprocess + logs + metrics), boto3 Invoke through the alias (adds the moto
server round trip), GET through the HTTP API front, and N concurrent boto3 invocations.

Run: PYTHONPATH=. python benchmarks/bench_invoke.py [--n 50]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import requests

from harness.inventory import load_inventory
from harness.targets.embedded import EmbeddedTarget
from harness.targets.embedded.fidelity import lambda_invoke

FN = "bbws-tenant-instance-management-sit"


def timed(n: int, call: Callable[[], object]) -> list[float]:
    """Milliseconds of ``n`` sequential calls (after one warm-up call)."""
    call()
    out = []
    for _ in range(n):
        began = time.perf_counter()
        call()
        out.append((time.perf_counter() - began) * 1000)
    return out


def report(name: str, ms: list[float]) -> None:
    """One line: median, p95 and max."""
    ordered = sorted(ms)
    p95 = ordered[max(int(len(ordered) * 0.95) - 1, 0)]
    print(
        f"{name:<42} median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   max {max(ms):7.1f} ms   (n={len(ms)})"
    )


def main() -> None:
    """Print the per-invoke costs."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    target = EmbeddedTarget(load_inventory("bbws").environment("sit")).start()
    try:
        alias = target.env.alias
        lam = target.client("lambda")
        event = json.dumps({"httpMethod": "GET", "path": "/health", "headers": {}})
        report(
            "python -I -c pass (floor)",
            timed(args.n, lambda: subprocess.run([sys.executable, "-I", "-c", "pass"], check=True)),
        )
        ctx = target.extensions.context
        report(
            "in-process invoke (subprocess+logs+metrics)",
            timed(args.n, lambda: lambda_invoke.invoke_local(ctx, FN, alias, json.loads(event))),
        )
        report(
            "boto3 Invoke fn:alias",
            timed(args.n, lambda: lam.invoke(FunctionName=f"{FN}:{alias}", Payload=event)["Payload"].read()),
        )
        session = requests.Session()
        report(
            "HTTP API GET /v1/health",
            timed(args.n, lambda: session.get(f"{target.api_base_url}/v1/health", timeout=10)),
        )
        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(
                pool.map(
                    lambda _: lam.invoke(FunctionName=f"{FN}:{alias}", Payload=event)["Payload"].read(), range(args.n)
                )
            )
        wall = time.perf_counter() - began
        print(
            f"{'boto3 Invoke x' + str(args.n) + ', 8 threads':<42} {wall:.2f} s wall, {args.n / wall:.0f} invocations/s"
        )
    finally:
        target.close()


if __name__ == "__main__":
    main()
