"""``harness`` command line: ``harness serve`` runs a seeded rehearsal environment in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from harness.errors import HarnessError
from harness.inventory import load_inventory
from harness.inventory.loader import bundled_names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description="Runbook harness tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve",
        help="serve a seeded embedded (moto) rehearsal of one environment on 127.0.0.1",
        description="Serve a seeded rehearsal of one environment. The first output line is "
        "AWS_ENDPOINT_URL=http://127.0.0.1:PORT; any client with dummy credentials and that endpoint sees "
        "the environment's account. Stop with Ctrl-C or SIGTERM.",
    )
    serve.add_argument("--env", required=True, help="environment name from the inventory")
    serve.add_argument("--inventory", default="bbws", help=f"inventory path or bundled name ({', '.join(bundled_names())})")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    return parser


def serve(inventory: str, env_name: str, port: int) -> int:
    """Start, seed and serve until SIGINT/SIGTERM; returns the exit status."""
    from harness.targets.embedded import EmbeddedTarget

    env = load_inventory(inventory).environment(env_name)
    target = EmbeddedTarget(env, port=port)
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        target.start()
        print(f"AWS_ENDPOINT_URL={target.server.url}")
        print(f"AWS_ACCOUNT_ID={env.account}")
        print(f"AWS_DEFAULT_REGION={env.region}")
        if target.api_base_url and target.api_base_url != (env.api.base_url if env.api else None):
            print(f"API_BASE_URL={target.api_base_url}")
        print(
            f"# rehearsal of {env.inventory}/{env.name}, seeded in {target.seed_seconds:.2f}s "
            f"({target.seeded.calls} calls) — not a real account. Ctrl-C or SIGTERM stops.",
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    finally:
        target.close()
    print("# stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``harness`` command."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args.inventory, args.env, args.port)
    except HarnessError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. the port is taken
        print(f"harness: {exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
