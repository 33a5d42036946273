"""The README's Quickstart runs as written: the fenced blocks after a ``<!-- runnable: tests/test_readme.py
... -->`` line (the README's Quickstart, and the serve snippet in docs/targets-and-safety.md) run here, in
bash, in a copy of the checkout (pyproject.toml, conftest.py and the read-only scenarios: see
QUICKSTART_SCENARIOS), with ``pytest``, ``python`` and ``harness`` meaning this interpreter
(``sys.executable``; nothing is installed). Every other command block of README.md and docs/ is checked by
tests/test_docs.py.

The ``<!-- runnable: after harness serve --env sit (tests/test_readme.py ...) -->`` block runs after the
test started that command; the values it printed replace the placeholders of the block's ``NAME=value``
assignments.

The Quickstart run also stands for "the main job": header line, reports at the documented paths, and a
rehearsal that ignores the user's AWS configuration (AWS_PROFILE=bbws-prod and real-looking keys are
exported; a probe scenario shows what a Lambda handler's process sees).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO, serve, stop

README = REPO / "README.md"
SERVE_PAGE = REPO / "docs" / "targets-and-safety.md"
CATALOGUE_PAGE = REPO / "docs" / "checklists.md"
MARKER = re.compile(r"^<!-- runnable:\s*(?P<note>.*tests/test_readme\.py.*?)\s*-->$")
USER_AWS_CONFIGURATION = {
    # What a platform engineer often has exported: a profile this machine does not have, and real-looking keys.
    "AWS_PROFILE": "bbws-prod",
    "AWS_DEFAULT_PROFILE": "bbws-prod",
    "AWS_ACCESS_KEY_ID": "AKIAREALKEYREALKEY00",
    "AWS_SECRET_ACCESS_KEY": "real-secret",
}
HANDLER_ENV_PROBE = textwrap.dedent(
    '''
    """Probe (added by tests/test_readme.py): what a rehearsal's Lambda handler process sees."""
    import io, json, os, zipfile

    import pytest

    SOURCE = "import os\\ndef handler(event, context):\\n    return dict(os.environ)\\n"


    def test_no_user_aws_profile_in_the_run():
        assert "AWS_PROFILE" not in os.environ and "AWS_DEFAULT_PROFILE" not in os.environ


    @pytest.mark.mutating
    def test_handler_environment_is_the_rehearsals(aws, env):
        lam = aws("lambda")
        role = lam.get_function(FunctionName=env.functions[0].name)["Configuration"]["Role"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as z:
            z.writestr("probe.py", SOURCE)
        lam.create_function(FunctionName="harness-env-probe", Runtime="python3.11", Role=role, Handler="probe.handler",
                            Code={"ZipFile": code.getvalue()})
        seen = json.loads(lam.invoke(FunctionName="harness-env-probe")["Payload"].read())
        print("HANDLER-ENV " + json.dumps({k: v for k, v in seen.items() if k.startswith("AWS_")}))
        assert not {"AWS_PROFILE", "AWS_DEFAULT_PROFILE"} & set(seen), seen
        assert seen["AWS_ACCESS_KEY_ID"] == "testing" and seen["AWS_SECRET_ACCESS_KEY"] == "testing"
        assert seen["AWS_CONFIG_FILE"] == os.devnull and seen["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
        assert seen["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    '''
)


@dataclass
class Block:
    note: str
    text: str
    line: int


def runnable_blocks(text: str) -> list[Block]:
    """Every fenced block right after a ``<!-- runnable: ... tests/test_readme.py ... -->`` line."""
    lines = text.splitlines()
    blocks = []
    for i, line in enumerate(lines):
        m = MARKER.match(line.strip())
        if not m:
            continue
        assert lines[i + 1].startswith("```"), f"README.md:{i + 1}: a runnable marker must precede a fenced block"
        end = next(j for j in range(i + 2, len(lines)) if lines[j].startswith("```"))
        blocks.append(Block(m.group("note") or "", "\n".join(lines[i + 2 : end]), i + 1))
    return blocks


# The Quickstart's scenarios: the smoke test and the read-only checklists. The drills in scenarios/ (rollback,
# promotion, PITR, Terraform; tens of seconds) are run by their own tests (tests/actions, tests/data, ...);
# here they would only repeat that cost.
QUICKSTART_SCENARIOS = (
    "test_smoke.py",
    "test_post_rollback_verification.py",
    "test_post_deployment_validation.py",
    "test_pre_promotion.py",
)


def _checkout_copy(tmp_path: Path, scenarios: tuple[str, ...] = QUICKSTART_SCENARIOS) -> Path:
    """What a user's checkout has that the commands use (the package itself is installed)."""
    root = tmp_path / "checkout"
    (root / "scenarios").mkdir(parents=True)
    for name in scenarios:
        shutil.copy2(REPO / "scenarios" / name, root / "scenarios" / name)
    for name in ("pyproject.toml", "conftest.py", "README.md"):
        shutil.copy2(REPO / name, root / name)
    return root


def run_block(block: str, cwd: Path, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    """The block in bash -e, with pytest/python/harness resolved to this interpreter."""
    prelude = textwrap.dedent(
        f'''
        set -euo pipefail
        pytest() {{ "{sys.executable}" -m pytest "$@"; }}
        python() {{ "{sys.executable}" "$@"; }}
        python3() {{ "{sys.executable}" "$@"; }}
        harness() {{ "{sys.executable}" -m harness.cli "$@"; }}
        '''
    )
    base = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("AWS_", "HARNESS_", "PYTEST_"))}
    return subprocess.run(
        ["bash", "-c", prelude + block], cwd=cwd, env={**base, **env}, capture_output=True, text=True, timeout=timeout
    )


def test_the_runnable_blocks_are_the_ones_this_test_knows() -> None:
    blocks = runnable_blocks(README.read_text(encoding="utf-8")) + runnable_blocks(
        SERVE_PAGE.read_text(encoding="utf-8")
    )
    assert [b.text.splitlines()[0] for b in blocks] == [
        QUICKSTART_INSTALL + " && " + QUICKSTART_RUN,
        (
            "export AWS_ENDPOINT_URL=http://127.0.0.1:PORT AWS_DEFAULT_REGION=af-south-1 "
            "HARNESS_API_BASE_URL=http://127.0.0.1:PORT2"
        ),
    ], "a new runnable block needs a test here (or the marker moved)"
    others = [
        path.name
        for path in [README, *(REPO / "docs").glob("*.md")]
        if path not in (README, SERVE_PAGE) and runnable_blocks(path.read_text(encoding="utf-8"))
    ]
    assert not others, f"blocks marked for tests/test_readme.py on pages it does not read: {others}"


QUICKSTART_INSTALL = "python3 -m venv .venv && . .venv/bin/activate && pip install -e ."
QUICKSTART_RUN = "pytest scenarios/ --env sit"


def _quickstart() -> Block:
    (block,) = [b for b in runnable_blocks(README.read_text(encoding="utf-8")) if not b.note.startswith("after")]
    return block


def test_quickstart_is_two_commands_and_the_second_is_what_ci_runs() -> None:
    """Exactly two commands: install + the main job; install + the project's tests, as .ci/run does them."""
    lines = _quickstart().text.splitlines()
    assert len(lines) == 2 and lines[0] == f"{QUICKSTART_INSTALL} && {QUICKSTART_RUN}", lines
    ci = (REPO / ".ci" / "run").read_text()
    install = re.search(r"pip install -q (-e \S+)", ci).group(1)
    test = re.search(r"^(pytest tests/\S*(?: \S+)*)$", ci, re.M).group(1)
    assert lines[1] == f"python3 -m venv .venv && . .venv/bin/activate && pip install {install} && {test}", (
        lines[1],
        install,
        test,
    )


def test_quickstart_runs_as_written_and_ignores_the_users_aws_configuration(tmp_path: Path) -> None:
    """The main job (the first command after its install; .ci/run and a fresh clone exercise the install itself)."""
    block = _quickstart()
    root = _checkout_copy(tmp_path)
    (root / "scenarios" / "test_zz_handler_env_probe.py").write_text(HANDLER_ENV_PROBE)
    proc = run_block(QUICKSTART_RUN, root, USER_AWS_CONFIGURATION)
    assert proc.returncode == 0, f"README.md:{block.line}\n" + proc.stdout[-3000:] + proc.stderr[-3000:]

    header = [line for line in proc.stdout.splitlines() if line.startswith("inventory=")]
    assert len(header) == 1
    assert header[0].startswith(
        "inventory=bbws env=sit account=815856636111 region=af-south-1 target=embedded (rehearsal on moto 5.2."
    )
    assert re.search(r" at 127\.0\.0\.1:\d+ — not a real account\)$", header[0]), header[0]

    # the paths the README promises
    reports = root / "reports"
    suite = ET.parse(reports / "junit.xml").getroot().find("testsuite")
    assert int(suite.get("tests")) > 100 and suite.get("failures") == "0" and suite.get("errors") == "0"
    probes = {
        case.get("name")
        for case in suite.iter("testcase")
        if case.get("classname", "").endswith("test_zz_handler_env_probe")
    }
    assert probes == {"test_no_user_aws_profile_in_the_run", "test_handler_environment_is_the_rehearsals"}, probes
    assert list((reports / "allure-results").glob("*-result.json"))
    (report,) = reports.glob("verification-bbws-sit-*.md")
    assert "- **run**: COMPLETE: " in report.read_text()
    (run,) = (reports / "runs").iterdir()
    assert (reports / "latest").resolve() == run.resolve()
    assert (run / report.name).read_bytes() == report.read_bytes()
    assert json.loads((run / "run.json").read_text())["outcome"] == "ran"


def test_serve_snippet_runs_as_written(served_sit: dict[str, str], tmp_path: Path) -> None:
    """After ``harness serve --env sit`` (the session's ``served_sit`` is that command), the second shell's block
    (docs/targets-and-safety.md)."""
    (block,) = [
        b
        for b in runnable_blocks(SERVE_PAGE.read_text(encoding="utf-8"))
        if b.note.startswith("after harness serve --env sit")
    ]
    printed = served_sit
    assert set(printed) >= {"AWS_ENDPOINT_URL", "AWS_ACCOUNT_ID", "AWS_DEFAULT_REGION", "HARNESS_API_BASE_URL"}, printed
    text = block.text
    for name, value in printed.items():
        text = re.sub(rf"\b{name}=\S+", f"{name}={value}", text)
    assert "PORT" not in text, text
    ran = run_block(text, _checkout_copy(tmp_path), {"AWS_PROFILE": "bbws-prod"})
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert ran.stdout.splitlines()[0] == "815856636111"
    assert "target=aws via AWS_ENDPOINT_URL=" in ran.stdout and " passed" in ran.stdout and " failed" not in ran.stdout


def test_harness_serve_ignores_the_users_aws_profile() -> None:
    proc, printed = serve("sit", extra_env=USER_AWS_CONFIGURATION)
    stop(proc)
    assert printed["AWS_ACCOUNT_ID"] == "815856636111"


def test_readme_catalogue_is_the_catalogue() -> None:
    """The catalogue's slug tables (docs/checklists.md) are generated from harness/checks/catalogue.py (``python -m
    harness.checks.catalogue_markdown``)."""
    from harness.checks.catalogue import CATALOGUE
    from harness.checks.catalogue_markdown import RUNS_ON, markdown

    assert set(RUNS_ON) == {c.slug for c in CATALOGUE}
    text = CATALOGUE_PAGE.read_text(encoding="utf-8")
    start, end = (
        text.index("<!-- catalogue:start -->\n") + len("<!-- catalogue:start -->\n"),
        text.index("<!-- catalogue:end -->"),
    )
    assert text[start:end] == markdown(), (
        "docs/checklists.md catalogue is stale: paste `python -m harness.checks.catalogue_markdown` between the markers"
    )
