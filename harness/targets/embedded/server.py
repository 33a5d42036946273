"""moto's server app on a free 127.0.0.1 port, in a thread, defaulting requests to one account."""

from __future__ import annotations

import json
import threading
from typing import Any, Callable

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

ACCOUNT_HEADER = "HTTP_X_MOTO_ACCOUNT_ID"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


class QuietRequestHandler(MotoRequestHandler):
    """moto's request handler without werkzeug's one-line-per-request access log."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Do not log each request (thousands during seeding)."""


class QuietPlainHandler(WSGIRequestHandler):
    """werkzeug's plain request handler without the access log (for non-moto apps)."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Do not log each request."""


class DefaultAccount:
    """WSGI middleware: a request without ``x-moto-account-id`` acts in ``account``.

    So an ordinary client (aws CLI, any SDK, dummy credentials) sees the served environment's
    account, and STS GetCallerIdentity returns it, which is what the account guard checks.
    """

    def __init__(self, app: WsgiApp, account: str) -> None:
        self.app, self.account = app, account

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        environ.setdefault(ACCOUNT_HEADER, self.account)
        return self.app(environ, start_response)


class RequestAccount:
    """WSGI middleware: the request runs marked with its account (the fidelity extensions' one clock reads it)."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        from harness.targets.embedded.fidelity.registry import acting_for

        with acting_for(environ.get(ACCOUNT_HEADER)):
            return self.app(environ, start_response)


CLOCK_PATH = "/_harness/clock"


class ClockControl:
    """WSGI middleware: ``GET /_harness/clock`` answers the rehearsal clock's now, ``POST`` with
    ``{"advance_seconds": N}`` moves it forward (a served rehearsal's clients cannot sleep on it: a restore
    that takes 20 minutes on the rehearsal clock would otherwise take 20 real minutes, as on AWS)."""

    def __init__(self, app: WsgiApp, clock: Any) -> None:
        self.app, self.clock = app, clock

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") != CLOCK_PATH:
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            self.clock.advance(seconds=float(body.get("advance_seconds", 0)))
        payload = json.dumps({"now": self.clock.now().isoformat(), "rehearsal": True}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]


def clock_control(clock: Any) -> Callable[[WsgiApp], WsgiApp]:
    """A server middleware serving ``/_harness/clock`` for ``clock``."""
    return lambda app: ClockControl(app, clock)


class WsgiThread:
    """A threaded werkzeug server for one WSGI app on 127.0.0.1, served from a daemon thread."""

    def __init__(self, name: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.name, self.host, self._port = name, host, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def serve(self, app: WsgiApp, request_handler: type = QuietRequestHandler) -> None:
        """Bind the port (0: a free one) and serve ``app`` until ``stop()``."""
        self._server = make_server(self.host, self._port, app, threaded=True, request_handler=request_handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
        )
        self._thread.start()

    @property
    def running(self) -> bool:
        """True between ``serve()`` and ``stop()``."""
        return self._server is not None

    @property
    def port(self) -> int:
        assert self._server is not None, f"{self.name} not started"
        return int(self._server.server_address[1])

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


class EmbeddedServer:
    """A moto server in this process (one per pytest session or xdist worker)."""

    def __init__(self, default_account: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.default_account = default_account
        self.host = host
        self._wsgi = WsgiThread("harness-moto", host, port)
        self.middlewares: list[Callable[[WsgiApp], WsgiApp]] = []

    def start(self) -> "EmbeddedServer":
        """Bind the port and serve in a daemon thread."""
        app: WsgiApp = DefaultAccount(
            RequestAccount(DomainDispatcherApplication(create_backend_app)), self.default_account
        )
        for wrap in self.middlewares:
            app = wrap(app)
        self._wsgi.serve(app)
        return self

    @property
    def port(self) -> int:
        return self._wsgi.port

    @property
    def running(self) -> bool:
        """True while the server is serving."""
        return self._wsgi.running

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        self._wsgi.stop()
