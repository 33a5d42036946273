"""``harness inventory synth``: a synthetic inventory of N functions, M tables, K ECS services (issue 14)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.inventory.synth import Size, synthesize


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``harness inventory synth``."""
    inv = sub.add_parser("inventory", help="inventory tools (synth: a synthetic estate of any size)")
    inv_sub = inv.add_subparsers(dest="inventory_command", required=True)
    p = inv_sub.add_parser(
        "synth",
        help="write a synthetic inventory (bundled format) of N functions, M tables and K ECS services",
        description="Write a valid inventory of the chosen size (validated with the loader before it is written); "
        "the embedded target seeds it like any inventory: pytest scenarios/ --env sit --inventory FILE",
    )
    p.add_argument("--functions", type=int, required=True, metavar="N", help="Lambda functions per environment")
    p.add_argument(
        "--tables", type=int, required=True, metavar="M", help="DynamoDB tables (the first holds deployment records)"
    )
    p.add_argument("--services", type=int, required=True, metavar="K", help="ECS services (a multiple of --tenants)")
    p.add_argument("--tenants", type=int, default=None, metavar="T", help="tenants (default: K, one service each)")
    p.add_argument("--name", default=None, help="inventory name (default synth-N)")
    p.add_argument("-o", "--output", required=True, type=Path, help="the TOML file to write")
    p.set_defaults(func=synth_cmd)


def synth_cmd(args: argparse.Namespace) -> int:
    """Write the inventory; print what it holds."""
    size = Size(functions=args.functions, tables=args.tables, services=args.services, tenants=args.tenants)
    inventory = synthesize(size, args.output, args.name)
    env = inventory.environment("sit")
    ecs = len(env.ecs.services) if env.ecs else 0
    print(
        f"{args.output}: inventory {inventory.name}: {len(env.functions)} functions, {len(env.tables)} tables, "
        f"{ecs} ECS services, {len(env.tenants)} tenants per environment ({', '.join(inventory.env_names)})"
    )
    return 0
