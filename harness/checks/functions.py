"""Function-level rows: a row names one function, or a discovery prefix that stands for several (002 §1)."""

from __future__ import annotations

from typing import Callable

from harness.checks.context import CheckContext, Row
from harness.checks.result import CheckResult, Verdict

WORST_FIRST = (Verdict.ERROR, Verdict.FAIL, Verdict.WARN, Verdict.SKIP, Verdict.PASS)

FunctionCheck = Callable[[CheckContext, Row, str], CheckResult]


def function_rows_names(ctx: CheckContext, row: Row) -> list[str]:
    """The functions a row covers: itself when the inventory names it, else those its prefix discovers."""
    if any(f.name == row.resource for f in ctx.env.functions):
        return [row.resource]
    return ctx.discover(row.resource)


def for_each_function(ctx: CheckContext, row: Row, check: FunctionCheck, expected: str) -> CheckResult:
    """Run ``check`` for every function the row covers and fold the results into the row's one result."""
    names = function_rows_names(ctx, row)
    if not names:
        return row.result(expected, f"no function whose name starts with {row.resource}", Verdict.FAIL)
    results = [check(ctx, row, n) for n in names]
    if len(results) == 1:
        return results[0]
    verdict = next(v for v in WORST_FIRST if any(r.verdict is v for r in results))
    observed = "; ".join(f"{n}: {r.observed}" for n, r in zip(names, results, strict=True))
    return row.result(
        results[0].expected, observed, verdict, functions={n: r.evidence for n, r in zip(names, results, strict=True)}
    )
