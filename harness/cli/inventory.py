"""``harness inventory synth``: a synthetic inventory of N functions, M tables, K ECS services."""

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
    add_discover(inv_sub)


def add_discover(inv_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``harness inventory discover``."""
    p = inv_sub.add_parser(
        "discover",
        help="read an account (read-only) into a draft inventory; merge a second environment into a draft",
        description="Read Lambda, DynamoDB, S3, ECS, SSM, CloudFormation, Amplify and CloudWatch with paginators and "
        "batch calls and write a draft inventory (validated by the loader), a comment on every guessed value. The "
        "caller identity must be --account before any other call.",
    )
    p.add_argument("--target", default="aws", choices=["aws"], help="where to read (aws; AWS_ENDPOINT_URL honoured)")
    p.add_argument("--env", required=True, help="the environment's name in the draft (sit, prod...)")
    p.add_argument("--account", required=True, help="the account the credentials must be (12 digits)")
    p.add_argument("--region", required=True, help="the environment's Region")
    p.add_argument("--profile", default=None, help="AWS profile (default: AWS_PROFILE or the default chain)")
    p.add_argument("--endpoint-url", default=None, help="read from this endpoint (e.g. `harness serve`)")
    p.add_argument("--name-prefix", action="append", default=[], metavar="PREFIX", help="only names starting so")
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="only resources with this tag")
    p.add_argument("--ssm-prefix", default=None, metavar="PATH", help="SSM parameters under this path")
    p.add_argument("--name", default=None, help="inventory name (default: the output file's stem)")
    p.add_argument("--merge", action="store_true", help="merge into the existing draft at --output")
    p.add_argument("-o", "--output", required=True, type=Path, help="the draft TOML to write")
    p.set_defaults(func=discover_cmd)


def discover_cmd(args: argparse.Namespace) -> int:
    """Verify the account, read it, write (or merge into) the draft; print what was found and the calls made."""
    import os
    import tomllib

    from harness.cli.runbook import parse_vars
    from harness.discover import discover, probe_environment
    from harness.draft import draft, merge, write
    from harness.errors import HarnessError
    from harness.targets.aws import AwsTarget

    if args.merge and not args.output.is_file():
        raise HarnessError(f"--merge: {args.output} does not exist (run once without --merge)")
    if not args.merge and args.output.exists():
        raise HarnessError(f"{args.output} exists: --merge to add environment {args.env} to it")
    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url  # every AWS SDK honours it (as `harness serve` users do)
    env = probe_environment(args.env, args.account, args.region)
    target = AwsTarget(env, profile=args.profile)
    try:
        target.start()  # the account guard: AccountMismatch before any other call
        found = discover(
            target, args.env, prefixes=args.name_prefix, tags=parse_vars(args.tag), ssm_prefix=args.ssm_prefix
        )
    finally:
        target.close()
    if args.merge:
        raw, comments = merge(tomllib.loads(args.output.read_text(encoding="utf-8")), found)
    else:
        raw, comments = draft(found, args.name or args.output.stem)
    write(raw, comments, args.output)
    calls = sum(found.calls.values())
    print(
        f"{args.output}: {args.env} ({found.account} {found.region}): {len(found.functions)} functions, "
        f"{len(found.tables)} tables, {len(found.buckets)} buckets, {len(found.services)} ECS services, "
        f"{len(found.state_keys)} state keys; {calls} read calls"
    )
    for note in found.notes:
        print(f"note: {note}")
    return 0


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
