"""The documentation holds: no broken relative link, and every command block is either run or marked.

Links: every relative link in README.md and docs/*.md names a file that exists, and its ``#anchor`` is a
heading of the target page, slugged as MkDocs' toc extension does (``slug`` below; checked against
Python-Markdown itself when it is installed, i.e. with the ``docs`` extra).

Command blocks: every ```` ```bash ```` block sits right after one marker line (and no plain or ``text``
block holds a command, so none hides from the check):

- ``<!-- runnable -->``: run here as written, in bash, in a scratch copy of the checkout, with
  ``pytest``/``python``/``harness`` meaning this interpreter (on the embedded target: nothing real);
- ``<!-- runnable: after harness serve [--inventory I] --env E ... -->``: run here after this module
  started that command (one server per inventory and environment, shared by the blocks in page order),
  with the values it printed put into the block's ``NAME=value`` assignments;
- ``<!-- runnable: collect-only ... -->``: runs on the embedded target as written but takes too long for
  a test (drills, real Terraform, large estates, a server): its ``pytest`` lines run with
  ``--collect-only``, its ``harness`` lines are parsed by the CLI's own parser;
- ``<!-- runnable: tests/test_readme.py ... -->``: run by that test (the README's Quickstart, the
  serve snippet);
- ``<!-- needs: real account -->`` (or ``docker``, ``npm``): cannot run here; its ``harness`` lines are
  parsed, its ``pytest`` lines' paths must exist and their options be known to ``pytest --help``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, passing_restores, serve, stop

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MARKER = re.compile(r"^<!-- (?P<kind>runnable|needs)(?::\s*(?P<note>.*?))?\s*-->$")
NEEDS = ("real account", "docker", "npm")
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>\S*)")
LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\((?P<url>[^)\s]+)(?:\s+\"[^\"]*\")?\)")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    info: str
    kind: str  # runnable, needs, or "" (no marker)
    note: str
    text: str

    def __str__(self) -> str:
        page = self.page.relative_to(REPO) if self.page.is_relative_to(REPO) else self.page
        return f"{page}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Every fenced block of a page with the marker line right before it, if any."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip().startswith("```"))
        marker = MARKER.match(lines[i - 1].strip()) if i else None
        body = "\n".join(line[len(m.group("indent")) :] for line in lines[i + 1 : end])
        kind, note = (marker.group("kind"), marker.group("note") or "") if marker else ("", "")
        found.append(Block(page, i + 1, m.group("info"), kind, note, body))
        i = end + 1
    return found


ALL_BLOCKS = [b for page in PAGES for b in blocks(page)]
BASH = [b for b in ALL_BLOCKS if b.info in ("bash", "sh", "shell", "console")]


def _outside_code(text: str) -> str:
    """The page without fenced blocks and code spans (links inside them are not links)."""
    text = re.sub(r"^ *```.*?^ *```", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def slug(heading: str) -> str:
    """A heading's id as MkDocs' toc extension makes it: the rendered text (code kept, markup and link
    targets dropped), NFKD to ASCII, everything but word characters, spaces and hyphens removed, lower
    case, runs of spaces and hyphens made one hyphen."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"`([^`]*)`", r"\1", text)
    text = re.sub(r"(\*\*|\*|<[^>]+>)", "", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> list[str]:
    """The ids of a page's headings, duplicates numbered ``_1``, ``_2`` as toc numbers them."""
    ids: list[str] = []
    for line in _without_fences(page.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        base = candidate = slug(m.group(1))
        n = 0
        while candidate in ids or not candidate:
            n += 1
            candidate = f"{base}_{n}"
        ids.append(candidate)
    return ids


def _without_fences(text: str) -> str:
    return re.sub(r"^ *```.*?^ *```", "", text, flags=re.M | re.S)


def links(page: Path) -> list[str]:
    """Relative link targets of a page (not http(s), mailto or absolute paths)."""
    urls = [m.group("url") for m in LINK.finditer(_outside_code(page.read_text(encoding="utf-8")))]
    return [u for u in urls if not re.match(r"^[a-z][a-z0-9+.-]*:", u) and not u.startswith("/")]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_relative_link_is_broken(page: Path) -> None:
    broken = []
    for url in links(page):
        path, _, anchor = url.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(f"{url}: no such file {target}")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(f"{url}: no heading with id {anchor!r} in {target.relative_to(REPO)}")
    assert not broken, f"{page.relative_to(REPO)}:\n" + "\n".join(broken)


def test_the_link_checker_sees_a_broken_link_and_a_broken_anchor(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Top\n\n## A `code` heading: §5.2\n\n[ok](#a-code-heading-52) [gone](nowhere.md) [bad](#nope)\n")
    assert links(page) == ["#a-code-heading-52", "nowhere.md", "#nope"]
    assert anchors(page) == ["top", "a-code-heading-52"]


def test_slugs_are_the_ones_mkdocs_makes() -> None:
    """Every heading of every page, through Python-Markdown's toc (what MkDocs uses) and through ``slug``."""
    markdown = pytest.importorskip("markdown", reason="the docs extra (pip install -e '.[docs]') brings Markdown")
    for page in PAGES:
        md = markdown.Markdown(extensions=["toc", "tables", "fenced_code"])
        md.convert(page.read_text(encoding="utf-8"))
        theirs = []

        def walk(tokens: list[dict], into: list[str] = theirs) -> None:
            for t in tokens:
                into.append(t["id"])
                walk(t["children"])

        walk(md.toc_tokens)
        assert anchors(page) == theirs, page


def marking_problems(found: list[Block]) -> list[str]:
    """Blocks that break the marker convention: a command outside a ```bash block, a bash block with no
    marker, a ``needs:`` that is not one of NEEDS."""
    problems = [
        f"{b}: a command in a block that is not ```bash (no marker says how it is checked)"
        for b in found
        if b.info in ("", "text")
        and re.search(r"^\s*(\$ )?(pytest|harness|python3?|pip|npm|npx|mkdocs) ", b.text, re.M)
    ]
    bash = [b for b in found if b.info in ("bash", "sh", "shell", "console")]
    problems += [f"{b}: no <!-- runnable --> or <!-- needs: ... --> line right before it" for b in bash if not b.kind]
    problems += [
        f"{b}: needs one of {NEEDS}, not {b.note!r}" for b in bash if b.kind == "needs" and b.note not in NEEDS
    ]
    return problems


def test_every_command_block_is_marked() -> None:
    assert not marking_problems(ALL_BLOCKS)


def test_the_marker_check_sees_unmarked_and_hidden_commands(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- runnable -->\n```bash\nharness serve --env sit\n```\n\n```bash\npytest x\n```\n\n"
        "```text\nharness rollback --env sit\n```\n\n<!-- needs: luck -->\n```bash\nnpm ci\n```\n"
    )
    found = blocks(page)
    assert [(b.line, b.kind, b.note) for b in found] == [
        (2, "runnable", ""),
        (6, "", ""),
        (10, "", ""),
        (15, "needs", "luck"),
    ]
    assert len(marking_problems(found)) == 3, marking_problems(found)


def commands(block: str) -> list[list[str]]:
    """The block's simple commands as argument lists: continuations joined, comments and ``[optional]``
    synopsis groups dropped, split at ``&&``, ``;`` and ``|``."""
    text = block.replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = re.sub(r"\s\[[^\]]*\]", "", line)
        words: list[str] = []
        for word in shlex.split(line, comments=True):
            if word in ("&&", ";", "|", "||"):
                found.append(words)
                words = []
            else:
                words.append(word)
        found.append(words)
    return [w for w in found if w]


@contextlib.contextmanager
def _quiet() -> Iterator[io.StringIO]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        yield err


def harness_parses(args: list[str]) -> str:
    """'' when the ``harness`` CLI's parser accepts the arguments, else its complaint."""
    from harness.cli import parser

    with _quiet() as err:
        try:
            parser().parse_args(args)
        except SystemExit as exc:
            return f"harness {shlex.join(args)}: {err.getvalue().strip().splitlines()[-1:]} (exit {exc.code})"
    return ""


