"""``harness runbook rehearse``: the example's healthy rollback green after a bad deployment, its ``Versions[-2]``
section red after an earlier rollback (the checklist row named), refusals before anything runs, step records.

One seeded SIT for the module (each test takes back the faults it injects). The aws CLI runs the blocks:
without it on PATH these tests skip with the reason (.ci/run puts one there)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.cli.runbook import checklist_verifier
from harness.inventory import load_inventory
from harness.outcome import Outcome
from harness.runbook import faults
from harness.runbook import lint as lint_mod
from harness.runbook.document import load, parse
from harness.runbook.rehearse import rehearse
from harness.targets.embedded import EmbeddedTarget

EXAMPLE = Path(lint_mod.__file__).parent / "examples" / "lambda-rollback.md"
FN = "bbws-tenant-instance-management-sit"
pytestmark = pytest.mark.skipif(
    shutil.which("aws") is None or shutil.which("jq") is None,
    reason="the aws CLI or jq is not on PATH (the example's blocks use both; .ci/run puts the aws CLI there)",
)


@pytest.fixture(scope="module")
def sit() -> Iterator[EmbeddedTarget]:
    target = EmbeddedTarget(load_inventory("bbws").environment("sit")).start()
    yield target
    target.close()


def _alias(target: EmbeddedTarget, fn: str = FN) -> str:
    return str(target.client("lambda").get_alias(FunctionName=fn, Name="latest-sit")["FunctionVersion"])


def _placeholder_line() -> int:
    return next(i for i, t in enumerate(EXAMPLE.read_text().splitlines(), 1) if "<function-name>" in t)


def _row(result: object, slug: str) -> dict:
    return next(r for r in result.rows if r["slug"] == slug and r["resource"] == FN)  # type: ignore[attr-defined] (a Rehearsal)


def test_the_healthy_rollback_section_runs_green_after_a_bad_deployment(sit: EmbeddedTarget) -> None:
    before = _alias(sit)
    result = rehearse(
        load(EXAMPLE),
        "2",
        sit,
        inject=lambda t: faults.inject("bad-lambda-version", t),
        verify=checklist_verifier("post-rollback"),
    )
    assert result.outcome == Outcome.PASS, "\n".join(result.render())
    assert [s.status for s in result.steps] == ["ok", "ok", "ok"]
    assert [s.cite for s in result.steps] == ["lambda-rollback §2.1", "lambda-rollback §2.2", "lambda-rollback §2.3"]
    assert f"returning to {before}" in result.steps[0].output
    assert _row(result, "lambda-alias-version")["verdict"] == "pass"
    assert _row(result, "health-endpoint")["verdict"] == "pass"
    assert _alias(sit) == before  # the fault was taken back


def test_versions_minus_two_after_an_earlier_rollback_leaves_the_checklist_red(sit: EmbeddedTarget) -> None:
    runbook, served = load(EXAMPLE), _alias(sit)
    first = faults.inject("bad-lambda-version", sit)  # a bad release ...
    try:
        earlier = rehearse(runbook, "2", sit)  # ... rolled back: the alias serves the good version, the bad one stays
        assert earlier.ok and _alias(sit) == served, "\n".join(earlier.render())
        result = rehearse(  # the next bad release, rolled back with Versions[-2]
            runbook,
            "3",
            sit,
            inject=lambda t: faults.inject("bad-lambda-version", t),
            verify=checklist_verifier("post-rollback"),
        )
        report = "\n".join(result.render())
        assert result.outcome == Outcome.FAIL and result.failed_step is None, report  # every command "worked"
        alias_row = _row(result, "lambda-alias-version")
        assert alias_row["verdict"] == "fail" and f"version {served}" in alias_row["expected"], report
        assert str(first.after[FN]["version"]) in alias_row["observed"], report  # the earlier bad version again
        assert _row(result, "health-endpoint")["verdict"] == "fail", report
        assert report.splitlines()[-1].startswith(
            "FAIL: lambda-rollback §3 — 2 checklist row(s) stayed red after lambda-rollback §3: lambda-alias-version"
        ), report
        block = runbook.section("3").blocks[0]
        assert f"step 1 lambda-rollback §3 lines {block.line}-{block.end_line}: ok (exit 0)" in report
    finally:
        first.revert()
    assert _alias(sit) == served


def test_an_unbound_placeholder_refuses_before_anything_runs(sit: EmbeddedTarget) -> None:
    before = _alias(sit)
    injected: list[str] = []
    result = rehearse(load(EXAMPLE), "4", sit, inject=lambda t: injected.append("x"))  # type: ignore[arg-type,func-returns-value] (never called)
    assert result.outcome == Outcome.REFUSED and not injected
    line = _placeholder_line()
    assert result.refusals == [
        f"lambda-rollback §4 line {line}: <function-name> is not bound (--var function-name=VALUE)"
    ]
    assert all(s.status == "not run" for s in result.steps) and _alias(sit) == before


def test_a_failing_step_is_named_with_its_line_and_stops_the_section(sit: EmbeddedTarget, tmp_path: Path) -> None:
    text = (
        '# R\n\n## 1. Go\n\n```bash\nNAME=bbws-site-management-${ENV}\necho "first $NAME"\n```\n\n'
        '```bash\necho "still $NAME"\naws lambda get-alias --function-name nope-${ENV} --name latest-${ENV}\n'
        "echo after\n```\n\n```bash\necho never\n```\n"
    )
    result = rehearse(parse(text, tmp_path / "r.md"), "1", sit)
    assert result.outcome == Outcome.FAIL
    assert [s.status for s in result.steps] == ["ok", "failed", "not run"]
    step = result.steps[1]
    assert step.failed_lines == [12] and step.exit_code == 0  # the block went on, as a pasted block does
    assert "still bbws-site-management-sit" in step.output and "ResourceNotFoundException" in step.output
    assert "after" in step.output
    assert "FAIL: r §1 — step at r §1 lines 11-13 failed" in result.render()[-1]


def test_the_cli_refuses_unbound_without_starting_a_target(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["runbook", "rehearse", str(EXAMPLE), "--section", "4", "--env", "sit"])
    out = capsys.readouterr().out
    assert code == 3 and f"REFUSED: lambda-rollback §4 line {_placeholder_line()}: <function-name> is not bound" in out
    assert main(["runbook", "rehearse", str(EXAMPLE), "--section", "9", "--env", "sit"]) == 2
    assert main(["runbook", "rehearse", str(EXAMPLE), "--section", "2", "--env", "sit", "--fault", "nope"]) == 2


def test_an_interrupted_rehearsal_takes_its_fault_back(sit: EmbeddedTarget) -> None:
    before = _alias(sit)

    def interrupted(target: object, fault: object, mentioned: object) -> list[dict]:
        assert _alias(sit) == before  # the section ran: the alias is back where it was
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rehearse(load(EXAMPLE), "2", sit, inject=lambda t: faults.inject("bad-lambda-version", t), verify=interrupted)
    versions = [v["Version"] for v in sit.client("lambda").list_versions_by_function(FunctionName=FN)["Versions"]]
    assert _alias(sit) == before and max(int(v) for v in versions if v != "$LATEST") == int(before)


def test_the_cli_rehearses_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    runbook = tmp_path / "who.md"
    runbook.write_text(
        "# Who\n\n## 1. Check\n\n```bash\naws sts get-caller-identity --query Account --output text\n```\n"
    )
    report = tmp_path / "r.json"
    code = main(["runbook", "rehearse", str(runbook), "--section", "1", "--env", "dev", "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("REHEARSAL of who §1") and "PASS: who §1" in out, out
    step = json.loads(report.read_text())["steps"][0]
    assert step["exit_code"] == 0 and step["output"] == load_inventory("bbws").environment("dev").account


def test_a_script_without_its_arguments_is_refused(tmp_path: Path) -> None:
    from harness.runbook.rehearse import preflight

    runbook = parse('# S\n\n## 1. Run\n\n```bash\nENV=$1\necho "$ENV"\n```\n', tmp_path / "s.md")
    env = load_inventory("bbws").environment("sit")
    assert preflight(runbook, runbook.section("1"), env)[2] == ["s §1 line 6: $1 is not bound (--arg VALUE)"]
    assert preflight(runbook, runbook.section("1"), env, args=["sit"])[2] == []
