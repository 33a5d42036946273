"""The inventory's HTTP API served on 127.0.0.1 in front of the functions (moto cannot invoke stages).

Semantics are API Gateway's REST API Lambda *proxy* integration (API Gateway Developer Guide,
"Lambda proxy integrations", input and output formats): the request becomes an event with
``resource``, ``path``, ``httpMethod``, ``headers``/``multiValueHeaders``, query string parameters,
``pathParameters``, ``requestContext``, ``body`` and ``isBase64Encoded``; the handler's
``statusCode``/``headers``/``multiValueHeaders``/``body``/``isBase64Encoded`` become the HTTP response.
As in AWS: a function error or a malformed proxy response is 502 ``{"message": "Internal server
error"}``, an integration slower than 29 s is 504 ``{"message": "Endpoint request timed out"}``,
a path outside the inventory's resources is 403 ``{"message": "Missing Authentication Token"}``.

Each configured path ``/p`` is a resource ``/p`` plus a greedy ``/p/{proxy+}``, integrated with the
inventory's API function through the environment's alias (so moving the alias moves the API).
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from datetime import timezone
from typing import Any, Callable
from urllib.parse import urlsplit

from werkzeug.wrappers import Request, Response

from harness.inventory.model import Environment
from harness.targets.embedded.fidelity import lambda_invoke
from harness.targets.embedded.fidelity.registry import AccountContext, Patch
from harness.targets.embedded.server import QuietPlainHandler, WsgiThread

INTEGRATION_TIMEOUT_SECONDS = 29.0  # API Gateway quotas: integration timeout 50 ms - 29 s (REST default)


def _json_response(status: int, body: dict[str, Any], request_id: str) -> Response:
    return Response(
        json.dumps(body), status=status, headers={"Content-Type": "application/json", "x-amzn-RequestId": request_id}
    )


class HttpApi:
    """One environment's API front: a threaded WSGI server on 127.0.0.1, stopped by ``stop()``."""

    def __init__(self, ctx: AccountContext, env: Environment, host: str = "127.0.0.1") -> None:
        assert env.api is not None
        self.ctx, self.env, self.host = ctx, env, host
        self.base_path = urlsplit(env.api.base_url).path.rstrip("/")
        self.stage = self.base_path.strip("/").split("/")[0] if self.base_path else "$default"
        self.routes = tuple(sorted((p.rstrip("/") or "/" for p in env.api.paths), key=len, reverse=True))
        self.function = env.api.function
        known = {f.name: f.alias for f in env.functions}
        self.qualifier = known.get(self.function, env.alias)
        self._wsgi = WsgiThread("harness-http-api", host)

    def start(self) -> "HttpApi":
        """Bind a free port and serve in a daemon thread."""
        self._wsgi.serve(self, request_handler=QuietPlainHandler)
        return self

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` plus the inventory URL's base path."""
        return f"http://{self.host}:{self._wsgi.port}{self.base_path}"

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        self._wsgi.stop()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def match(self, path: str) -> tuple[str, dict[str, str] | None] | None:
        """(resource, pathParameters) for a path relative to the base path, or None."""
        for route in self.routes:
            if path == route:
                return route, None
            if path.startswith(route.rstrip("/") + "/"):
                return f"{route.rstrip('/')}/{{proxy+}}", {"proxy": path[len(route.rstrip("/")) + 1 :]}
        return None

    def handle(self, request: Request) -> Response:
        """One HTTP request through the proxy integration."""
        request_id = str(uuid.uuid4())
        full_path = request.path
        if self.base_path and not (full_path == self.base_path or full_path.startswith(self.base_path + "/")):
            return _json_response(403, {"message": "Missing Authentication Token"}, request_id)
        path = full_path[len(self.base_path) :] or "/"
        matched = self.match(path)
        if matched is None:
            return _json_response(403, {"message": "Missing Authentication Token"}, request_id)
        event = self.event(request, path, matched[0], matched[1], request_id)
        return self.integrate(event, request_id)

    def event(
        self, request: Request, path: str, resource: str, path_parameters: dict[str, str] | None, request_id: str
    ) -> dict[str, Any]:
        """The Lambda proxy integration input event (payload format 1.0)."""
        multi_headers: dict[str, list[str]] = {}
        for key, value in request.headers.items():
            multi_headers.setdefault(key, []).append(value)
        multi_query = {k: request.args.getlist(k) for k in request.args.keys()}
        raw = request.get_data()
        try:
            body, b64 = (raw.decode("utf-8") if raw else None), False
        except UnicodeDecodeError:
            body, b64 = base64.b64encode(raw).decode(), True
        now = self.ctx.clock.now().astimezone(timezone.utc)
        return {
            "resource": resource,
            "path": path,
            "httpMethod": request.method,
            "headers": {k: v[-1] for k, v in multi_headers.items()} or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_parameters,
            "stageVariables": None,
            "requestContext": {
                "accountId": self.ctx.account,
                "apiId": "embedded",
                "resourcePath": resource,
                "httpMethod": request.method,
                "path": request.path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "requestId": request_id,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "stage": self.stage,
                "identity": {"sourceIp": request.remote_addr, "userAgent": request.headers.get("User-Agent")},
            },
            "body": body,
            "isBase64Encoded": b64,
        }

    def integrate(self, event: dict[str, Any], request_id: str) -> Response:
        """Invoke the function through the alias and map its proxy response (or failure) to HTTP."""
        outcome: dict[str, Any] = {}

        def call() -> None:
            try:
                outcome["invocation"] = lambda_invoke.invoke_local(self.ctx, self.function, self.qualifier, event)
            except Exception as exc:  # noqa: BLE001 (missing function/alias or handler error: the integration fails)
                outcome["error"] = exc

        worker = threading.Thread(target=call, name="harness-http-api-integration", daemon=True)
        worker.start()
        worker.join(INTEGRATION_TIMEOUT_SECONDS)
        if worker.is_alive():
            return _json_response(504, {"message": "Endpoint request timed out"}, request_id)
        if "error" in outcome:
            return _json_response(500, {"message": "Internal server error"}, request_id)
        invocation = outcome["invocation"]
        if invocation.function_error:
            return _json_response(502, {"message": "Internal server error"}, request_id)
        response = proxy_response(json.loads(invocation.payload))
        if response is None:  # "Malformed Lambda proxy response"
            return _json_response(502, {"message": "Internal server error"}, request_id)
        response.headers["x-amzn-RequestId"] = request_id
        return response


def proxy_response(result: Any) -> Response | None:
    """The HTTP response for a Lambda proxy integration output, or None when it is malformed."""
    if not isinstance(result, dict):
        return None
    try:
        status = int(result.get("statusCode", 0))
    except (TypeError, ValueError):
        return None
    body = result.get("body")
    headers = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not 100 <= status <= 599 or (body is not None and not isinstance(body, str)):
        return None
    if not isinstance(headers, dict) or not isinstance(multi, dict):
        return None
    data = base64.b64decode(body) if result.get("isBase64Encoded") and body else (body or "").encode()
    response = Response(data, status=status)
    response.headers.pop("Content-Type", None)
    for key, values in multi.items():
        for value in values if isinstance(values, list) else [values]:
            response.headers.add(key, str(value))
    for key, value in headers.items():
        response.headers[key] = str(value)
    if "Content-Type" not in response.headers:
        response.headers["Content-Type"] = "application/json"  # API Gateway's default for proxy responses
    return response


PATCHES: tuple[Patch, ...] = ()  # nothing of moto's is patched: the front is a server of its own, started per target


def install() -> None:
    """Nothing to patch process-wide; ``HttpApi(...).start()`` serves one target's API."""
