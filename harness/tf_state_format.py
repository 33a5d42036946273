"""Terraform's state document format, as the state check (``checks/terraform_checks.py``) and the state
actions (``harness/actions/terraform_state.py``) both validate it (000 §3.3, §5.2.2 "Review the state file").

"Parses as Terraform state" means a JSON object whose ``version`` and ``serial`` are integers (JSON
``true`` is not: Python's ``isinstance(True, int)`` is, so booleans are refused explicitly) and whose
``lineage`` is a non-empty string; format 4 also needs a ``resources`` list. One validator for both, so a
restore never writes a state version the checklist would call broken, and neither crashes on a
mistyped field (a ``"version": "4"`` or ``null`` is a problem to name, not a TypeError).
"""

from __future__ import annotations

import json
from typing import Any

SUMMARY_FIELDS = ("version", "terraform_version", "serial", "lineage")


def is_int(value: Any) -> bool:
    """A JSON integer (``true``/``false`` are not, although ``bool`` is an ``int`` in Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def parse_state(body: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The state document (None when it is not a JSON object) and what is wrong with it (None: a valid state)."""
    try:
        doc = json.loads(body)
    except UnicodeDecodeError as exc:  # a ValueError without .msg/.pos: binary garbage, not text
        return None, f"not JSON ({exc.reason} at byte {exc.start})"
    except json.JSONDecodeError as exc:
        return None, f"not JSON ({exc.msg} at byte {exc.pos})"
    if not isinstance(doc, dict):
        return None, f"JSON {type(doc).__name__}, not a state document"
    return doc, state_problem(doc)


def state_problem(doc: dict[str, Any]) -> str | None:
    """What makes ``doc`` not a Terraform state, in one line; None when it is one."""
    wrong = [k for k in ("version", "serial") if not is_int(doc.get(k))]
    lineage = doc.get("lineage")
    if not isinstance(lineage, str) or not lineage.strip():
        wrong.append("lineage")
    if wrong:
        got = ", ".join(f"{k}={json.dumps(doc.get(k))}" for k in wrong)
        return (
            f"{'/'.join(wrong)} missing or mistyped ({got}; version and serial must be integers, lineage a "
            "non-empty string): not a Terraform state"
        )
    if doc["version"] >= 4 and not isinstance(doc.get("resources"), list):  # version is an int here
        return "format 4 state without a resources list"
    return None


def state_fields(doc: dict[str, Any]) -> dict[str, Any]:
    """``version``, ``terraform_version``, ``serial``, ``lineage`` as stored, and how many resources it lists."""
    resources = doc.get("resources")
    return {
        **{k: doc.get(k) for k in SUMMARY_FIELDS},
        "resources": len(resources) if isinstance(resources, list) else 0,
    }


def resource_names(doc: dict[str, Any]) -> tuple[str, ...]:
    """``type.name`` of each resource, module-qualified when in a module (000 §5.2.2: ``jq '.resources[].type'``)."""
    resources = doc.get("resources")
    if not isinstance(resources, list):
        return ()
    return tuple(
        ".".join(str(p) for p in (r.get("module"), f"{r.get('type')}.{r.get('name')}") if p)
        for r in resources
        if isinstance(r, dict)
    )
