"""One table of the harness's command-line options, read by both front ends: the ``harness`` command
(argparse, harness/cli) and the pytest plugin (``pytest_addoption``, harness/pytest_plugin/options.py).

Each option has one name, one type, one default, its environment variables and one help text, so the
CLI and the plugin cannot drift apart. A front end adds an option with :func:`add`, giving only what is
its own (``required=True`` for a command that cannot run without it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from harness.inventory.loader import bundled_names
from harness.targets import TARGETS

DEFAULT_KEEP_RUNS = 20  # run directories kept under <reports-dir>/runs (harness setting; 0 keeps all)


@dataclass(frozen=True)
class Option:
    """One command-line option as both front ends declare it."""

    flag: str  # "--target"
    help: str
    default: Any = None
    env: tuple[str, ...] = ()  # environment variables that set the default (the first one set wins)
    action: str | None = None  # "store_true" | "append" | None (a value)
    metavar: str | None = None
    type: Callable[[str], Any] | None = None  # argparse/pytest converter; None keeps the text

    @property
    def dest(self) -> str:
        """The attribute name on the parsed options (``--approved-by`` -> ``approved_by``)."""
        return self.flag.lstrip("-").replace("-", "_")

    def default_now(self, environ: Mapping[str, str] | None = None) -> Any:
        """The default as the environment sets it now (an ``append`` option starts with a fresh list)."""
        environ = os.environ if environ is None else environ
        for name in self.env:
            if environ.get(name):
                return environ[name]
        return list(self.default or []) if self.action == "append" else self.default

    def full_help(self) -> str:
        """The help text, naming the environment variables."""
        return self.help + (f". Env: {', '.join(self.env)}" if self.env else "")

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``argparse.add_argument`` and pytest's ``addoption`` (the same API)."""
        out: dict[str, Any] = {"default": self.default_now(), "help": self.full_help()}
        if self.action:
            out["action"] = self.action
        if self.metavar:
            out["metavar"] = self.metavar
        if self.type is not None:
            out["type"] = self.type
        return out


def _options(*options: Option) -> dict[str, Option]:
    return {o.flag: o for o in options}


OPTIONS = _options(
    # What to act on (000 §1; docs/architecture.md "Safety model").
    Option("--env", "environment from the inventory (e.g. dev, sit, prod)", metavar="ENV"),
    Option(
        "--inventory",
        f"inventory file path or bundled name ({', '.join(bundled_names())})",
        default="bbws",
        env=("HARNESS_INVENTORY",),
    ),
    Option(
        "--target",
        "where calls go: embedded (moto in-process, default, safe: a seeded rehearsal), localstack, aws (real "
        "accounts)",
        default="embedded",
        env=("HARNESS_TARGET",),
        # No choices=: the front ends validate it themselves, with one ERROR line instead of a usage blob.
        metavar="{" + ",".join(TARGETS) + "}",
    ),
    Option(
        "--assume-role",
        "with --target aws: assume the environment's role from the inventory",
        action="store_true",
        default=False,
    ),
    Option(
        "--rehearsal-start",
        "embedded only: start the rehearsal clock at this UTC time (e.g. inside a maintenance window); it then runs "
        "on (a promotion: the destination's clock)",
        metavar="ISO8601",
    ),
    # Who acts, and why (000 §4.1; 001 §4.1.2).
    Option(
        "--allow-mutation",
        "allow changes on a target that is not disposable (aws, localstack); without it a command prints its plan "
        "and changes nothing",
        action="store_true",
        default=False,
    ),
    Option(
        "--approved-by",
        "an approver (repeat for each; protected environments need the runbook's count)",
        action="append",
        default=(),
        metavar="NAME",
    ),
    Option("--reason", "why this change is being made (recorded; required on protected environments)"),
    Option(
        "--incident", "incident ticket (recorded; the emergency promotion rule needs one, 001 §4.1.2)", metavar="ID"
    ),
    Option(
        "--emergency",
        "promote outside the maintenance window under the emergency rule (its approvers and --incident, 001 §4.1.2)",
        action="store_true",
        default=False,
    ),
    Option("--actor", "who runs the action (recorded in audit records; default: the OS user)"),
    # Where reports go, and what the checks read.
    Option(
        "--reports-dir",
        "where reports go (default: reports/): each pytest run in runs/<UTC>-<inventory>-<env>/ with latest -> the "
        "newest; incident reports and checklists of the commands",
        default="reports",
    ),
    Option(
        "--api-base-url",
        "base URL for the api-* checks instead of the target's",
        env=("HARNESS_API_BASE_URL",),
        metavar="URL",
    ),
    # pytest only (the plugin's run and session).
    Option(
        "--keep-runs",
        f"keep the newest N run directories under <reports-dir>/runs (default {DEFAULT_KEEP_RUNS}; 0 keeps all)",
        default=str(DEFAULT_KEEP_RUNS),
        env=("HARNESS_KEEP_RUNS",),
        metavar="N",
    ),
    Option(
        "--rehearse-quotas",
        "embedded only: enforce AWS's API request-rate quotas (throttling errors as AWS answers them; under xdist "
        "each worker's emulator enforces its share)",
        action="store_true",
        default=False,
    ),
    Option(
        "--shared-emulator",
        "embedded with xdist (-n): the controller seeds one emulator that every worker uses (read-only runs: "
        "mutating tests are skipped), instead of one emulator per worker",
        action="store_true",
        default=False,
    ),
    Option(
        "--expect-version",
        "the version (number or release label) FN's alias must point to after a rollback; repeat per function",
        action="append",
        default=(),
        metavar="FN=VER",
    ),
)

PYTEST_OPTIONS = tuple(OPTIONS)  # every option of the table is a pytest option (the plugin's group)


def add(adder: Callable[..., Any], flag: str, **own: Any) -> None:
    """Declare ``flag`` from the table with ``adder`` (``parser.add_argument`` or a pytest group's ``addoption``);
    ``own``: what only this front end adds (``required=True``)."""
    adder(flag, **{**OPTIONS[flag].kwargs(), **own})
