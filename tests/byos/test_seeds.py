"""The seed runbooks (the team's shared folder, ``../shared/seeds``): lint and rehearsal find the README's defects
1, 3, 4 and 6 by themselves. Skipped with the reason where the folder is absent; the aws CLI runs the rehearsals.

Only file names and section numbers are written here: the runbooks' text stays in the shared folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli.runbook import checklist_verifier
from harness.inventory import load_inventory
from harness.outcome import Outcome
from harness.runbook import faults
from harness.runbook.document import load
from harness.runbook.lint import lint
from harness.runbook.rehearse import rehearse
from harness.targets.embedded import EmbeddedTarget
from tests.conftest import REPO

# The team's shared folder beside the checkout; HARNESS_SEEDS_DIR points elsewhere (a worktree one level deeper).
SEEDS = Path(os.environ.get("HARNESS_SEEDS_DIR") or REPO.parent / "shared" / "seeds")
RB_000, RB_001, RB_004 = "000_5c6c467db84c15e7.txt", "001_fc67c3080bea1924.txt", "004_40ed7e99128d7546.txt"
FN = "bbws-tenant-instance-management-sit"
pytestmark = pytest.mark.skipif(
    not (SEEDS / RB_000).exists(), reason=f"the seed runbooks are not here ({SEEDS}: the team's shared folder)"
)
needs_aws_cli = pytest.mark.skipif(
    shutil.which("aws") is None or shutil.which("jq") is None, reason="the aws CLI or jq is not on PATH"
)


def _findings(name: str, inventory: str) -> list[str]:
    return [f.render() for f in lint(load(SEEDS / name), load_inventory(inventory), use_shellcheck=False).findings]


def test_lint_finds_defects_1_3_4_and_6_by_itself() -> None:
    rb000, rb001, rb004 = _findings(RB_000, "bbws"), _findings(RB_001, "bbws"), _findings(RB_004, "propie")
    # 1: BSD date in 000 §7.1
    assert any(f.startswith("000 §7.1 line") and "date -v-5M is BSD-only" in f for f in rb000), rb000
    # 3: health checks invoke the unqualified function (001 §3.3 and §4.3.1)
    for section in ("001 §3.3", "001 §4.3.1"):
        assert any(f.startswith(section) and "runs $LATEST" in f for f in rb001), rb001
    # 4: previous version = [-2] in 000 §4.4
    assert any(f.startswith("000 §4.4 line") and "[-2]" in f for f in rb000), rb000
    # 6: rollback-stack on a completed update (004 "Rollback Infrastructure Changes")
    assert any(f.startswith('004 "Rollback Infrastructure Changes"') and "rollback-stack" in f for f in rb004), rb004
    # and 2 and 7, which the README also lists
    assert any(f.startswith("000 §5.2.2") and "seed defect 2" in f for f in rb000), rb000
    assert any(f.startswith('004 "Rollback Amplify Deployment"') and "seed defect 7" in f for f in rb004), rb004


@pytest.fixture(scope="module")
def sit() -> Iterator[EmbeddedTarget]:
    target = EmbeddedTarget(load_inventory("bbws").environment("sit")).start()
    yield target
    target.close()


@needs_aws_cli
def test_rehearsing_000_7_1_fails_on_gnu_date(sit: EmbeddedTarget) -> None:
    result = rehearse(load(SEEDS / RB_000), "7.1", sit)
    step = result.steps[0]
    assert result.outcome == Outcome.FAIL and step.status == "failed", "\n".join(result.render())
    assert "date: invalid option -- 'v'" in step.output, step.output


@needs_aws_cli
def test_rehearsing_000_4_4_after_an_earlier_rollback_leaves_the_alias_on_the_bad_version(sit: EmbeddedTarget) -> None:
    runbook = load(SEEDS / RB_000)
    served = str(sit.client("lambda").get_alias(FunctionName=FN, Name="latest-sit")["FunctionVersion"])
    first = faults.inject("bad-lambda-version", sit)
    try:
        earlier = rehearse(runbook, "4.4", sit, args=["sit", "bad release"])
        assert earlier.ok, "\n".join(earlier.render())
        result = rehearse(
            runbook,
            "4.4",
            sit,
            args=["sit", "the next bad release"],
            inject=lambda t: faults.inject("bad-lambda-version", t),
            verify=checklist_verifier("post-rollback"),
        )
    finally:
        first.revert()
    report = "\n".join(result.render())
    red = {(r["slug"], r["resource"]): r for r in result.red_rows}
    assert result.outcome == Outcome.FAIL and result.failed_step is None, report
    alias = red[("lambda-alias-version", FN)]
    assert f"version {served}" in alias["expected"] and f"version {first.after[FN]['version']}" in alias["observed"]
    assert ("health-endpoint", FN) in red, report


@needs_aws_cli
def test_rehearsing_004_infrastructure_rollback_fails_on_rollback_stack() -> None:
    runbook = load(SEEDS / RB_004)
    target = EmbeddedTarget(load_inventory("propie").environment("production")).start()
    try:
        result = rehearse(runbook, "Rollback Infrastructure Changes", target)
    finally:
        target.close()
    step, text = result.steps[0], (SEEDS / RB_004).read_text().splitlines()
    line = next(i for i, t in enumerate(text, 1) if "cloudformation rollback-stack" in t)
    assert step.status == "failed" and line in step.failed_lines, "\n".join(result.render())
    assert "UPDATE_COMPLETE state and can not be rolled back" in step.output, step.output


def test_the_readme_does_not_copy_the_runbooks() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in (RB_000, RB_001, RB_004):
        for block in load(SEEDS / name).blocks:
            lines = [x.strip() for x in block.text.splitlines() if len(x.strip()) > 60]
            assert not [x for x in lines if x in readme], f"README.md copies {name} {block.section.label}"
