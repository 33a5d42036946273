"""Which checklist rows a drill asks for, by slug and resource, and the drill's own rows (000 §6.5, 001 §6.3.2).

Slugs are the catalogue's public interface (checks/catalogue.py); resources are what those rows are
about: a function's name (or, for functions found by prefix, the discovery prefix its row carries:
002 §1), an API path, a table, a state key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from harness.data_verify import Digests, compare, table_digests
from harness.drills.model import Row, row
from harness.inventory.model import Environment
from harness.targets.base import TargetLike

# 000 §7.4 rows that read the current state: green as soon as a recovery is done.
STATE_ROWS = ("lambda-alias-version", "health-endpoint")
API_ROWS = ("api-health", "api-responses")  # 000 §7.2, when a function behind the API is drilled
# 000 §7.4 rows that read a window ("the last 5 minutes"): green only once a whole window of traffic
# after the recovery holds no error (the settle phase).
WINDOW_ROWS = ("error-rate", "latency-p95", "log-errors")
TABLE_ROWS = ("dynamodb-pitr", "dynamodb-reads", "dynamodb-table-active")
STATE_KEY_ROWS = ("terraform-state",)
INTEGRITY = "data-integrity"  # the drill's own row: a table against the snapshot taken before the fault (000 §6.5)
AUDIT = (
    "audit-record"  # the drill's own row: the deployments table names the version the alias serves (001 §6.3.2 step 7)
)


def function_resource(env: Environment, fn: str) -> str:
    """The resource a function's rows carry: its name, or the discovery prefix that finds it (002 §1)."""
    if any(f.name == fn for f in env.functions):
        return fn
    for d in env.discovery:
        if fn.startswith(d.prefix):
            return d.prefix
    return fn


def resources_for(env: Environment, functions: Sequence[str]) -> tuple[str, ...]:
    """Row resources of ``functions``, plus the API paths when one of them backs the API (000 §7.2)."""
    out = list(dict.fromkeys(function_resource(env, fn) for fn in functions))
    if env.api and env.api.function in functions:
        out += list(env.api.paths)
    return tuple(out)


def api_health_paths(env: Environment, functions: Sequence[str]) -> list[str]:
    """The API's health paths when one of ``functions`` backs the API (api-health rows)."""
    if not env.api or env.api.function not in functions:
        return []
    return [p for p in env.api.paths if p.rstrip("/").endswith("health")]


def integrity_row(target: TargetLike, table: str, snapshot: Digests, *, label: str | None = None) -> Row:
    """``data-integrity`` of the data in ``table`` (the row's resource: ``label``, the inventory table it stands for):
    its items equal the snapshot taken before the fault (000 §6.5), every key compared."""
    report = compare(snapshot, table_digests(target.client("dynamodb"), table))
    where = label or table
    return row(
        INTEGRITY,
        where,
        f"{table} holds exactly the {report.expected_count} items of the snapshot taken before the fault",
        report.line(),
        report.equal,
        "000 §6.5",
        report=report.to_dict(),
        table=table,
        snapshot=str(snapshot.source).removeprefix("snapshot:"),
    )


def snapshot_name(table: str, drill: str) -> str:
    """The snapshot file a drill writes before its fault."""
    return f"snapshot-{drill}-{table}.jsonl"


def snapshot_path(folder: Path | None, table: str, drill: str) -> Path | None:
    """Where the snapshot goes (None: keep it in memory only)."""
    return None if folder is None else folder / snapshot_name(table, drill)
