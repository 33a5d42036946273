"""GetMetricData's query rules and metric math, as CloudWatch applies them (moto accepts bad queries and
answers metric math such as ``a*100/a`` "Complete" with no values, which reads as "no breach").

CloudWatch API reference, MetricDataQuery: ``Id`` "must be unique within a single call"; "the first
character must be a lowercase letter" (then letters, numbers, underscore); each query has exactly one of
``MetricStat`` and ``Expression``; MetricStat ``Period``: "for metrics with regular resolution ... a
multiple of 60", high resolution "1, 5, 10, 30, 60, or any multiple of 60". A query breaking them is a
``ValidationError`` (400) for the whole call.

Metric math (CloudWatch User Guide, "Using math expressions"): arithmetic ``+ - * /`` on time series and
numbers, parentheses, references to other queries' ids; a series operand pairs values by timestamp (a
timestamp missing from one series is dropped), a division by zero yields no value. That subset is
evaluated; any other expression (functions such as ``SUM()``, ``FILL()``, ``METRICS()``) is refused with
``InvalidParameterValue`` naming it as not emulated, never answered "Complete" with no values.
"""

from __future__ import annotations

import ast
import operator
import re
from datetime import datetime
from typing import Any, Callable

from moto.cloudwatch.exceptions import InvalidParameterValue, ValidationError

QUERY_ID = re.compile(r"[a-z][a-zA-Z0-9_]{0,254}")
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 30)
Series = dict[datetime, float]
OPERATORS: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def validate(queries: list[dict[str, Any]]) -> None:
    """Refuse a GetMetricData call CloudWatch refuses (module docstring), naming the query member."""
    seen: set[str] = set()
    for n, query in enumerate(queries, start=1):
        member = f"MetricDataQueries.member.{n}"
        qid = str(query.get("Id") or "")
        if not QUERY_ID.fullmatch(qid):
            raise ValidationError(
                f"The value {qid} for parameter {member}.Id is not valid. The first character must be a lower case "
                "letter, and the rest letters, numbers or underscores."
            )
        if qid in seen:
            raise ValidationError(f"The value {qid} for parameter {member}.Id is not unique.")
        seen.add(qid)
        if ("MetricStat" in query) == ("Expression" in query):
            raise ValidationError(f"Exactly one of MetricStat and Expression must be set in {member}.")
        period = (query.get("MetricStat") or {}).get("Period", query.get("Period"))
        if period is not None and not (int(period) in HIGH_RESOLUTION_PERIODS or int(period) % 60 == 0):
            raise ValidationError(
                f"The parameter {member}.MetricStat.Period must be 1, 5, 10, 30, 60 or a multiple of 60 (got {period})."
            )


def evaluate(expression: str, series: dict[str, Series]) -> Series:
    """The time series of an arithmetic metric math ``expression`` over ``series`` (by query id)."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise not_emulated(expression) from None
    result = _node(tree.body, series, expression)
    if not isinstance(result, dict):
        raise not_emulated(expression)  # a constant alone: CloudWatch needs a series to place it in time
    return result


def not_emulated(expression: str) -> InvalidParameterValue:
    """The refusal of metric math outside the evaluated subset."""
    return InvalidParameterValue(
        f"The metric math expression {expression!r} is not emulated by the harness's embedded target (arithmetic "
        "on query ids and numbers only)"
    )


def _node(node: ast.AST, series: dict[str, Series], expression: str) -> Series | float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in series:
            raise ValidationError(f"Error in expression {expression!r}: Unrecognized identifier {node.id}")
        return series[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _node(node.operand, series, expression)
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        return {t: sign * v for t, v in value.items()} if isinstance(value, dict) else sign * value
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        return _combine(
            OPERATORS[type(node.op)], _node(node.left, series, expression), _node(node.right, series, expression)
        )
    raise not_emulated(expression)


def _combine(op: Callable[[float, float], float], left: Series | float, right: Series | float) -> Series | float:
    if not isinstance(left, dict) and not isinstance(right, dict):
        return op(left, right)
    if isinstance(left, dict):
        stamps = [t for t in left if not isinstance(right, dict) or t in right]
    else:
        assert isinstance(right, dict)  # the other side is a series (both scalars returned above)
        stamps = list(right)
    out: Series = {}
    for t in stamps:
        a = left[t] if isinstance(left, dict) else left
        b = right[t] if isinstance(right, dict) else right
        try:
            out[t] = op(a, b)
        except ZeroDivisionError:
            continue  # no value where the divisor is zero
    return out
