"""Markdown tables for every report the harness writes: one cell escaper, one row and header shape.

A cell holds one line (a newline would end the table row) and a literal pipe is escaped (it would split
the cell); the text is stripped. Every report builds its rows here: reports, checklists, the catalogue
tables in the README and the verification report.
"""

from __future__ import annotations

from typing import Iterable


def cell(text: object) -> str:
    """A markdown table cell: pipes escaped, one line, stripped (``None`` is empty)."""
    return str(text if text is not None else "").replace("|", "\\|").replace("\r", " ").replace("\n", " ").strip()


def row(cells: Iterable[object]) -> str:
    """``| a | b |`` with every cell escaped (pass raw values: an escaped cell would be escaped twice)."""
    return "| " + " | ".join(cell(c) for c in cells) + " |"


def header(names: Iterable[str]) -> list[str]:
    """The header line and the ``|---|`` line of a table."""
    names = list(names)
    return ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
