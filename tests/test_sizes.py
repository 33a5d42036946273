"""Size limits of the library: no module over 450 lines, no function over 60, unless its docstring says why."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "harness"
EXCLUDED = ROOT / "scaffold"  # generated project templates, not library code
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60
MODULE_REASON = "Over 450 lines because"
FUNCTION_REASON = "Over 60 lines because"


def _says_why(doc: str | None, reason: str) -> bool:
    """Whether a docstring has a sentence starting with ``reason``."""
    if not doc:
        return False
    text = " ".join(doc.split())
    return text.startswith(reason) or any(part.lstrip().startswith(reason) for part in text.split(". "))


def violations(path: Path) -> list[str]:
    """Each over-long module or function in one file, naming the file, the line and the count."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    found: list[str] = []
    lines = len(source.splitlines())
    if lines > MAX_MODULE_LINES and not _says_why(ast.get_docstring(tree), MODULE_REASON):
        found.append(f"{path}: module has {lines} lines (max {MAX_MODULE_LINES})")
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
        length = (node.end_lineno or node.lineno) - start + 1
        if length > MAX_FUNCTION_LINES and not _says_why(ast.get_docstring(node), FUNCTION_REASON):
            found.append(f"{path}:{node.lineno}: function {node.name} has {length} lines (max {MAX_FUNCTION_LINES})")
    return found


def library_violations(root: Path) -> list[str]:
    """Every violation under ``root``, excluding the scaffold templates."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        if EXCLUDED in path.parents:
            continue
        found.extend(violations(path))
    return found


def test_library_sizes() -> None:
    """The library has no module over 450 lines and no function over 60 lines without a stated reason."""
    found = library_violations(ROOT)
    assert not found, "\n".join(found)


def _long_function(name: str, doc: str, body_lines: int) -> str:
    body = "".join(f"    x{i} = {i}\n" for i in range(body_lines))
    return f'def {name}():\n    """{doc}"""\n{body}'


def test_checker_catches_a_seeded_long_function(tmp_path: Path) -> None:
    """A 70-line function in a tmp module is reported by name; a 60-line one is not."""
    (tmp_path / "long.py").write_text(_long_function("too_long", "Does a lot.", 68), encoding="utf-8")
    (tmp_path / "fits.py").write_text(_long_function("just_fits", "Does enough.", 58), encoding="utf-8")
    found = library_violations(tmp_path)
    assert len(found) == 1, found
    assert "function too_long has 70 lines" in found[0]


def test_checker_catches_a_seeded_long_module(tmp_path: Path) -> None:
    """A 451-line module is reported; the same module whose docstring says why is not."""
    body = "".join(f"x{i} = {i}\n" for i in range(450))
    (tmp_path / "big.py").write_text('"""A big table."""\n' + body, encoding="utf-8")
    found = library_violations(tmp_path)
    assert len(found) == 1 and "module has 451 lines" in found[0], found
    (tmp_path / "big.py").write_text('"""A table. Over 450 lines because it is data."""\n' + body, encoding="utf-8")
    assert library_violations(tmp_path) == []


@pytest.mark.parametrize("doc", ["Renders it. Over 60 lines because one table.", "Over 60 lines because data."])
def test_a_stated_reason_exempts_a_function(tmp_path: Path, doc: str) -> None:
    """A long function whose docstring has a sentence starting 'Over 60 lines because' is accepted."""
    (tmp_path / "why.py").write_text(_long_function("long_on_purpose", doc, 68), encoding="utf-8")
    assert library_violations(tmp_path) == []
