"""PITR restore + data verification throughput and memory, against ``harness serve`` in another process.

For each size (default 10,000 and 100,000 items of 1 KiB): fill a table (PITR enabled after the fill,
so the latest restorable time already holds every item), snapshot it (key -> digest), restore it with
the harness's pitr-restore action, then, in a fresh child process (so its peak RSS is the verifier's
alone): verify the restored table against the snapshot file (parallel segmented scan + digests), and
time a plain sequential full scan of the same table. Prints items/s of both, their ratio, and the
verifier's peak RSS (``resource.getrusage``).

Goals: verification (exact comparison) >= 0.8 x the throughput of a plain parallel scan (same segments);
verifier peak RSS < 150 MB at 100,000 items.

Run: python benchmarks/bench_pitr_verify.py [--sizes 10000 100000] [--segments 4] [--item-bytes 1024]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness.cli.serve import read_banner  # noqa: E402  (after the path: runnable from a checkout)


def serve() -> tuple[subprocess.Popen, dict[str, str]]:
    """``harness serve --env sit`` in a subprocess; what it printed (AWS_ENDPOINT_URL=...)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "serve", "--env", "sit"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    info = read_banner(proc.stdout)
    return proc, info


def client_env(info: dict[str, str]) -> dict[str, str]:
    """Dummy credentials and the served endpoint, for this process and the verifier child."""
    return {
        "AWS_ENDPOINT_URL": info["AWS_ENDPOINT_URL"],
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": info["AWS_DEFAULT_REGION"],
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def fill(ddb, table: str, n: int, item_bytes: int) -> float:
    """Create ``table`` and write ``n`` items of about ``item_bytes`` (BatchWriteItem on 8 threads); seconds."""
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    pad = "x" * max(item_bytes - 40, 0)

    def batch(start: int) -> None:
        items = [
            {"PutRequest": {"Item": {"id": {"S": f"item-{i:07d}"}, "n": {"N": str(i)}, "pad": {"S": pad}}}}
            for i in range(start, min(start + 25, n))
        ]
        todo = items
        while todo:
            todo = ddb.batch_write_item(RequestItems={table: todo}).get("UnprocessedItems", {}).get(table, [])

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(batch, range(0, n, 25)))
    return time.perf_counter() - began


def parallel_scan_count(ddb, table: str, segments: int) -> tuple[int, float]:
    """A plain parallel scan (same segments, every attribute read, nothing digested): items and seconds."""

    def segment(s: int) -> int:
        pages = ddb.get_paginator("scan").paginate(TableName=table, Segment=s, TotalSegments=segments)
        return sum(len(page.get("Items", [])) for page in pages)

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=segments) as pool:
        n = sum(pool.map(segment, range(segments)))
    return n, time.perf_counter() - began


def verify_child(restored: str, snapshot: str, segments: int) -> None:
    """In the child: verify against the snapshot (peak RSS read right after), then a plain parallel scan with the same
    segments, then a plain sequential full scan."""
    import boto3
    from botocore.config import Config

    from harness.data_verify import plain_scan_count, verify_against_snapshot

    ddb = boto3.client(
        "dynamodb",
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=max(segments, 10)),
    )
    report = verify_against_snapshot(ddb, restored, snapshot, segments=segments)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pn, parallel_s = parallel_scan_count(ddb, restored, segments)  # right after: the same load on the machine
    n, plain_s = plain_scan_count(ddb, restored)
    print(
        json.dumps(
            {
                "items": report.actual_count,
                "equal": report.equal,
                "verify_s": report.seconds,
                "plain_items": n,
                "plain_s": plain_s,
                "parallel_items": pn,
                "parallel_s": parallel_s,
                "peak_rss_mb": rss_mb,
            }
        )
    )


