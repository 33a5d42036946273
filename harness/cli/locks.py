"""``harness locks --env E``: the environment's operation lease, if any (a read: takes no lease).

    harness locks --env sit --target aws
    harness locks --env prod --target aws --json

Prints the target first (a read command names where it looked), then the holder (actor, host, pid),
command, scope, age and expiry, and how to break an expired lease (``--break-lease ID`` on the next
mutating command).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TextIO

from harness.cli.common import add_target_args, environment, started_target, target_line


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``harness locks``."""
    p = sub.add_parser(
        "locks",
        help="list the environment's operation lease (who holds it, for what, how old)",
        description="Read the environment's operation lease from the target account (harness/lease.py).",
    )
    add_target_args(p)
    p.add_argument("--json", action="store_true", help="print the lease as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print the lease (or that none is held); exit 0."""
    from harness.lease import LeaseSettings, read_lease

    out = out or sys.stdout
    env = environment(args)
    with started_target(args, env) as target:
        print(target_line(target), file=out)
        settings = LeaseSettings.of(env)
        if settings.table is None:
            print(f"no lease table: {env.inventory}/{env.name} names no deployments or [lease] table", file=out)
            return 0
        held = read_lease(target.client("dynamodb"), settings.table, env)
        now = time.time()
        if args.json:
            print(json.dumps({"table": settings.table.name, "lease": held.to_dict() if held else None}), file=out)
            return 0
        if held is None:
            print(f"no lease held on {env.inventory}/{env.name} (table {settings.table.name})", file=out)
            return 0
        print(held.describe(now), file=out)
        if held.expired(now):
            print(f"  expired: break it with --break-lease {held.lease_id} on the next command", file=out)
        return 0
