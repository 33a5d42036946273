"""AWS API request-rate quotas on the embedded server (optional: ``EmbeddedTarget(quotas=True)``,
``pytest --rehearse-quotas``): a WSGI middleware in front of moto, as ``amplify_api`` is.

AWS throttles API requests per account and Region with token buckets (ECS documents the algorithm;
Lambda, CloudWatch, Logs, DynamoDB and S3 publish the rates): a request that finds its bucket empty is
answered with the service's throttling error and never reaches the service. moto never throttles, so a
checklist that would hammer an account during an incident passes on it. Here each enforced account gets
one bucket per quota of ``QUOTAS`` (an API, or a group of APIs that share a quota, such as Lambda's
"remainder of the control plane": 15 requests per second *across all APIs*), refilled continuously at
the documented rate on the **wall clock** (quotas are about real request rates, so the rehearsal clock,
which monitors move forward, is not used), holding at most ``burst`` tokens.

Over quota, the request is answered exactly as the service answers it (``throttle_response``):

- Lambda (rest-json): HTTP 429 ``TooManyRequestsException``, ``Retry-After`` header,
  ``{"Reason": "CallerRateLimitExceeded", "Type": "User", "message": "Rate exceeded"}``;
- CloudWatch (smithy-rpc-v2-cbor, awsQueryCompatible): HTTP 400 ``ThrottlingException`` with
  ``x-amzn-query-error: Throttling;Sender``, which SDKs surface as the query protocol's code
  ``Throttling`` ("Rate exceeded"); query and JSON requests get the same code in their own format;
- Logs, ECS, SSM, DynamoDB (json): HTTP 400 ``ThrottlingException`` "Rate exceeded";
- STS (query): HTTP 400 ``Throttling`` "Rate exceeded";
- S3 (rest-xml): HTTP 503 ``SlowDown`` "Please reduce your request rate.".

Only accounts whose target asked for quotas are throttled (``enforce``), and only once it has been
seeded: the rehearsal's own set-up is not the workload being rehearsed. Under pytest-xdist every worker
runs its own emulator, so each enforces ``1/workers`` of every quota and the workers together never
exceed what one account gets.
"""

from __future__ import annotations

import io
import json
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, unquote

from harness.quotas import QUOTAS, Quota, quota_for  # noqa: F401 (the one table, re-exported for callers and tests)

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Any]

SCOPE_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)/aws4_request")
ACCOUNT_HEADER = "HTTP_X_MOTO_ACCOUNT_ID"
RATE_EXCEEDED = "Rate exceeded"


class TokenBucket:
    """A refilling bucket on the wall clock (``time.monotonic``): quotas are about real request rates."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.capacity, self.clock = rate, max(burst, 1.0), clock
        self.tokens, self.stamp = self.capacity, clock()
        self.lock = threading.Lock()

    def take(self) -> float:
        """0.0 when a token was taken, else the seconds until one is available."""
        with self.lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return 0.0
            return (1.0 - self.tokens) / self.rate


@dataclass
class Enforcement:
    """One account's buckets (``share``: this emulator's fraction of the account's quotas)."""

    share: float
    buckets: dict[str, TokenBucket]
    throttled: int = 0  # requests answered with a throttling error
    raised: dict[str, Quota] = field(default_factory=dict)  # this account's raised quotas (inventory), by group

    def bucket(self, quota: Quota) -> TokenBucket:
        """The account's bucket for ``quota`` (created full)."""
        found = self.buckets.get(quota.group)
        if found is None:
            quota = self.raised.get(quota.group, quota)
            found = self.buckets[quota.group] = TokenBucket(quota.rate * self.share, quota.burst * self.share)
        return found


_lock = threading.Lock()
_enforced: dict[str, Enforcement] = {}


