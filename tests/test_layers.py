"""The dependency rule (docs/architecture.md): inventory <- targets <- {checks, actions, faults} <- drills
<- pytest_plugin <- scenarios; the library never imports harness.checks (only the front ends do); only
harness/pytest_plugin and scenarios import pytest/allure."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

FRONT_ENDS = ("harness/cli", "harness/pytest_plugin")
_NEVER = ("scenarios", "pytest", "allure", "allure_commons", "_pytest", "xdist")
# folder -> module prefixes it must never import (the front ends are checked apart: they sit on top)
FORBIDDEN = {
    "harness": ("harness.checks", "harness.pytest_plugin", "harness.cli", *_NEVER),
    "harness/checks": ("harness.pytest_plugin", "harness.cli", "harness.actions", "harness.drills", *_NEVER),
    "harness/cli": ("harness.pytest_plugin", *_NEVER),
}
# inside harness/: lower layers must not import higher ones
LAYERS = {
    "harness/inventory": {"harness.targets", "harness.actions", "harness.faults", "harness.drills", "harness.cli"},
    "harness/targets": {"harness.actions", "harness.faults", "harness.drills", "harness.cli"},
    "harness/actions": {"harness.drills", "harness.cli"},
    "harness/faults": {"harness.drills", "harness.cli"},
    "harness/drills": {"harness.cli"},
}


def _imports(path: Path) -> set[str]:
    """Every module name ``path`` imports (absolute imports only; the project uses no relative ones)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _modules(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


def _matches(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_package_imports_respect_the_rule(folder: str) -> None:
    bad = []
    others = [f for f in (*FORBIDDEN, *FRONT_ENDS) if f != folder and f.startswith(folder + "/")]
    for path in _modules(folder):
        rel = path.relative_to(REPO).as_posix()
        if "sample_app" in path.parts or path.name == "lambda_runtime.py":
            continue  # code that runs inside a rehearsal's Lambda sandbox, not the harness
        if any(rel.startswith(o + "/") for o in others):
            continue  # a sub-folder with rules of its own (checks) or a front end
        bad += [f"{rel} imports {name}" for name in _imports(path) if _matches(name, FORBIDDEN[folder])]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("folder", sorted(LAYERS))
def test_lower_layers_do_not_import_higher_ones(folder: str) -> None:
    bad = []
    for path in _modules(folder):
        for name in _imports(path):
            if any(name == up or name.startswith(up + ".") for up in LAYERS[folder]):
                bad.append(f"{path.relative_to(REPO)} imports {name}")
    assert not bad, "\n".join(bad)


def test_scenarios_import_no_plugin_internals() -> None:
    bad = [
        f"{p.relative_to(REPO)} imports {n}"
        for p in _modules("scenarios")
        for n in _imports(p)
        if _matches(n, ("harness.pytest_plugin",))
    ]
    assert not bad, "\n".join(bad)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path, known: set[str]) -> set[str]:
    """Project modules ``path`` imports at import time (module body; function-level imports break cycles on purpose)."""
    out: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            subs = {f"{node.module}.{a.name}" for a in node.names} & known  # "from harness import aws"
            out.update(subs or ({node.module} & known))
    return out


def test_no_import_cycles_at_import_time() -> None:
    """A cycle (checks/context <-> ecs_checks once) works only by import order and breaks on the next refactor."""
    paths = {_module_name(p): p for pkg in ("harness",) for p in _modules(pkg)}
    graph = {name: _top_level_imports(path, set(paths)) - {name} for name, path in paths.items()}
    cycles: list[str] = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "\n".join(cycles)
