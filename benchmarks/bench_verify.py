"""The 000 §7 checklist ("post-rollback") at platform scale on the embedded target.

For N = 7 (bundled SIT), 30 and 300 functions (synthetic inventories, tables and ECS services scaled
along), with API quotas off and on, each in its own process (so peak memory is the scenario's own):
seeding seconds (per function), the checklist's API calls (per operation, per function), its wall
time, the emulator's raw call ceiling measured in the same process (a tight loop of STS
GetCallerIdentity on the target before quotas apply), and with quotas on the quota-implied minimum
(for each quota: the calls beyond its burst / its rate; the largest).

Goals (printed with each line): calls per function <= 2 + the batched GetMetricData (500 queries a
call) and DescribeServices (10 a call) (a release-label expectation adds one GetFunction); wall at
N = 300 with quotas off <= 1.5 x calls / ceiling; with quotas on (the clients pacing themselves to the
quotas, harness/pacing.py) <= 1.1 x the quota-implied minimum at N = 300 (1.5 x at N = 30), no throttled
call and no ERROR row. ``benchmarks/bench_quotas.py`` adds ``harness rollback --all`` at the quota limit.

Run: python benchmarks/bench_verify.py [--sizes 7,30,300] [--quotas off,on]
"""

from __future__ import annotations

import argparse
import collections
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {7: None, 30: (6, 6), 300: (30, 30)}  # N -> (tables, ECS services) of the synthetic inventory; 7: bundled SIT
CEILING_SECONDS = 3.0
SIGNING = {"cloudwatch": "monitoring"}  # botocore service name -> SigV4 signing name (the quota table's key)
# With quotas on, the checklist's wall against its quota-implied minimum: the paced control-plane lane overlaps
# the other rows (harness/checks/runner.py), so the minimum is what is left once the fixed costs are small.
GOALS_QUOTAS = {30: 1.5, 300: 1.1}
PER_FUNCTION_OPS = ("GetAlias", "GetFunction", "Invoke", "ListVersionsByFunction", "FilterLogEvents")


def inventory_for(n: int, workdir: Path) -> str:
    """The inventory of size ``n`` (bundled bbws for 7)."""
    if SIZES[n] is None:
        return "bbws"
    from harness.inventory.synth import Size, synthesize

    tables, services = SIZES[n]
    path = workdir / f"synth-{n}.toml"
    synthesize(Size(functions=n, tables=tables, services=services), path)
    return str(path)


def ceiling(target) -> float:
    """Calls per second of a cheap call (STS GetCallerIdentity) in a tight loop, this process."""
    sts = target.client("sts")
    began, calls = time.perf_counter(), 0
    while time.perf_counter() - began < CEILING_SECONDS:
        sts.get_caller_identity()
        calls += 1
    return calls / (time.perf_counter() - began)


def quota_minimum(calls: dict[str, int], share: float = 1.0) -> tuple[float, str]:
    """(seconds, quota) the calls need at least under the quotas: per bucket, (calls - burst) / rate."""
    from harness.targets.embedded.fidelity.api_quotas import quota_for

    per_group: dict[str, tuple[int, object]] = {}
    for name, count in calls.items():
        service, operation = name.split(".", 1)
        quota = quota_for(SIGNING.get(service, service), operation)
        if quota is None:
            continue
        done, _ = per_group.get(quota.group, (0, quota))
        per_group[quota.group] = (done + count, quota)
    best, which = 0.0, "none"
    for group, (count, quota) in per_group.items():
        seconds = max(0.0, count - quota.burst * share) / (quota.rate * share)  # type: ignore[attr-defined]
        if seconds > best:
            best, which = seconds, f"{group} ({count} calls at {quota.rate:g}/s, burst {quota.burst:g})"  # type: ignore[attr-defined]
    return best, which