def enforce(account: str, share: float = 1.0, raised: Iterable[Quota] = ()) -> Enforcement:
    """Throttle ``account`` from now on, with ``share`` of each quota (1/workers under xdist); ``raised``: quotas
    the inventory says AWS raised for this account (the documented defaults otherwise)."""
    rest_routes("lambda")  # built now (~0.5 s: botocore loads the model), not inside the first timed request
    with _lock:
        _enforced[account] = Enforcement(share=share, buckets={}, raised={q.group: q for q in raised})
        return _enforced[account]


def release(account: str) -> None:
    """Stop throttling ``account``."""
    with _lock:
        _enforced.pop(account, None)


def enforcement(account: str) -> Enforcement | None:
    """The account's buckets, or None when it is not throttled."""
    return _enforced.get(account)


# -- which operation a request is -------------------------------------------------------------------


class RestRoutes:
    """rest-json operations (Lambda) recognised by method and path, from botocore's service model."""

    def __init__(self, service: str) -> None:
        import botocore.session

        model = botocore.session.get_session().get_service_model(service)
        routes = []
        for name in model.operation_names:
            http = model.operation_model(name).http
            path = http["requestUri"].split("?", 1)[0]
            literal = len(re.sub(r"\{[^}]+\}", "", path))
            pattern = re.sub(r"\\\{[^}]+?\\\+\\\}", ".+", re.escape(path))
            pattern = re.sub(r"\\\{[^}]+?\\\}", "[^/]+", pattern)
            routes.append((literal, http["method"], re.compile(pattern + "/?$"), name))
        self.routes = sorted(routes, key=lambda r: -r[0])  # the most specific path wins

    def operation(self, method: str, path: str) -> str | None:
        """The operation a request names."""
        for _, m, pattern, name in self.routes:
            if m == method and pattern.match(path):
                return str(name)
        return None


_routes: dict[str, RestRoutes] = {}
_routes_lock = threading.Lock()


def rest_routes(service: str) -> RestRoutes:
    """The service's routes, built once per process."""
    with _routes_lock:
        if service not in _routes:
            _routes[service] = RestRoutes(service)
        return _routes[service]


def _body(environ: Environ) -> bytes:
    """The request body, read once and put back for the app behind."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def request_operation(service: str, environ: Environ) -> tuple[str | None, str]:
    """(operation, protocol) of a signed request: json, cbor, query, rest-json or rest-xml."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.rsplit(".", 1)[-1], "json"
    path = environ.get("PATH_INFO", "")
    if environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor":
        return path.rsplit("/operation/", 1)[-1] or None, "cbor"
    if service == "s3":
        return environ.get("REQUEST_METHOD", "GET"), "rest-xml"
    if service == "lambda":
        return rest_routes(service).operation(environ.get("REQUEST_METHOD", "GET"), path), "rest-json"
    fields = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" not in fields and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        fields = parse_qs(_body(environ).decode("utf-8", "replace"))
    return (fields.get("Action") or [None])[0], "query"


def s3_bucket(environ: Environ) -> str:
    """The bucket of a path-style S3 request (the embedded endpoint is an IP address: always path style)."""
    return unquote(environ.get("PATH_INFO", "/").lstrip("/").split("/", 1)[0])


# -- the answer over quota --------------------------------------------------------------------------


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    n = len(data)
    if n < 24:
        return bytes([0x60 | n]) + data
    if n < 256:
        return bytes([0x78, n]) + data
    return bytes([0x79]) + n.to_bytes(2, "big") + data


def cbor_map(fields: dict[str, str]) -> bytes:
    """A CBOR map of text to text (RFC 8949 major types 5 and 3): what an rpc-v2-cbor error body holds."""
    assert len(fields) < 24
    return bytes([0xA0 | len(fields)]) + b"".join(_cbor_text(k) + _cbor_text(v) for k, v in fields.items())


JSON_ERROR_TYPES = {  # json-protocol error __type, as each service writes it
    "dynamodb": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
}
QUERY_XML = (
    '<ErrorResponse xmlns="{ns}"><Error><Type>Sender</Type><Code>Throttling</Code><Message>{message}</Message></Error>'
    "<RequestId>{request_id}</RequestId></ErrorResponse>"
)
S3_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request '
    "rate.</Message>"
    "<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
)


