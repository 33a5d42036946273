"""The ``runbook_section`` fixture and marker: a team keeps "this runbook section still works" in its suite."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from harness.runbook import lint as lint_mod
from tests.conftest import run_pytest

EXAMPLE = Path(lint_mod.__file__).parent / "examples" / "lambda-rollback.md"


@pytest.mark.skipif(
    shutil.which("aws") is None or shutil.which("jq") is None, reason="the aws CLI or jq is not on PATH"
)
def test_a_runbook_section_as_a_scenario(tmp_path: Path) -> None:
    (tmp_path / "rollback.md").write_text(EXAMPLE.read_text())
    (tmp_path / "test_runbook.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.runbook_section("rollback.md", "2", fault="bad-lambda-version", verify="post-rollback")
            def test_rollback_section_still_works(runbook_rehearsal):
                assert runbook_rehearsal.ok, "\\n".join(runbook_rehearsal.render())

            def test_the_unbound_section_is_refused(runbook_section):
                result = runbook_section("rollback.md", "4")
                assert str(result.outcome) == "REFUSED" and not result.ok
            """
        )
    )
    run = run_pytest(str(tmp_path), "--env", "sit", "-q", "-n", "0", "-p", "no:randomly", "--rootdir", str(tmp_path))
    assert run.returncode == 0 and "2 passed" in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]