def run_size(target, n: int, item_bytes: int, segments: int, env: dict[str, str]) -> dict[str, float]:
    """Fill, snapshot, restore, then verify and plain-scan in a child process."""
    from harness.actions import Authority
    from harness.actions.pitr import drop_table, restore_table
    from harness.data_verify import table_digests, write_snapshot
    from harness.inventory.model import Table
    from harness.inventory.schema import KeyAttr

    ddb = target.client("dynamodb")
    table = f"bench-{n}"
    fill_s = fill(ddb, table, n, item_bytes)
    ddb.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    spec = Table(table, "required", "PAY_PER_REQUEST", KeyAttr(name="id"), None, (), "data", "benchmark")
    target.env = dataclasses.replace(target.env, tables=(*target.env.tables, spec))
    snap_began = time.perf_counter()
    snapshot = Path(tempfile.mkdtemp(prefix="bench-")) / f"{table}.jsonl"
    write_snapshot(table_digests(ddb, table, segments=segments), snapshot)
    snap_s = time.perf_counter() - snap_began
    authority = Authority(allow_mutation=True, actor="benchmark", reason="bench_pitr_verify")
    began = time.perf_counter()
    restored = restore_table(target, table, authority=authority)
    restore_s = time.perf_counter() - began
    assert restored.outcome == "COMPLETE", restored.message
    name = restored.evidence["restored_table"]
    print(
        f"  {n}: filled in {fill_s:.1f} s, snapshot in {snap_s:.1f} s, restored in {restore_s:.1f} s; verifying in a "
        "child process",
        flush=True,
    )
    child = subprocess.run(
        [sys.executable, __file__, "--verify-child", name, str(snapshot), str(segments)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if child.returncode != 0:
        raise SystemExit(f"verifier failed (exit {child.returncode}): {child.stderr[-3000:]}")
    out = json.loads(child.stdout.strip().splitlines()[-1])
    drop_table(target, name, authority=authority)
    ddb.delete_table(TableName=table)
    verify_rate, plain_rate = out["items"] / out["verify_s"], out["plain_items"] / out["plain_s"]
    parallel_rate = out["parallel_items"] / out["parallel_s"]
    print(
        f"{n:>7} items x {item_bytes} B: fill {fill_s:.1f} s, snapshot {snap_s:.1f} s, restore {restore_s:.1f} s | "
        f"verify {verify_rate:,.0f} items/s ({segments} segments, {'identical' if out['equal'] else 'DIFFERENT'}) | "
        f"plain scan {plain_rate:,.0f} items/s | plain parallel scan {parallel_rate:,.0f} items/s | ratio to the "
        f"parallel scan {verify_rate / parallel_rate:.2f} | verifier peak RSS "
        f"{out['peak_rss_mb']:.0f} MB",
        flush=True,
    )
    return {
        "items": n,
        "verify_rate": verify_rate,
        "plain_rate": plain_rate,
        "parallel_rate": parallel_rate,
        "rss_mb": out["peak_rss_mb"],
    }


def main() -> None:
    """Serve SIT, then measure each size."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--segments",
        type=int,
        default=None,
        help="parallel scan segments (default: harness.data_verify.DEFAULT_SEGMENTS)",
    )
    parser.add_argument("--item-bytes", type=int, default=1024)
    parser.add_argument("--verify-child", nargs=3, metavar=("TABLE", "SNAPSHOT", "SEGMENTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.verify_child:
        verify_child(args.verify_child[0], args.verify_child[1], int(args.verify_child[2]))
        return
    from harness.data_verify import DEFAULT_SEGMENTS
    from harness.inventory import load_inventory
    from harness.targets import make_target

    proc, info = serve()
    env = client_env(info)
    os.environ.update(env)
    try:
        target = make_target("aws", load_inventory("bbws").environment("sit"))
        target.start()
        for n in args.sizes:
            run_size(target, n, args.item_bytes, args.segments or DEFAULT_SEGMENTS, env)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)  # a server that held 100,000 items takes a while to exit on a loaded machine
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
