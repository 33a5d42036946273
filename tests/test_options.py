"""One option table (harness/options.py) feeds both front ends: every option the ``harness`` command and the
pytest plugin share has the same help, default and metavar in both, because both read it from the table."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from harness import cli
from harness.options import OPTIONS, Option
from harness.pytest_plugin import options as plugin_options

# Declared by both front ends before the table (argparse in harness/cli and pytest_addoption), help texts apart.
SHARED = (
    "--env",
    "--inventory",
    "--target",
    "--assume-role",
    "--rehearsal-start",
    "--allow-mutation",
    "--approved-by",
    "--reason",
    "--incident",
    "--emergency",
    "--actor",
    "--reports-dir",
    "--api-base-url",
)


# A command's own default on purpose: the propie commands act on the propie inventory unless told otherwise
# (harness/cli/propie.py, set_defaults).
OWN_DEFAULTS = {("--inventory", name) for name in ("amplify-switch-back", "amplify-redeploy", "stack-rollback")}


def _cli_actions() -> dict[str, list[tuple[str, argparse.Action]]]:
    """Every argparse action of every ``harness`` subcommand, by flag: (subcommand, action)."""
    root = cli.parser()
    sub = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    out: dict[str, list[tuple[str, argparse.Action]]] = {}
    for name, parser in sub.choices.items():
        for action in parser._actions:
            for flag in action.option_strings:
                out.setdefault(flag, []).append((name, action))
    return out


def _pytest_options() -> dict[str, Any]:
    """The plugin's options as pytest declares them (name -> pytest's Argument)."""
    parser = pytest.Parser(_ispytest=True)
    plugin_options.pytest_addoption(parser)
    group = parser.getgroup("runbook-harness")
    return {name: opt for opt in group.options for name in opt.names()}


def _expected(option: Option) -> dict[str, Any]:
    return {"help": option.full_help(), "default": option.default_now(), "metavar": option.metavar}


@pytest.mark.parametrize("flag", SHARED)
def test_the_cli_and_the_plugin_get_the_same_help_and_default_from_the_table(flag: str) -> None:
    option = OPTIONS[flag]
    cli_actions = _cli_actions().get(flag)
    assert cli_actions, f"no harness subcommand declares {flag}"
    for command, action in cli_actions:
        seen = {"help": action.help, "default": action.default, "metavar": action.metavar}
        if (flag, command) in OWN_DEFAULTS:
            seen["default"] = option.default_now()
        assert seen == _expected(option), command
    declared = _pytest_options()[flag].attrs()
    seen = {k: declared.get(k) for k in ("help", "default", "metavar")}
    assert seen == _expected(option)


def test_every_table_option_is_a_pytest_option_and_the_cli_declares_nothing_shared_by_hand() -> None:
    declared = _pytest_options()
    assert set(OPTIONS) <= set(declared), sorted(set(OPTIONS) - set(declared))
    cli_flags = set(_cli_actions())
    # A flag both front ends have must come from the table (the --help strings prove it above); a CLI-only flag
    # (--dry-run, --to, ...) is no pytest option.
    both = {f for f in cli_flags if f in declared}
    assert both <= set(OPTIONS), sorted(both - set(OPTIONS))
    assert set(SHARED) <= both


def test_an_environment_variable_sets_the_default_and_the_help_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_TARGET", "localstack")
    assert OPTIONS["--target"].default_now() == "localstack"
    assert OPTIONS["--target"].full_help().endswith("Env: HARNESS_TARGET")
    assert {action.default for _, action in _cli_actions()["--target"]} == {"localstack"}
    assert _pytest_options()["--target"].attrs()["default"] == "localstack"
    monkeypatch.delenv("HARNESS_TARGET")
    assert OPTIONS["--target"].default_now() == "embedded"


def test_an_append_option_starts_each_parse_with_its_own_list() -> None:
    first, second = OPTIONS["--approved-by"].default_now(), OPTIONS["--approved-by"].default_now()
    assert first == [] and first is not second
