"""Confirmation on a terminal, as Terraform's ``apply`` asks unless ``-auto-approve``.

A mutating command against a kept (non-disposable) target — ``--target aws``, LocalStack — run by an
operator on a terminal (stdin and stderr both TTYs) prints its plan, then asks for the environment's name;
the typed name is the consent, anything else stops it (exit 3, nothing changed). ``--yes`` skips the
question, and then, as in every non-interactive run (CI, a pipe, a script), ``--allow-mutation`` is the
consent. A disposable rehearsal never asks; nor does ``--dry-run``.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from harness.targets import Target


def add_yes_arg(p: argparse.ArgumentParser) -> None:
    """--yes: no question on a terminal (``--allow-mutation`` is then the consent, as in CI)."""
    p.add_argument(
        "--yes",
        action="store_true",
        help="on a terminal, do not ask for the environment's name before changing a kept target (--allow-mutation "
        "is then the consent, as in a non-interactive run)",
    )


def on_terminal() -> bool:
    """True when an operator can see the question and answer it (stdin and stderr are terminals)."""
    return _isatty(sys.stdin) and _isatty(sys.stderr)


def _isatty(stream: TextIO | None) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except ValueError:  # a closed stream: nobody to ask
        return False


def must_confirm(args: argparse.Namespace, target: Target) -> bool:
    """True when this run's apply waits for the operator to type the environment's name."""
    if target.disposable or getattr(args, "dry_run", False) or getattr(args, "yes", False):
        return False
    return on_terminal()


def confirmed(target: Target) -> bool:
    """Ask (on stderr) for the environment's name; True when it was typed exactly."""
    env = target.env
    print(
        f"Apply the plan above to {env.inventory}/{env.name} on target {target.name} (a kept account)?\n"
        f"  Only '{env.name}' is accepted. Type the environment's name: ",
        end="",
        file=sys.stderr,
        flush=True,
    )
    answer = sys.stdin.readline()
    return answer.strip() == env.name


def not_confirmed(target: Target) -> str:
    """The refusal line when the operator did not type the environment's name (exit 3)."""
    return f"REFUSED: not confirmed (the answer was not '{target.env.name}'); nothing changed"
