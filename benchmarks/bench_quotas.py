"""At the API-quota limit: the post-rollback checklist and ``harness rollback --all`` of N = 30 and 300 functions
against a rehearsal that enforces AWS's API quotas (the referee, ``fidelity/api_quotas.py``), with the harness
pacing its clients to the same quotas (``harness/pacing.py``); and with quotas off for comparison.

Each (N, quotas) scenario runs in a process of its own: seed an embedded rehearsal of a synthetic inventory
(tables and ECS services scaled along, as ``bench_verify.py``), then, each twice:

- the 000 §7 checklist (``run_procedure(ctx, "post-rollback")`` on a fresh context): wall, calls per quota (after
  one untimed pass: the rehearsal starts a function's execution environment on its first invoke, a cost of
  the emulator's that AWS does not charge to the account's quotas);
- ``harness rollback --all`` (the CLI's ``main`` in this process, ``--target aws`` with ``AWS_ENDPOINT_URL`` on the
  rehearsal, so the CLI's own target paces as it would on AWS): the first run moves every alias to the previous
  version, the second back with ``--to-version 3`` (the same calls per function).

For each: the quota-implied minimum (per quota, the calls beyond its burst / its rate; the largest) and the
throttled requests the referee answered (zero on a healthy run). Quotas off: the referee is off and the
inventory says ``[api_quotas] pace = false`` (what the harness did before pacing).

Goals (printed): checklist within 1.1 x its minimum at N = 300, 1.5 x at N = 30; rollback --all within 1.2 x
at N = 300; no throttled request.

Run: python benchmarks/bench_quotas.py [--sizes 30,300] [--quotas on,off]
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

SIZES = {30: (6, 6), 300: (30, 30)}  # N -> (tables, ECS services), as bench_verify.py
SIGNING = {"cloudwatch": "monitoring"}  # botocore service name -> SigV4 signing name (the quota table's key)
GOALS = {("checklist", 30): 1.5, ("checklist", 300): 1.1, ("rollback", 300): 1.2}
REFILL_S = 1.5  # between runs: every bucket (burst <= rate) is full again after a second
RUNS = 2


def inventory_for(n: int, quotas: bool, workdir: Path) -> str:
    """A synthetic inventory of ``n`` functions; with quotas off it says ``pace = false``."""
    from harness.inventory.synth import Size, synthesize

    tables, services = SIZES[n]
    path = workdir / f"synth-{n}-{'on' if quotas else 'off'}.toml"
    synthesize(Size(functions=n, tables=tables, services=services), path)
    if not quotas:
        path.write_text(path.read_text() + "\n[api_quotas]\npace = false\n")
    return str(path)


def quota_minimum(calls: dict[str, int]) -> tuple[float, str]:
    """(seconds, quota) the calls need at least under the quotas: per bucket, (calls - burst) / rate."""
    from harness.quotas import quota_for

    per_group: dict[str, list[Any]] = {}
    for name, count in calls.items():
        service, operation = name.split(".", 1)
        quota = quota_for(SIGNING.get(service, service), operation)
        if quota is not None:
            per_group.setdefault(quota.group, [0, quota])[0] += count
    best, which = 0.0, "none"
    for group, (count, quota) in per_group.items():
        seconds = max(0.0, count - quota.burst) / quota.rate
        if seconds > best:
            best, which = seconds, f"{group}: {count} calls at {quota.rate:g}/s, burst {quota.burst:g}"
    return best, which


class Counted:
    """Counts the API calls of every target it listens to, by ``service.Operation``."""

    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()

    def __call__(self, service: str, operation: str, params: dict) -> None:
        """One call."""
        self.calls[f"{service}.{operation}"] += 1


def referee_throttled(account: str) -> int:
    """Requests the rehearsal answered with a throttling error so far (0 when it enforces nothing)."""
    from harness.targets.embedded.fidelity import api_quotas

    found = api_quotas.enforcement(account)
    return found.throttled if found else 0


def figures(kind: str, wall: float, counted: Counted, throttled: int, extra: dict[str, Any]) -> dict[str, Any]:
    """One run's figures."""
    minimum, busiest = quota_minimum(dict(counted.calls))
    return {
        "kind": kind,
        "wall_s": wall,
        "calls": sum(counted.calls.values()),
        "quota_min_s": minimum,
        "busiest": busiest,
        "throttled": throttled,
        **extra,
    }


def checklist_run(target: Any) -> dict[str, Any]:
    """The post-rollback checklist on a fresh context: wall, calls, minimum, throttled requests."""
    from harness.checks.context import CheckContext
    from harness.checks.runner import run_procedure

    counted, before = Counted(), referee_throttled(target.env.account)
    target.add_call_listener(counted)
    ctx = CheckContext.for_target(target, api_base_url=target.api_base_url)
    began = time.perf_counter()
    rows = run_procedure(ctx, "post-rollback")
    wall = time.perf_counter() - began
    target.remove_call_listener(counted)
    verdicts = collections.Counter(r.verdict.value for r in rows)
    retried = sum(int(r.evidence.get("throttled_retries", 0)) for r in rows)
    extra = {"rows": len(rows), "verdicts": dict(verdicts), "evidence_throttled": retried}
    return figures("checklist", wall, counted, referee_throttled(target.env.account) - before, extra)


