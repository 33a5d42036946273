"""``harness`` command line: one module per subcommand, thin over the library.

Each command module exposes ``add_parser(subparsers)``, which registers its arguments and sets
``func`` (``args -> exit status``). A user mistake (``HarnessError``) is one ``harness: ...`` line on
stderr and exit status 2, never a traceback.

Exit statuses every command shares: :data:`harness.cli.common.EXIT_STATUSES` (shown by ``harness
--help`` and docs/cli.md).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType, ModuleType

from harness.errors import HarnessError


def _commands() -> list[ModuleType]:
    """The subcommand modules, in the order ``harness --help`` lists them."""
    from harness.cli import (
        init,
        inventory,
        locks,
        promote,
        propie,
        rollback,
        runbook,
        serve,
        state,
        tables,
    )

    return [serve, rollback, promote, state, tables, propie, inventory, locks, init, runbook]


def parser() -> argparse.ArgumentParser:
    """The ``harness`` argument parser with every subcommand registered."""
    from harness.cli.common import exit_table

    root = argparse.ArgumentParser(
        prog="harness",
        description="Runbook harness: rehearse, execute and verify runbook procedures.",
        epilog=exit_table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    root.add_argument("--version", action="version", version=f"harness {version()}")
    sub = root.add_subparsers(dest="command", required=True)
    for module in _commands():
        module.add_parser(sub)
    return root


def version() -> str:
    """The installed package's version (package metadata), or ``unknown`` when run from an uninstalled tree."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("runbook-harness")
    except PackageNotFoundError:
        return "unknown"


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt("SIGTERM")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``harness`` command."""
    args = parser().parse_args(argv)
    previous = None
    if threading.current_thread() is threading.main_thread():
        # SIGTERM unwinds like Ctrl-C, so leases are released and records finished (``finally`` runs)
        previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        return _run(args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    """The command's exit status; with ``--output json`` the human lines go to stderr and one JSON document
    (harness/cli/output.py) to stdout."""
    if getattr(args, "output", "text") != "json":
        return _status(args)
    import contextlib

    from harness.cli import output

    doc, stdout = output.start(args), sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        status = _status(args)
    print(output.finish(doc, status), file=stdout, flush=True)
    return status


def _status(args: argparse.Namespace) -> int:
    """The command's exit status; every failure the user can act on is one line (see the module docstring)."""
    from harness.actions.table_copy import TableChanged
    from harness.cli.common import (
        EXIT_ACCOUNT_GUARD,
        EXIT_FAILED,
        EXIT_INTERRUPTED,
        EXIT_LEASE_HELD,
        EXIT_REFUSED,
        EXIT_USAGE,
        EvidenceRefused,
    )
    from harness.errors import AccountMismatch, RefusedError
    from harness.lease import LeaseHeld

    try:
        return int(args.func(args))
    except LeaseHeld as exc:
        print(f"harness: REFUSED: {exc}; nothing changed", file=sys.stderr)
        return EXIT_LEASE_HELD
    except (EvidenceRefused, RefusedError) as exc:
        print(f"harness: REFUSED: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except TableChanged as exc:  # someone wrote the table after the plan: plan again, never copy over it
        print(f"harness: FAILED: {exc}; nothing was copied over it, plan again", file=sys.stderr)
        return EXIT_FAILED
    except AccountMismatch as exc:
        print(f"harness: ACCOUNT GUARD: {exc}", file=sys.stderr)
        return EXIT_ACCOUNT_GUARD
    except HarnessError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # e.g. the port is taken, a file cannot be written
        print(f"harness: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
