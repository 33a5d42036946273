"""``--output json``: one JSON document on stdout (inputs, plan, per-item outcome, record id, report paths, exit
status) while the human lines go to stderr (as ``aws --output json``; Terraform's ``-json``). The document's
JSON Schema is :data:`SCHEMA` (``harness.cli.output.SCHEMA``); a CI job parses stdout and validates it.
"""

from __future__ import annotations

import argparse
import json
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Iterable

from harness.actions.base import ActionResult, Plan

SCHEMA_ID = "https://runbook-harness/schemas/cli-output-1.json"
_DOCUMENT: ContextVar[dict[str, Any] | None] = ContextVar("harness_cli_document", default=None)

_PLAN = {
    "type": ["object", "null"],
    "required": ["action", "inventory", "env", "target", "planned_at", "changes", "notes", "refusal"],
    "properties": {
        "action": {"type": "string"},
        "inventory": {"type": "string"},
        "env": {"type": "string"},
        "target": {"type": "string"},
        "planned_at": {"type": "string"},
        "changes": {"type": "array", "items": {"type": "string"}},
        "notes": {"type": "array", "items": {"type": "string"}},
        "refusal": {"type": ["string", "null"]},
    },
}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "harness command result (--output json)",
    "type": "object",
    "required": ["command", "inputs", "plan", "items", "outcome", "record_id", "reports", "exit_status"],
    "properties": {
        "command": {"type": "string"},
        "inputs": {"type": "object"},
        "plan": _PLAN,
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["item", "outcome", "message"],
                "properties": {
                    "item": {"type": "string"},
                    "outcome": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
        "outcome": {"type": ["string", "null"]},
        "record_id": {"type": ["string", "null"]},
        "reports": {"type": "array", "items": {"type": "string"}},
        "exit_status": {"enum": [0, 1, 2, 3, 4, 5, 130]},
        "error": {"type": ["string", "null"]},
    },
    "additionalProperties": False,
}


def add_output_arg(p: argparse.ArgumentParser) -> None:
    """--output text|json."""
    p.add_argument(
        "--output",
        choices=("text", "json"),
        default="text",
        help="json: one JSON document on stdout (schema: harness.cli.output.SCHEMA), the human lines on stderr",
    )


def start(args: argparse.Namespace) -> dict[str, Any]:
    """A new document for this command (collected while it runs; see :func:`record_plan`, :func:`record_result`)."""
    inputs = {k: v for k, v in vars(args).items() if k not in ("func", "output") and _jsonable(v)}
    doc: dict[str, Any] = {
        "command": str(args.command),
        "inputs": inputs,
        "plan": None,
        "items": [],
        "outcome": None,
        "record_id": None,
        "reports": [],
        "exit_status": 0,
    }
    _DOCUMENT.set(doc)
    return doc


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def record_plan(plan: Plan[Any]) -> None:
    """The plan as shown (called by harness.cli.common.show_plan)."""
    doc = _DOCUMENT.get()
    if doc is None:
        return
    doc["plan"] = {
        "action": plan.action,
        "inventory": plan.inventory,
        "env": plan.env,
        "target": plan.target,
        "planned_at": plan.planned_at.isoformat(timespec="seconds"),
        "changes": [c.line() for c in plan.changes],
        "notes": list(plan.notes),
        "refusal": plan.refusal,
    }


def record_result(result: ActionResult, items: Iterable[tuple[str, ActionResult]] = ()) -> None:
    """The outcome, each item's outcome (a function, a table) and the audit record's id."""
    doc = _DOCUMENT.get()
    if doc is None:
        return
    doc["outcome"] = str(result.outcome)
    doc["record_id"] = result.record.record_id if result.record else None
    listed = list(items) or [(str(result.plan.action), result)]
    doc["items"] = [{"item": name, "outcome": str(r.outcome), "message": r.message or ""} for name, r in listed]


def record_reports(paths: Iterable[Path | str]) -> None:
    """The report files written."""
    doc = _DOCUMENT.get()
    if doc is not None:
        doc["reports"] = [*doc["reports"], *(str(p) for p in paths)]


def finish(doc: dict[str, Any], status: int, error: str | None = None) -> str:
    """The document as JSON text, with the exit status (and the one-line error of a usage mistake or refusal)."""
    _DOCUMENT.set(None)
    doc["exit_status"] = status
    if error:
        doc["error"] = error
    return json.dumps(doc, indent=2, default=str, ensure_ascii=False)
