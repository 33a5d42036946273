"""Rollback of every function against ``harness serve`` in another process (performance goals).

For the bundled bbws SIT (7 functions) and synthetic inventories of 3 and 100 functions (bbws.toml's
shape, written to a temp dir), prints: API calls per function (counted with a botocore event hook,
``target.add_call_listener``), the library's wall time for ``rollback_all``, and the whole-process time
of ``harness rollback --all --target aws``.

Goals: <= 7 API calls per function (get alias, list versions, checkpoint, update, verify, invoke, and
the batch's record); 100 functions in < 5x the time of 7 (functions run concurrently); the whole
``harness rollback --all`` process on 3 functions < 0.5 s (000 §4.4's script takes ~4.75 s for 3).

Run: python benchmarks/bench_rollback.py [--repeat 3] [--skip-100]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from harness.cli.serve import read_banner

REPO = Path(__file__).resolve().parent.parent
SIT_ACCOUNT, REGION = "815856636111", "af-south-1"  # bbws.toml's SIT (000 §3.1): the synthetic copies keep its shape


def synthetic_inventory(folder: Path, functions: int) -> Path:
    """A bbws-shaped inventory with ``functions`` functions in four services (only SIT; no buckets/state/ECS)."""
    per = -(-functions // 4)
    services = []
    for s in range(4):
        names = [f'"bench-svc{s}-fn{i:03d}-{{env}}"' for i in range(s * per, min((s + 1) * per, functions))]
        if names:
            services.append(f'[[lambda.services]]\nname = "svc{s}"\nfunctions = [{", ".join(names)}]\n')
    text = f'''[inventory]
name = "bench{functions}"
title = "Synthetic rollback benchmark ({functions} functions, bbws.toml's shape)"
sources = ["000 §4.4"]

[environments.sit]
account = "{SIT_ACCOUNT}"
region = "{REGION}"
role = "bbws-github-actions-role-{{env}}"

[lambda]
alias = "latest-{{env}}"
backup_alias_prefix = "backup-"
incident_alias_prefix = "incident-"
checkpoint_alias_prefix = "rollback-checkpoint-"
health_payload = {{ httpMethod = "GET", path = "/health", headers = {{}} }}

{chr(10).join(services)}
[[dynamodb.tables]]
name = "bench-deployments-{{env}}"
billing_mode = "PAY_PER_REQUEST"
hash_key = {{ name = "deployment_id" }}
purpose = "deployments"

[auto_rollback]
health_status = 200

[rehearsal]
versions_per_function = 3
'''
    path = folder / f"bench{functions}.toml"
    path.write_text(text)
    return path


def clean_env() -> dict[str, str]:
    """This process's environment without AWS/harness settings (the served rehearsal sets its own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_"))}


