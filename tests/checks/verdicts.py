"""The verdict-path registry: which test shows which verdict of which slug ("checks that
cannot lie").

Every ``Verdict.X`` a check function (or a helper of its module it calls) can return is a verdict
path; :func:`verdict_sites` lists them statically (ast), per catalogue slug. A test that seeds the
state for one path and asserts the row goes that way registers itself with ``@covers(slug, verdict,
"what it shows")``; stack the decorator when one test shows several paths. The guard test
(tests/checks/test_truthful.py) requires, for every (slug, verdict), at least as many registered
paths as there are return sites, so a new verdict path needs a new test.
"""

from __future__ import annotations

import ast
import inspect
import sys
from collections import defaultdict
from typing import Callable, Iterable, TypeVar

from harness.checks.result import Verdict

F = TypeVar("F", bound=Callable[..., object])

# (slug, verdict) -> [(test, what the test shows)]
COVERED: dict[tuple[str, Verdict], list[tuple[str, str]]] = defaultdict(list)


def covers(slug: str, verdict: Verdict, path: str) -> Callable[[F], F]:
    """Register the decorated test as showing ``slug`` going ``verdict`` for the reason ``path``."""

    def mark(fn: F) -> F:
        COVERED[(slug, Verdict(verdict))].append((f"{fn.__module__}::{fn.__name__}", path))
        return fn

    return mark


def covers_all(slugs: Iterable[str], verdict: Verdict, path: str) -> Callable[[F], F]:
    """``covers`` for several slugs at once (e.g. every row PASSes on the healthy rehearsal)."""

    def mark(fn: F) -> F:
        for slug in slugs:
            covers(slug, verdict, path)(fn)
        return fn

    return mark


def _definitions(module_name: str) -> dict[str, list[ast.FunctionDef]]:
    """A checks module's top-level functions (one each) and classes (their methods), by name."""
    tree = ast.parse(inspect.getsource(sys.modules[module_name]))
    out: dict[str, list[ast.FunctionDef]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = [node]
        elif isinstance(node, ast.ClassDef):
            out[node.name] = [n for n in node.body if isinstance(n, ast.FunctionDef)]
    return out


def verdict_sites() -> dict[tuple[str, Verdict], list[str]]:
    """Every ``Verdict.X`` site reachable from each catalogue slug's check function: the function and
    the functions and classes of ``checks`` modules it references (its own module's, or imported from
    another, e.g. ``harness.checks.write_read.Probe``), transitively (``module.function:line``)."""
    from harness.checks.catalogue import CATALOGUE

    out: dict[tuple[str, Verdict], list[str]] = defaultdict(list)
    trees: dict[str, dict[str, list[ast.FunctionDef]]] = {}

    def resolve(module_name: str, name: str) -> tuple[str, str] | None:
        """(defining checks module, name) of ``name`` as ``module_name`` sees it; None outside ``checks``."""
        obj = getattr(sys.modules[module_name], name, None)
        home = getattr(obj, "__module__", None)
        if (
            not (inspect.isfunction(obj) or inspect.isclass(obj))
            or not home
            or not home.startswith("harness.checks.")
            or home == "harness.checks.result"
        ):
            return None
        if home not in trees:
            trees[home] = _definitions(home)
        return (home, obj.__name__) if obj.__name__ in trees[home] else None

    for spec in CATALOGUE:
        todo, seen = [resolve(spec.fn.__module__, spec.fn.__name__)], set()
        while todo:
            where = todo.pop()
            if where is None or where in seen:
                continue
            seen.add(where)
            home, name = where
            for fn in trees[home][name]:
                for node in ast.walk(fn):
                    if isinstance(node, ast.Name) and node.id != name:
                        todo.append(resolve(home, node.id))
                    elif (
                        isinstance(node, ast.Attribute)
                        and isinstance(node.value, ast.Name)
                        and node.value.id == "Verdict"
                    ):
                        out[(spec.slug, Verdict[node.attr])].append(f"{home}.{name}:{node.lineno}")
    return dict(out)
