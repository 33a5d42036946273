"""Which table each function's alias reads (000 §6.6): the served version's table variable, and whether
``$LATEST`` is that version's code and configuration (a publish must release the same function).

Read by table-switch (plan), table-cleanup (a table still read is never dropped) and the PITR drill.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from harness import aws
from harness.actions import lambda_versions as lv
from harness.inventory.model import Table
from harness.targets.base import TargetLike

# What must be equal between $LATEST and the served version for a publish to release the same function.
SAME_FUNCTION = (
    "CodeSha256",
    "Handler",
    "Runtime",
    "MemorySize",
    "Timeout",
    "Role",
    "Layers",
    "Architectures",
    "PackageType",
)


@dataclass(frozen=True)
class ServedTable:
    """Which table a function's alias reads: the served version, its variables, and ``$LATEST``'s state."""

    function: str
    alias: str
    version: str
    table: str | None  # the variable's value in the served version (None: no such variable)
    variables: dict[str, str]
    description: str
    code_sha: str
    weights: dict[str, float]
    latest_variables: dict[str, str]
    latest_differs: tuple[str, ...]  # fields where $LATEST is not the served version


def _same(config: dict[str, Any]) -> dict[str, Any]:
    out = {k: config.get(k) for k in SAME_FUNCTION}
    out["Layers"] = sorted(layer.get("Arn", "") for layer in (config.get("Layers") or []))
    return out


def served_table(target: TargetLike, function: str, env_var: str) -> ServedTable:
    """Read the alias, the version it serves and ``$LATEST`` of ``function`` (GetAlias, GetFunctionConfiguration)."""
    return table_of(lv.served_state(target.client("lambda"), function, target.env.alias), env_var)


def table_of(state: lv.ServedState, env_var: str) -> ServedTable:
    """Which table ``state``'s served version reads, and where ``$LATEST`` differs from that version (reads nothing)."""
    served, latest = state.served, state.latest
    variables, latest_vars = lv.env_variables(served), lv.env_variables(latest)
    differs = [k for k, v in _same(served).items() if _same(latest)[k] != v]
    if {k: v for k, v in latest_vars.items() if k != env_var} != {k: v for k, v in variables.items() if k != env_var}:
        differs.append("Environment")
    return ServedTable(
        state.function,
        state.alias,
        state.version,
        variables.get(env_var),
        variables,
        served.get("Description") or "",
        served["CodeSha256"],
        state.weights,
        latest_vars,
        tuple(differs),
    )


def reusable(lam: Any, served: ServedTable, served_config: dict[str, Any], wanted: dict[str, str]) -> str | None:
    """A published version with the served version's code and configuration (``served_config``, as read) and exactly
    ``wanted`` variables."""
    base = _same(served_config)
    found = None
    for v in aws.paginate(lam, "list_versions_by_function", "Versions", FunctionName=served.function):
        if v["Version"] == "$LATEST":
            continue
        if _same(v) == base and lv.env_variables(v) == wanted:
            found = v["Version"] if found is None or int(v["Version"]) > int(found) else found
    return found


def read_function(
    lam: Any, target: TargetLike, fn: str, spec: Table, to_table: str
) -> tuple[ServedTable | None, lv.ServedState | None, str | None]:
    """(what ``fn``'s alias serves, the state read, why it cannot be switched)."""
    try:
        state = lv.served_state(lam, fn, target.env.alias)
    except ClientError as exc:
        if not aws.is_not_found(exc):
            raise
        return None, None, f"{aws.error_message(exc)} (inventory dynamodb.tables[].functions names it)"
    served = table_of(state, spec.env_var)
    problem = None
    if served.weights:
        problem = f"alias {served.alias} routes by weight {served.weights}: finish or undo that deployment first"
    elif served.table is None:
        problem = (
            f"version {served.version} has no {spec.env_var} variable: it does not read its table from it, "
            "so switching it changes nothing (inventory dynamodb.tables[].env_var?)"
        )
    elif served.table != to_table and served.latest_differs:
        problem = (
            f"$LATEST differs from version {served.version} that {served.alias} serves "
            f"({', '.join(served.latest_differs)}): publishing would release other code or configuration; redeploy "
            f"version {served.version} to $LATEST first"
        )
    return served, state, problem


def tables_served(target: TargetLike) -> dict[str, str]:
    """function -> table its alias reads, for every function the inventory lists on a table."""
    out: dict[str, str] = {}
    for spec in target.env.tables:
        for fn in spec.functions:
            try:
                served = served_table(target, fn, spec.env_var)
            except ClientError as exc:
                if aws.is_not_found(exc):
                    continue  # a function the inventory names but this account lacks reads nothing
                raise
            if served.table:
                out[fn] = served.table
    return out