def rollback_run(target: Any, inventory: str, to_version: str | None, reports: str) -> dict[str, Any]:
    """``harness rollback --all`` in this process against the rehearsal, as on AWS (``--target aws``)."""
    import harness.cli.common as common
    from harness.cli import main

    counted, made, before = Counted(), [], referee_throttled(target.env.account)
    original = common.make_target

    def counting_target(*args: Any, **kwargs: Any) -> Any:
        """The CLI's target, with the call counter listening."""
        made.append(original(*args, **kwargs))
        made[-1].add_call_listener(counted)
        return made[-1]

    argv = ["rollback", "--all", "--env", "sit", "--inventory", inventory, "--target", "aws"]
    argv += ["--allow-mutation", "--reason", "benchmark", "--reports-dir", reports]
    argv += ["--to-version", to_version] if to_version else []
    common.make_target = counting_target  # type: ignore[assignment] (the benchmark counts the CLI's calls)
    out = io.StringIO()
    try:
        began = time.perf_counter()
        with redirect_stdout(out):
            status = main(argv)
        wall = time.perf_counter() - began
    finally:
        common.make_target = original  # type: ignore[assignment] (restored)
    if status != 0:
        raise SystemExit(f"harness rollback --all exited {status}:\n{out.getvalue()[-3000:]}")
    retried = sum(t.throttled_retries for t in made)
    extra = {"to": to_version or "previous", "retried": retried}
    return figures("rollback", wall, counted, referee_throttled(target.env.account) - before, extra)


def one(n: int, quotas: bool, inventory: str) -> dict[str, Any]:
    """Seed, then the checklist and the rollback, each RUNS times; the figures as a dict (in its own process)."""
    from harness.targets.base import forget_user_aws_profile

    forget_user_aws_profile()
    from harness.inventory import load_inventory
    from harness.targets.embedded import EmbeddedTarget

    env = load_inventory(inventory).environment("sit")
    target = EmbeddedTarget(env, quotas=quotas)
    began = time.perf_counter()
    target.start()
    seeded = time.perf_counter() - began
    warm = checklist_run(target)  # untimed: the rehearsal starts each function's execution environment on first use
    runs = []
    for _ in range(RUNS):
        time.sleep(REFILL_S)
        runs.append(checklist_run(target))
    os.environ.update(
        AWS_ENDPOINT_URL=target.server.url,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    with tempfile.TemporaryDirectory(prefix="bench-quotas-reports-") as reports:
        for to in (None, "3")[:RUNS]:
            time.sleep(REFILL_S)
            runs.append(rollback_run(target, inventory, to, reports))
    target.close()
    return {"n": n, "quotas": quotas, "seed_s": seeded, "warm_s": warm["wall_s"], "runs": runs}


def report(r: dict[str, Any]) -> str:
    """One scenario's lines, with its goals."""
    lines = [
        f"N={r['n']} quotas={'on' if r['quotas'] else 'off'} (seeded in {r['seed_s']:.1f} s; a first, untimed "
        f"checklist starting the execution environments: {r['warm_s']:.2f} s)"
    ]
    for run in r["runs"]:
        what = "checklist" if run["kind"] == "checklist" else f"rollback --all (to {run['to']})"
        line = f"  {what}: wall {run['wall_s']:.2f} s, {run['calls']} calls, throttled {run['throttled']}"
        if run["kind"] == "checklist":
            line += f" (evidence: {run['evidence_throttled']}), rows {run['verdicts']}"
        else:
            line += f" (retried: {run['retried']})"
        lines.append(line)
        if r["quotas"] and run["quota_min_s"]:
            ratio = run["wall_s"] / run["quota_min_s"]
            goal = GOALS.get((run["kind"], r["n"]))
            verdict = f"; goal <= {goal:g} x: {'met' if ratio <= goal else 'NOT met'}" if goal else ""
            lines.append(
                f"    quota-implied minimum {run['quota_min_s']:.2f} s ({run['busiest']}); "
                f"wall = {ratio:.2f} x{verdict}"
            )
    if r["quotas"]:
        throttled = sum(run["throttled"] for run in r["runs"])
        lines.append(f"  goal no throttled request: {throttled} -> {'met' if throttled == 0 else 'NOT met'}")
    return "\n".join(lines)


def main() -> None:
    """Run every (N, quotas) scenario in its own process and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="30,300")
    parser.add_argument("--quotas", default="on,off")
    parser.add_argument("--one", nargs=3, metavar=("N", "QUOTAS", "INVENTORY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        n, q, inventory = args.one
        print(json.dumps(one(int(n), q == "on", inventory)))
        return
    print(f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bench-quotas-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            for q in args.quotas.split(","):
                inventory = inventory_for(n, q == "on", Path(tmp))
                proc = subprocess.run(
                    [sys.executable, __file__, "--one", str(n), q, inventory], capture_output=True, text=True
                )
                if proc.returncode:
                    print(f"N={n} quotas={q}: failed\n{proc.stderr[-3000:]}{proc.stdout[-2000:]}")
                    continue
                print(report(json.loads(proc.stdout.strip().splitlines()[-1])), flush=True)
    print(f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