@contextmanager
def served(inventory: str) -> Iterator[dict[str, str]]:
    """``harness serve --env sit --inventory X`` in a subprocess; yields the client environment for it."""
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "serve", "--env", "sit", "--inventory", inventory],
        cwd=REPO,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    info = read_banner(proc.stdout)
    if "AWS_ENDPOINT_URL" not in info:
        proc.kill()
        raise SystemExit(f"harness serve failed: {proc.stderr.read() if proc.stderr else ''}")
    print(f"  served {inventory} in {time.perf_counter() - began:.1f}s (seeded in another process)")
    try:
        yield {
            "AWS_ENDPOINT_URL": info["AWS_ENDPOINT_URL"],
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def library_run(
    inventory: str, client_env: dict[str, str], repeat: int, serial: bool = False
) -> tuple[int, float, float]:
    """(functions, API calls per function, median wall seconds) of ``rollback_all`` through the library."""
    os.environ.update(client_env)
    from harness.actions import Authority
    from harness.actions.rollback import RollbackTo, rollback_all
    from harness.inventory import load_inventory
    from harness.targets.aws import AwsTarget

    target = AwsTarget(load_inventory(inventory).environment("sit")).start()
    names = [f.name for f in target.env.functions]
    who = Authority(allow_mutation=True, reason="benchmark", actor="bench")
    times, per_function = [], 0.0
    for _ in range(repeat):
        calls: Counter = Counter()

        def count(service: str, op: str, params: dict, calls: Counter = calls) -> None:
            calls[op] += 1

        target.add_call_listener(count)
        began = time.perf_counter()
        result = rollback_all(target, who)
        times.append(time.perf_counter() - began)
        target.remove_call_listener(count)
        assert result.outcome == "COMPLETE", result.message
        per_function = sum(calls.values()) / len(names)
        print(
            f"    rollback_all: {times[-1]:.2f}s, {sum(calls.values())} calls ({per_function:.2f}/function): "
            f"{dict(sorted(calls.items()))}"
        )
        time.sleep(1)  # records carry second-resolution timestamps
        rollback_all(target, who, RollbackTo.each({fn: "3" for fn in names}))  # back to the seeded version (not timed)
        time.sleep(1)
    if serial:
        began = time.perf_counter()
        rollback_all(target, who, max_workers=1)
        print(
            "    rollback_all one function at a time (max_workers=1, for comparison): "
            f"{time.perf_counter() - began:.2f}s"
        )
        time.sleep(1)
        rollback_all(target, who, RollbackTo.each({fn: "3" for fn in names}))
        time.sleep(1)
    target.close()
    return len(names), per_function, statistics.median(times)


def process_run(inventory: str, client_env: dict[str, str], repeat: int) -> float:
    """Median wall seconds of the whole ``harness rollback --all --target aws`` process (restoring in between)."""
    from harness.actions import Authority
    from harness.actions.rollback import RollbackTo, rollback_all
    from harness.inventory import load_inventory
    from harness.targets.aws import AwsTarget

    times = []
    with tempfile.TemporaryDirectory() as reports, tempfile.TemporaryDirectory() as pycache:
        # As installed: bytecode cached (pip compiles site-packages; the harness's own modules are cached
        # on first use). A PYTHONDONTWRITEBYTECODE environment would recompile them on every run; the
        # first, untimed run fills a private cache instead of writing into the checkout.
        env = {k: v for k, v in clean_env().items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(client_env, PYTHONPYCACHEPREFIX=pycache)
        for i in range(repeat + 1):
            began = time.perf_counter()
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "harness.cli",
                    "rollback",
                    "--all",
                    "--env",
                    "sit",
                    "--inventory",
                    inventory,
                    "--target",
                    "aws",
                    "--allow-mutation",
                    "--reason",
                    "benchmark",
                    "--reports-dir",
                    reports,
                ],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
            )
            if i:
                times.append(time.perf_counter() - began)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            target = AwsTarget(load_inventory(inventory).environment("sit")).start()
            time.sleep(1)
            rollback_all(
                target,
                Authority(allow_mutation=True, reason="restore"),
                RollbackTo.each({f.name: "3" for f in target.env.functions}),
            )
            target.close()
            time.sleep(1)
    return statistics.median(times)


def main() -> None:
    """Print the figures and whether each goal is met."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--skip-100", action="store_true", help="leave out the 100-function inventory (its seeding takes a while)"
    )
    args = parser.parse_args()
    figures: dict[str, tuple[int, float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cases = [("bbws (bundled SIT)", "bbws"), ("3 functions", str(synthetic_inventory(Path(tmp), 3)))]
        if not args.skip_100:
            cases.append(("100 functions", str(synthetic_inventory(Path(tmp), 100))))
        whole = None
        for label, inventory in cases:
            print(f"{label}:")
            with served(inventory) as client_env:
                figures[label] = library_run(inventory, client_env, args.repeat, serial=label != "3 functions")
                if label == "3 functions":
                    whole = process_run(inventory, client_env, args.repeat)
                    print(f"    harness rollback --all (whole process): median {whole:.2f}s")
    print("\nresults (median of %d):" % args.repeat)
    for label, (n, per_fn, seconds) in figures.items():
        print(f"  {label:20s} {n:4d} functions  {per_fn:5.2f} calls/function  rollback_all {seconds:6.2f}s")
    worst = max(per for _, per, _ in figures.values())
    print(f"  goal <= 7 calls/function: {worst:.2f} -> {'met' if worst <= 7 else 'NOT met'}")
    if "100 functions" in figures:
        ratio = figures["100 functions"][2] / figures["bbws (bundled SIT)"][2]
        print(f"  goal 100 functions < 5x the time of 7: {ratio:.1f}x -> {'met' if ratio < 5 else 'NOT met'}")
    if whole is not None:
        print(
            f"  goal whole process on 3 functions < 0.5 s: {whole:.2f}s -> {'met' if whole < 0.5 else 'NOT met'} "
            "(000 §4.4 script: ~4.75 s)"
        )


if __name__ == "__main__":
    main()
