"""``harness serve``: a seeded embedded rehearsal of one environment, in the foreground."""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType
from typing import Iterable

from harness import options
from harness.inventory import load_inventory


def read_banner(lines: Iterable[str]) -> dict[str, str]:
    """What ``harness serve`` printed before its first ``#`` line (``AWS_ENDPOINT_URL=...`` and the rest), as a dict."""
    info: dict[str, str] = {}
    for line in lines:
        if line.startswith("#"):
            break
        key, _, value = line.strip().partition("=")
        info[key] = value
    return info


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``harness serve``."""
    serve_p = sub.add_parser(
        "serve",
        help="serve a seeded embedded (moto) rehearsal of one environment on 127.0.0.1",
        description="Serve a seeded rehearsal of one environment. The first output line is "
        "AWS_ENDPOINT_URL=http://127.0.0.1:PORT; any client with dummy credentials and that endpoint sees "
        "the environment's account. Stop with Ctrl-C or SIGTERM.",
    )
    options.add(serve_p.add_argument, "--env", required=True)
    options.add(serve_p.add_argument, "--inventory")
    serve_p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    serve_p.set_defaults(func=lambda args: serve(args.inventory, args.env, args.port))


def serve(inventory: str, env_name: str, port: int) -> int:
    """Start, seed and serve until SIGINT/SIGTERM; returns the exit status."""
    from harness.targets.base import forget_user_aws_profile

    forget_user_aws_profile()  # before moto is imported (docs/architecture.md "Safety model")
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
            print(f"HARNESS_API_BASE_URL={target.api_base_url}")  # the name the CLI and plugin read
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