def one(n: int, quotas: bool, inventory: str) -> dict:
    """Seed, measure the ceiling, run the checklist; the figures as a dict (runs in its own process)."""
    from harness.targets.base import forget_user_aws_profile

    forget_user_aws_profile()
    from harness.checks.context import CheckContext
    from harness.checks.runner import run_procedure
    from harness.inventory import load_inventory
    from harness.targets.embedded import EmbeddedTarget

    env = load_inventory(inventory).environment("sit")
    target = EmbeddedTarget(env, quotas=quotas)
    began = time.perf_counter()
    target.start()
    seeded_at = time.perf_counter()
    if quotas:  # the ceiling is the emulator's, unthrottled: measured with the account's quotas lifted
        from harness.targets.embedded.fidelity import api_quotas

        api_quotas.release(env.account)
        target.stop_pacing()  # the clients' pacing too: STS has a quota of its own
        raw = ceiling(target)
        api_quotas.enforce(env.account, target.quota_share)
        target.pace(target.quota_share)
        time.sleep(1.5)  # every bucket full again, on both sides
    else:
        raw = ceiling(target)
    calls: collections.Counter[str] = collections.Counter()

    def count(service: str, operation: str, params: dict) -> None:
        """Count one API call by operation."""
        calls[f"{service}.{operation}"] += 1

    target.add_call_listener(count)
    ctx = CheckContext.for_target(target, api_base_url=target.api_base_url)
    start = time.perf_counter()
    rows = run_procedure(ctx, "post-rollback")
    wall = time.perf_counter() - start
    target.remove_call_listener(count)
    verdicts = collections.Counter(r.verdict.value for r in rows)
    functions = len(env.functions)
    per_function = sum(c for k, c in calls.items() if k.split(".", 1)[1] in PER_FUNCTION_OPS)
    minimum, busiest = quota_minimum(dict(calls)) if quotas else (0.0, "")
    out = {
        "n": n,
        "quotas": quotas,
        "functions": functions,
        "rows": len(rows),
        "verdicts": dict(verdicts),
        "seed_s": target.seed_seconds,
        "seed_calls": target.seeded.calls,
        "start_s": seeded_at - began,
        "calls": sum(calls.values()),
        "per_op": dict(calls.most_common()),
        "per_function_calls": per_function / functions,
        "wall_s": wall,
        "ceiling": raw,
        "quota_min_s": minimum,
        "busiest": busiest,
        "throttled_retries": target.throttled_retries,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "errors": [r.message() for r in rows if r.verdict.value == "error"][:5],
    }
    target.close()
    return out


def report(r: dict) -> str:
    """One scenario's lines, with its goals."""
    n, calls, ceiling_ = r["n"], r["calls"], r["ceiling"]
    batched = r["per_op"].get("cloudwatch.GetMetricData", 0) + r["per_op"].get("ecs.DescribeServices", 0)
    lines = [
        f"N={n} quotas={'on' if r['quotas'] else 'off'}: {r['rows']} rows {r['verdicts']}",
        f"  seed {r['seed_s']:.1f} s for {r['seed_calls']} calls ({r['seed_s'] / r['functions']:.3f} s per function; "
        f"goal <= 1.5 x {r['seed_calls']}/{ceiling_:.0f} = {1.5 * r['seed_calls'] / ceiling_:.1f} s), peak RSS "
        f"{r['peak_rss_mb']:.0f} MB",
        f"  checklist: {calls} calls ({calls / r['functions']:.2f} per function; per-function APIs "
        f"{r['per_function_calls']:.2f} + "
        f"{batched} batched calls), wall {r['wall_s']:.2f} s, ceiling {ceiling_:.0f} calls/s",
        "  calls: " + ", ".join(f"{k} {v}" for k, v in r["per_op"].items()),
    ]
    if r["quotas"] and not r["quota_min_s"]:
        lines.append(
            f"  quota-implied minimum 0 s (every quota's calls fit its burst): no quota goal; throttled and retried "
            f"{r['throttled_retries']}; ERROR rows {r['verdicts'].get('error', 0)}"
        )
    elif r["quotas"]:
        goal = GOALS_QUOTAS.get(n, 1.1) * r["quota_min_s"]
        lines.append(
            f"  quota-implied minimum {r['quota_min_s']:.2f} s ({r['busiest']}); goal wall <= {goal:.2f} s: "
            f"{'met' if r['wall_s'] <= goal else 'NOT met'} ({r['wall_s'] / r['quota_min_s']:.2f} x); throttled and "
            "retried "
            f"{r['throttled_retries']}; ERROR rows {r['verdicts'].get('error', 0)}"
        )
    else:
        goal = 1.5 * calls / ceiling_
        lines.append(
            f"  goal wall <= 1.5 x calls / ceiling = {goal:.2f} s: {'met' if r['wall_s'] <= goal else 'NOT met'} "
            f"({r['wall_s'] * ceiling_ / calls:.2f} x calls / ceiling)"
        )
    for e in r["errors"]:
        lines.append(f"  ERROR {e[:200]}")
    return "\n".join(lines)


def main() -> None:
    """Run every (N, quotas) scenario in its own process and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="7,30,300")
    parser.add_argument("--quotas", default="off,on")
    parser.add_argument("--one", nargs=3, metavar=("N", "QUOTAS", "INVENTORY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        n, q, inventory = args.one
        print(json.dumps(one(int(n), q == "on", inventory)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            inventory = inventory_for(n, Path(tmp))
            for q in args.quotas.split(","):
                proc = subprocess.run(
                    [sys.executable, __file__, "--one", str(n), q, inventory], capture_output=True, text=True
                )
                if proc.returncode:
                    print(f"N={n} quotas={q}: failed\n{proc.stderr[-3000:]}")
                    continue
                print(report(json.loads(proc.stdout.strip().splitlines()[-1])), flush=True)


if __name__ == "__main__":
    main()