_PYTEST_HELP: list[str] = []


def pytest_options() -> set[str]:
    """Every option ``pytest --help`` lists with the harness's plugins loaded (run once)."""
    if not _PYTEST_HELP:
        help_text = subprocess.run(
            [sys.executable, "-m", "pytest", "--help", "-p", "xdist"], cwd=REPO, capture_output=True, text=True
        ).stdout
        _PYTEST_HELP.append(help_text)
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", _PYTEST_HELP[0]))


def static_problems(block: Block) -> list[str]:
    """What is wrong with the block's commands without running them: harness lines parsed, pytest and
    python paths exist, pytest options known."""
    problems = []
    for words in commands(block.text):
        name, args = words[0], words[1:]
        if name == "harness":
            problems.append(harness_parses(args))
        elif name in ("pytest", "python", "python3"):
            for word in args:
                if word.startswith("-") and name == "pytest" and word.split("=")[0] not in pytest_options():
                    problems.append(f"pytest option {word} unknown")
                elif re.match(r"^(scenarios|tests|benchmarks)/", word) and not (REPO / word.split("::")[0]).exists():
                    problems.append(f"{name}: no such path {word}")
    return [f"{block}: {p}" for p in problems if p]


def test_static_check_catches_unknown_options_and_paths() -> None:
    """The checker can fail: an unknown harness option, a missing path and an unknown pytest option."""
    block = Block(
        REPO / "README.md",
        1,
        "bash",
        "needs",
        "real account",
        "harness rollback --env sit --nope\npytest scenarios/missing.py --env sit --no-such-option\n",
    )
    assert len(static_problems(block)) == 3, static_problems(block)
    assert commands("a x # c\nb 'y z' && c [--o V]\\\n  d") == [["a", "x"], ["b", "y z"], ["c", "d"]]