def throttle_response(service: str, protocol: str, retry_after: float) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, headers, body) of the service's throttling error in the request's protocol."""
    request_id = str(uuid.uuid4())
    headers = [("x-amzn-RequestId", request_id)]
    if service == "lambda":
        # Lambda API reference, TooManyRequestsException: HTTP 429, Retry-After, Reason CallerRateLimitExceeded.
        body = json.dumps({"Reason": "CallerRateLimitExceeded", "Type": "User", "message": RATE_EXCEEDED}).encode()
        headers += [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", "TooManyRequestsException"),
            ("Retry-After", str(max(1, math.ceil(retry_after)))),
        ]
        return "429 Too Many Requests", headers, body
    if service == "s3":
        headers += [("Content-Type", "application/xml")]
        return "503 Slow Down", headers, S3_XML.format(request_id=request_id).encode()
    if protocol == "query":
        namespaces = {
            "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
            "monitoring": "http://monitoring.amazonaws.com/doc/2010-08-01/",
        }
        body = QUERY_XML.format(ns=namespaces.get(service, ""), message=RATE_EXCEEDED, request_id=request_id).encode()
        return "400 Bad Request", headers + [("Content-Type", "text/xml")], body
    query_compatible = (
        service == "monitoring"
    )  # CloudWatch answers new protocols with the query code (awsQueryCompatible)
    if query_compatible:
        headers.append(("x-amzn-query-error", "Throttling;Sender"))
    error_type = JSON_ERROR_TYPES.get(service, "ThrottlingException")
    if protocol == "cbor":
        headers += [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        return "400 Bad Request", headers, cbor_map({"__type": error_type, "message": RATE_EXCEEDED})
    content_type = (
        "application/x-amz-json-1.0" if service in ("dynamodb", "monitoring") else "application/x-amz-json-1.1"
    )
    headers += [("Content-Type", content_type), ("x-amzn-ErrorType", error_type.rsplit("#", 1)[-1])]
    return "400 Bad Request", headers, json.dumps({"__type": error_type, "message": RATE_EXCEEDED}).encode()


class QuotaMiddleware:
    """WSGI: a signed request of a throttled account takes a token from its quota's bucket, or is answered
    with the service's throttling error; everything else passes through unchanged."""

    def __init__(self, app: WsgiApp, default_account: str) -> None:
        self.app, self.default_account = app, default_account

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        account = environ.get(ACCOUNT_HEADER) or self.default_account
        limits = enforcement(account)
        if limits is not None:
            scope = SCOPE_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
            if scope:
                service = scope.group("service")
                operation, protocol = request_operation(service, environ)
                quota = quota_for(service, operation or "")
                if quota is not None:
                    key = quota if service != "s3" else _per_bucket(quota, s3_bucket(environ))
                    wait = limits.bucket(key).take()
                    if wait:
                        limits.throttled += 1
                        status, headers, body = throttle_response(service, protocol, wait)
                        start_response(status, headers + [("Content-Length", str(len(body)))])
                        return [body]
        answer: Iterable[bytes] = self.app(environ, start_response)
        return answer


def _per_bucket(quota: Quota, bucket: str) -> Quota:
    """S3's quotas apply per prefix: one bucket per S3 bucket (a bucket is at least one prefix)."""
    return Quota(quota.service, (f"{bucket}/{'+'.join(quota.operations)}",), quota.rate, quota.burst, quota.source)


PATCHES: tuple[Any, ...] = ()


def install() -> None:
    """Nothing of moto's is patched: ``middleware`` joins one target's server."""


def middleware(default_account: str) -> Callable[[WsgiApp], WsgiApp]:
    """The wrapper ``EmbeddedServer.middlewares`` applies at start (outermost: throttles before anything answers)."""
    return lambda app: QuotaMiddleware(app, default_account)
