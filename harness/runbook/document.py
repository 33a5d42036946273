"""A runbook document as sections and fenced shell blocks, each line numbered as in the file.

Sections are the markdown headings. A section is cited the way the project cites the seeds: ``000 §7.1`` when
its heading is numbered (``### 7.1 Lambda Verification Checklist``), else by its title in quotes
(004's ``### 2. Rollback Infrastructure Changes`` under an unnumbered heading is ``004 "Rollback Infrastructure
Changes"``). Only fences labelled as shell (bash, sh, shell, zsh) are blocks: an unlabelled fence holds URLs,
flow charts or prose as often as commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError

SHELL_LANGS = frozenset({"bash", "sh", "shell", "zsh"})
HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE_RE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
NUMBER_RE = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+(.*)$")
DOC_ID_RE = re.compile(r"^(\d{3})_")


@dataclass(frozen=True)
class Block:
    """One fenced shell block: its text (fence indentation removed) and the file line of its first line."""

    text: str
    line: int  # 1-based line of the block's first content line
    lang: str
    section: "Section"

    @property
    def end_line(self) -> int:
        """The file line of the block's last content line."""
        return self.line + max(0, len(self.text.splitlines()) - 1)


@dataclass(eq=False)
class Section:
    """One heading and what follows it up to the next heading."""

    doc: str
    level: int
    title: str
    number: str | None
    line: int
    parent: "Section | None" = None
    blocks: list[Block] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``§7.1`` or ``"Rollback Infrastructure Changes"``."""
        return f"§{self.number}" if self.number else f'"{self.title}"'

    @property
    def cite(self) -> str:
        """``000 §7.1``: the document id and the label."""
        return f"{self.doc} {self.label}"

    def matches(self, wanted: str) -> bool:
        """True when ``wanted`` names this section: ``7.1``, ``§7.1``, the title, or its start (case-insensitive)."""
        w = wanted.strip().strip('"').removeprefix("§").strip().lower()
        if self.number and w == self.number:
            return True
        return bool(w) and (self.title.lower() == w or self.title.lower().startswith(w))


@dataclass
class Runbook:
    """A parsed runbook: its id (``000`` for ``000_....txt``, else the file stem), path, sections and blocks."""

    doc: str
    path: Path
    sections: list[Section]
    lines: list[str]

    @property
    def blocks(self) -> list[Block]:
        """Every shell block, in file order."""
        return [b for s in self.sections for b in s.blocks]

    def section(self, wanted: str) -> Section:
        """The section ``wanted`` names (number first, then exact title, then title start); HarnessError if none."""
        numbered = [s for s in self.sections if s.number and s.matches(wanted) and s.number == wanted.lstrip("§")]
        exact = [s for s in self.sections if s.title.lower() == wanted.strip().strip('"').lower()]
        found = numbered or exact or [s for s in self.sections if s.matches(wanted)]
        if not found:
            known = ", ".join(s.label for s in self.sections if s.blocks)
            raise HarnessError(f"{self.path}: no section {wanted!r}; sections with shell blocks: {known}")
        return found[0]

    def subtree(self, section: Section) -> list[Section]:
        """``section`` and the sections below it (a rehearsal of §4.2 runs §4.2.1 to §4.2.5)."""
        start = self.sections.index(section)
        out = [section]
        for s in self.sections[start + 1 :]:
            if s.level <= section.level:
                break
            out.append(s)
        return out


def doc_id(path: Path) -> str:
    """``000`` for the seeds' ``000_5c6c467db84c15e7.txt``; the file stem otherwise."""
    m = DOC_ID_RE.match(path.name)
    return m.group(1) if m else path.stem


def _heading(doc: str, level: int, text: str, line: int, stack: list[Section]) -> Section:
    while stack and stack[-1].level >= level:
        stack.pop()
    parent = stack[-1] if stack else None
    m = NUMBER_RE.match(text)
    number, title = (m.group(1), m.group(2)) if m else (None, text)
    # "### 2. Rollback Infrastructure Changes" under an unnumbered heading is a list position, not a section number
    if number and "." not in number and parent is not None and parent.number is None and parent.level > 1:
        number = None
    section = Section(doc, level, title.strip(), number, line, parent)
    stack.append(section)
    return section


def parse(text: str, path: Path | str = "runbook.md", doc: str | None = None) -> Runbook:
    """Sections and shell blocks of a markdown runbook."""
    path = Path(path)
    doc = doc or doc_id(path)
    lines = text.splitlines()
    root = Section(doc, 0, "(top)", None, 1)
    sections: list[Section] = [root]
    stack: list[Section] = []
    current = root
    i = 0
    while i < len(lines):
        fence = FENCE_RE.match(lines[i])
        if fence:
            indent, marker, lang = len(fence.group(1)), fence.group(2), fence.group(3).lower()
            body, j = [], i + 1
            while j < len(lines) and not lines[j].strip().startswith(marker):
                raw = lines[j]
                body.append(raw[indent:] if raw[:indent].strip() == "" else raw.lstrip())
                j += 1
            if lang in SHELL_LANGS:
                current.blocks.append(Block("\n".join(body), i + 2, lang, current))
            i = j + 1
            continue
        heading = HEADING_RE.match(lines[i])
        if heading:
            current = _heading(doc, len(heading.group(1)), heading.group(2), i + 1, stack)
            sections.append(current)
        i += 1
    return Runbook(doc, path, [s for s in sections if s is not root or s.blocks], lines)


def load(path: str | Path) -> Runbook:
    """Read and parse a runbook file (markdown, whatever its extension)."""
    p = Path(path)
    try:
        return parse(p.read_text(encoding="utf-8"), p)
    except OSError as exc:
        raise HarnessError(f"{p}: cannot read the runbook: {exc.strerror or exc}") from None