@pytest.mark.parametrize("block", [b for b in BASH if b.kind == "needs" or b.note.startswith("collect-only")], ids=str)
def test_blocks_that_do_not_run_here_name_real_commands_and_options(block: Block) -> None:
    assert not static_problems(block)


def _checkout_copy(tmp_path: Path) -> Path:
    """What a user's checkout has that the docs' commands use."""
    root = tmp_path / "checkout"
    shutil.copytree(REPO / "scenarios", root / "scenarios", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "tests" / "gameday" / "fixtures", root / "tests" / "gameday" / "fixtures")
    for name in ("pyproject.toml", "conftest.py"):
        shutil.copy2(REPO / name, root / name)
    return root


def run_block(
    text: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 280
) -> subprocess.CompletedProcess:
    """The block in bash -e, with pytest/python/harness resolved to this interpreter (also for commands the
    block's commands start, such as a --recovery-cmd)."""
    prelude = textwrap.dedent(
        f'''
        set -euo pipefail
        pytest() {{ "{sys.executable}" -m pytest "$@"; }}
        harness() {{ "{sys.executable}" -m harness.cli "$@"; }}
        '''
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_", "PYTEST_"))}
    base["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}"
    return subprocess.run(
        ["bash", "-c", prelude + text],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


RUN_HERE = [b for b in BASH if b.kind == "runnable" and not b.note]


@pytest.mark.parametrize("block", RUN_HERE, ids=str)
def test_runnable_blocks_run_as_written(block: Block, tmp_path: Path) -> None:
    proc = run_block(block.text, _checkout_copy(tmp_path))
    assert proc.returncode == 0, f"{block}\n{block.text}\n" + proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.mark.parametrize("block", [b for b in BASH if b.note.startswith("collect-only")], ids=str)
def test_collect_only_blocks_collect(block: Block, tmp_path: Path) -> None:
    """Their pytest lines collect (paths, options, the scenarios' imports) in a scratch checkout, after the
    block's ``harness inventory`` lines (they write a file and touch no target) ran."""
    root = _checkout_copy(tmp_path)
    for words in commands(block.text):
        if words[:2] == ["harness", "inventory"]:
            proc = run_block(shlex.join(words), root, timeout=120)
        elif words[0] == "pytest":
            args = words[1:]
            if "-n" in args:  # collection needs no workers
                del args[args.index("-n") : args.index("-n") + 2]
            proc = run_block(shlex.join(["pytest", *args, "--collect-only", "-q"]), root, timeout=120)
        else:
            continue
        assert proc.returncode == 0, f"{block}: {shlex.join(words)}\n" + proc.stdout[-2000:] + proc.stderr[-2000:]


SERVE_NOTE = re.compile(r"^after harness serve(?P<args>(?: --[\w-]+ \S+)+)")
SERVED = [b for b in BASH if b.kind == "runnable" and SERVE_NOTE.match(b.note) and "tests/test_readme.py" not in b.note]


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[tuple[str, str], dict[str, str]]]:
    """``harness serve`` per (inventory, env), started when a block first needs it, for this module only (the
    blocks change what they serve, so not the session's shared SIT)."""
    started: dict[tuple[str, str], tuple[subprocess.Popen, dict[str, str]]] = {}

    class Servers(dict):
        def __missing__(self, key: tuple[str, str]) -> dict[str, str]:
            started[key] = serve(key[1], inventory=key[0])
            self[key] = started[key][1]
            return self[key]

    yield Servers()
    for proc, _ in started.values():
        stop(proc)


@pytest.mark.parametrize("block", SERVED, ids=str)
def test_blocks_after_harness_serve_run_as_written(
    block: Block, servers: dict[tuple[str, str], dict[str, str]], tmp_path: Path
) -> None:
    """Blocks on one (inventory, env) share a server, in page order; each leaves what it changed usable."""
    args = dict(re.findall(r"--([\w-]+) (\S+)", SERVE_NOTE.match(block.note).group("args")))
    printed = servers[(args.get("inventory", "bbws"), args["env"])]
    text = block.text
    for name, value in printed.items():
        text = re.sub(rf"\b{name}=\S+", f"{name}={value}", text)
    assert "PORT" not in text, text
    with passing_restores(printed):
        ran = run_block(text, _checkout_copy(tmp_path))
    assert ran.returncode == 0, f"{block}\n{text}\n" + ran.stdout[-4000:] + ran.stderr[-4000:]


def test_every_runnable_note_is_one_a_test_knows() -> None:
    known = [b for b in BASH if b.kind == "runnable"]
    unknown = [
        f"{b}: {b.note}"
        for b in known
        if b.note and not (b.note.startswith("collect-only") or "tests/test_readme.py" in b.note or b in SERVED)
    ]
    assert not unknown, f"runnable blocks no test runs: {unknown}"


def test_mkdocs_nav_lists_every_page() -> None:
    text = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r":\s*(\S+\.md)\s*$", text, flags=re.M))
    assert listed == {p.name for p in (REPO / "docs").glob("*.md")}, listed
