"""``harness --version``: the installed package's version, exit 0 (as ``aws --version``)."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from harness.cli import main


def test_version_prints_the_package_version_and_exits_0(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"harness {version('runbook-harness')}"


def test_help_shows_the_exit_status_table(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for status in ("0", "1", "2", "3", "4", "5", "130"):
        assert any(line.split()[:1] == [status] for line in out.splitlines()), status
