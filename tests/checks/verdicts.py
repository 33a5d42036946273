"""The verdict-path registry: which test shows which verdict of which slug (issue 9, "checks that
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

from checks.result import Verdict

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


def verdict_sites() -> dict[tuple[str, Verdict], list[str]]:
    """Every ``Verdict.X`` site reachable from each catalogue slug's check function: the function and
    the module-level functions of its module it references, transitively (``module.function:line``)."""
    from checks.catalogue import CATALOGUE

    out: dict[tuple[str, Verdict], list[str]] = defaultdict(list)
    trees: dict[str, dict[str, ast.FunctionDef]] = {}
    for spec in CATALOGUE:
        module = sys.modules[spec.fn.__module__]
        if module.__name__ not in trees:
            tree = ast.parse(inspect.getsource(module))
            trees[module.__name__] = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        funcs = trees[module.__name__]
        todo, seen = [spec.fn.__name__], set()
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for node in ast.walk(funcs[name]):
                if isinstance(node, ast.Name) and node.id in funcs and node.id not in seen:
                    todo.append(node.id)
                elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Verdict":
                    out[(spec.slug, Verdict[node.attr])].append(f"{module.__name__}.{name}:{node.lineno}")
    return dict(out)
