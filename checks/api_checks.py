"""HTTP rows: the API's health path and sample paths answer 200 with valid JSON (000 §7.2, §7.4)."""

from __future__ import annotations

import json
from typing import Any

import requests

from checks.context import CheckContext, Row
from checks.result import CheckResult, Verdict

OK_STATUS = 200  # 000 §7.4 "Health endpoint: HTTP 200"


def is_health_path(path: str) -> bool:
    """A path the runbook uses as the health endpoint (000 §7.2 ``/v1/health``)."""
    return path.rstrip("/").endswith("/health")


def _get_json(ctx: CheckContext, row: Row, path: str) -> CheckResult:
    expected = f"GET {path} -> HTTP {OK_STATUS} with a valid JSON body"
    if not ctx.api_base_url:
        return row.result(expected, "this target has no HTTP front for the API (not rehearsable here)", Verdict.SKIP)
    url = ctx.api_base_url.rstrip("/") + path
    evidence: dict[str, Any] = {"url": url, "method": "GET"}
    try:
        resp = ctx.http.get(url, timeout=ctx.http_timeout_s, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        evidence["error"] = f"{type(exc).__name__}: {exc}"
        return row.result(expected, f"GET {url} failed: {type(exc).__name__}", Verdict.FAIL, **evidence)
    body = resp.text
    evidence.update(status=resp.status_code, elapsed_s=resp.elapsed.total_seconds(), body=body[:2000], content_type=resp.headers.get("Content-Type"))
    try:
        doc = json.loads(body)
        evidence["json"] = True
    except ValueError:
        doc = None
        evidence["json"] = False
    if resp.status_code != OK_STATUS:
        return row.result(expected, f"HTTP {resp.status_code}: {body[:200]}", Verdict.FAIL, **evidence)
    if doc is None:
        return row.result(expected, f"HTTP {resp.status_code}, body is not JSON: {body[:200]!r}", Verdict.FAIL, **evidence)
    summary = doc.get("status") if isinstance(doc, dict) else type(doc).__name__
    return row.result(expected, f"HTTP {resp.status_code}, JSON (status: {summary})", Verdict.PASS, **evidence)


def check_api_health(ctx: CheckContext, row: Row) -> CheckResult:
    """GET the API's health path: 200 and JSON (000 §7.2 ``curl ${API_URL}/v1/health | jq .``)."""
    return _get_json(ctx, row, row.item)


def check_api_responses(ctx: CheckContext, row: Row) -> CheckResult:
    """GET a sample API path: 200 and valid JSON (000 §7.2 ``curl ${API_URL}/v1/tenants | jq '.status'``)."""
    return _get_json(ctx, row, row.item)
