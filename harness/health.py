"""Health that says unhealthy is unhealthy: what a health response's JSON body declares.

000 §7.1 step 2 reads the /health payload with ``jq .`` and 000 §7.2 reads ``.status``: a body
such as ``{"status": "unhealthy"}`` answered with HTTP 200 (or a Lambda proxy ``statusCode`` 200) is
a failing health check, not a pass. Shared by ``api-health`` (HTTP) and the Lambda health rows
(``health-endpoint``, ``source-health``: a proxy payload whose ``body`` is a JSON string).

Pure functions, no AWS call.

Lives in ``harness/`` so actions (a rollback's own health verification, 000 §4.2.5; the promotion
monitor's health trigger, 001 §6.3.1) judge a health answer by the same rule as the checks, without
importing ``checks/`` (docs/architecture.md, dependency rule). ``checks/health_body.py`` re-exports it.
"""

from __future__ import annotations

import json
from typing import Any

# ``status`` values that declare a failure (compared case-insensitively, surrounding blanks ignored).
FAILING_STATUSES = frozenset({"unhealthy", "down", "fail", "error"})

_NOT_JSON = object()


def parse_json(text: str | bytes | bytearray | None) -> tuple[bool, Any]:
    """``(True, doc)`` when ``text`` is JSON (``null`` is JSON: ``(True, None)``), else ``(False, None)``."""
    if text is None:
        return False, None
    try:
        return True, json.loads(text)
    except (ValueError, TypeError):
        return False, None


def _doc(doc_or_body: Any) -> Any:
    """A parsed document from a parsed value or a JSON text; ``_NOT_JSON`` for text that is not JSON."""
    if isinstance(doc_or_body, (str, bytes, bytearray)):
        ok, doc = parse_json(doc_or_body)
        return doc if ok else _NOT_JSON
    return doc_or_body


def declared_unhealthy(doc_or_body: Any) -> str | None:
    """What failing status the health response declares, or None when it declares none.

    ``doc_or_body`` is a parsed JSON document, a JSON text (str/bytes), or a Lambda proxy payload
    (``{"statusCode": 200, "body": "<JSON text>"}``, parsed or not). Returns e.g. ``'status "DOWN"'``
    when the document's top-level ``status`` (or, for a proxy payload, the ``status`` of the JSON in
    its ``body``) is one of :data:`FAILING_STATUSES`, case-insensitively; None otherwise, including
    text that is not JSON, JSON ``null``, non-object documents and non-string statuses (whether the
    body is valid JSON, and the HTTP/statusCode, are judged by the caller).
    """
    doc = _doc(doc_or_body)
    if not isinstance(doc, dict):
        return None
    status = doc.get("status")
    if isinstance(status, str) and status.strip().lower() in FAILING_STATUSES:
        return f"status {json.dumps(status)}"
    if "body" in doc:  # a Lambda proxy payload: the body is a JSON string (or already a document)
        inner = declared_unhealthy(doc["body"])
        if inner:
            return f"body {inner}"
    return None


def health_problem(function_error: str | None, status_code: Any, payload: Any, want_status: int) -> str | None:
    """Why a Lambda health answer fails (000 §4.2.5, 001 §6.3.1: status != 200), or None when it passes.

    The order is the checks' (``health-endpoint``): a function error, then a ``statusCode`` other than
    ``want_status`` (the inventory's ``auto_rollback.health_status``), then a body that declares a
    failing status.
    """
    if function_error:
        return f"function error {function_error}"
    ok, doc = parse_json(payload) if isinstance(payload, (str, bytes, bytearray)) else (True, payload)
    code = doc.get("statusCode") if ok and isinstance(doc, dict) else None
    if code != want_status:
        return f"statusCode {code} (want {want_status})"
    declared = declared_unhealthy(doc)
    if declared:
        return f"statusCode {code} but {declared}"
    return None
