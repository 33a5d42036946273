"""HTTP rows: the API's health path and sample paths answer 200 with valid JSON (000 §7.2, §7.4).

``api-health`` also reads what the body says (000 §7.2 ``curl ${API_URL}/v1/health | jq .``): a
body that declares a failing ``status`` (checks/health_body.py) FAILs even with HTTP 200. JSON
``null`` is valid JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from harness.checks.context import CheckContext, Row
from harness.checks.health_body import FAILING_STATUSES, declared_unhealthy, parse_json
from harness.checks.result import CheckResult, Verdict

OK_STATUS = 200  # 000 §7.4 "Health endpoint: HTTP 200"
BODY_EVIDENCE_CHARS = 2000
BODY_OBSERVED_CHARS = 200


def is_health_path(path: str) -> bool:
    """A path the runbook uses as the health endpoint (000 §7.2 ``/v1/health``)."""
    return path.rstrip("/").endswith("/health")


@dataclass(frozen=True)
class _Answer:
    """An HTTP 200 answer whose body is JSON."""

    status: int
    body: str
    doc: Any
    evidence: dict[str, Any]


def _summary(doc: Any) -> str:
    if isinstance(doc, dict):
        return f"status: {doc.get('status')}"
    return "null" if doc is None else type(doc).__name__


def _get_json(ctx: CheckContext, row: Row, path: str, expected: str) -> CheckResult | _Answer:
    """GET ``path``: a FAIL/SKIP row, or the 200 answer with its parsed JSON body."""
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
    evidence.update(
        status=resp.status_code,
        elapsed_s=resp.elapsed.total_seconds(),
        body=body[:BODY_EVIDENCE_CHARS],
        content_type=resp.headers.get("Content-Type"),
    )
    is_json, doc = parse_json(body)
    evidence["json"] = is_json
    if resp.status_code != OK_STATUS:
        return row.result(expected, f"HTTP {resp.status_code}: {body[:BODY_OBSERVED_CHARS]}", Verdict.FAIL, **evidence)
    if not is_json:
        return row.result(
            expected,
            f"HTTP {resp.status_code}, body is not JSON: {body[:BODY_OBSERVED_CHARS]!r}",
            Verdict.FAIL,
            **evidence,
        )
    return _Answer(resp.status_code, body, doc, evidence)


def _passed(row: Row, expected: str, answer: _Answer) -> CheckResult:
    return row.result(expected, f"HTTP {answer.status}, JSON ({_summary(answer.doc)})", Verdict.PASS, **answer.evidence)


def check_api_health(ctx: CheckContext, row: Row) -> CheckResult:
    """GET the API's health path: 200, JSON, and no failing status declared in the body (000 §7.2)."""
    path = row.item
    failing = "/".join(sorted(FAILING_STATUSES))
    expected = f"GET {path} -> HTTP {OK_STATUS} with a JSON body that declares no failing status ({failing})"
    answer = _get_json(ctx, row, path, expected)
    if isinstance(answer, CheckResult):
        return answer
    unhealthy = declared_unhealthy(answer.doc)
    if unhealthy:
        observed = f"HTTP {answer.status}, but the body declares {unhealthy}: {answer.body[:BODY_OBSERVED_CHARS]}"
        return row.result(expected, observed, Verdict.FAIL, declared=unhealthy, **answer.evidence)
    return _passed(row, expected, answer)


def check_api_responses(ctx: CheckContext, row: Row) -> CheckResult:
    """GET a sample API path: 200 and valid JSON (000 §7.2 ``curl ${API_URL}/v1/tenants | jq '.status'``)."""
    path = row.item
    expected = f"GET {path} -> HTTP {OK_STATUS} with a valid JSON body"
    answer = _get_json(ctx, row, path, expected)
    if isinstance(answer, CheckResult):
        return answer
    return _passed(row, expected, answer)
