"""``harness`` command line: one module per subcommand, thin over the library.

Each command module exposes ``add_parser(subparsers)``, which registers its arguments and sets
``func`` (``args -> exit status``). A user mistake (``HarnessError``) is one ``harness: ...`` line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

from harness.errors import HarnessError


def _commands() -> list[ModuleType]:
    """The subcommand modules, in the order ``harness --help`` lists them."""
    from harness.cli import (  # issue 10: on-call rollback and promotion
        init,
        inventory,  # issue 14: synthetic inventories for platform-scale rehearsals
        promote,
        propie,
        rollback,
        runbook,
        serve,
        state,
        tables,
    )

    return [serve, rollback, promote, state, tables, propie, inventory, init, runbook]


def parser() -> argparse.ArgumentParser:
    """The ``harness`` argument parser with every subcommand registered."""
    root = argparse.ArgumentParser(
        prog="harness", description="Runbook harness: rehearse, execute and verify runbook procedures."
    )
    sub = root.add_subparsers(dest="command", required=True)
    for module in _commands():
        module.add_parser(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``harness`` command."""
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except HarnessError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. the port is taken, a file cannot be written
        print(f"harness: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130
