"""Lambda Invoke runs the code of the version it resolves to (moto without Docker never runs code).

``Invoke`` on ``fn``, ``fn:version`` or ``fn:alias`` (or the same with ``Qualifier=``) runs the
handler of the resolved version — that version's own zip and environment variables — in a
``python -I`` subprocess bounded by the function's Timeout, and answers as the Invoke API does
(Lambda API reference, Invoke): status 200 with the handler's JSON payload, ``X-Amz-Executed-Version``
naming the version that ran, ``X-Amz-Function-Error: Unhandled`` with an
``{errorMessage, errorType, ...}`` payload when the handler raised, timed out or the runtime exited,
``X-Amz-Log-Result`` (last 4 KB, base64) when ``LogType=Tail``; ``Event`` runs in the background and
answers 202, ``DryRun`` answers 204 without running. An alias with ``RoutingConfig`` sends the
configured share of invocations to its additional version, as weighted aliases do. Every run writes a
log stream to ``/aws/lambda/<fn>`` and AWS/Lambda metrics (see ``lambda_telemetry``).

The handler's own SDK calls go to the embedded server (``AWS_ENDPOINT_URL``, dummy credentials, no
shared config files): rehearsal code can never reach a real account.
"""

from __future__ import annotations

import atexit
import base64
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.responses import LambdaResponse

from harness.targets.embedded.fidelity import lambda_environments, lambda_telemetry, registry
from harness.targets.embedded.fidelity.registry import AccountContext

RUNTIME_SCRIPT = Path(__file__).with_name("lambda_runtime.py")
BACKSTOP_SECONDS = 5.0  # the runtime enforces Timeout itself; this only catches a wedged interpreter
_cache_lock = threading.Lock()
_cache_root: Path | None = None
_query = threading.local()  # the Invoke request's ?Qualifier=, which moto's handler drops


@dataclass
class Invocation:
    """The outcome of one invocation, as the Invoke API and the telemetry report it."""

    request_id: str
    function_name: str
    executed_version: str
    payload: bytes
    function_error: str | None
    duration_ms: float
    log_tail: str


def _code_root() -> Path:
    """This process's cache of extracted packages (removed at exit)."""
    global _cache_root
    if _cache_root is None:
        _cache_root = Path(tempfile.mkdtemp(prefix=f"harness-lambda-{os.getpid()}-"))
        atexit.register(shutil.rmtree, _cache_root, True)
    return _cache_root


def task_root(fn: LambdaFunction) -> Path:
    """The version's deployment package extracted once per CodeSha256 (Lambda's /var/task)."""
    key = fn.code_sha_256.replace("/", "_").replace("+", "-").rstrip("=")
    target = _code_root() / key
    with _cache_lock:
        if not target.exists():
            staging = Path(tempfile.mkdtemp(dir=_code_root()))
            with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as zf:
                zf.extractall(staging)
            staging.rename(target)
    return target


def split_qualifier(name_or_arn: str, qualifier: str | None) -> tuple[str, str | None]:
    """(function name, qualifier) from a name, ``name:qualifier`` or an ARN (qualifier in the name wins)."""
    name = name_or_arn.split(":function:", 1)[1] if ":function:" in name_or_arn else name_or_arn
    if ":" in name:
        name, qualifier = name.split(":", 1)
    return name, qualifier


def resolve(backend: LambdaBackend, name_or_arn: str, qualifier: str | None) -> tuple[LambdaFunction, str | None, bool]:
    """The version an invocation runs, the qualifier the caller named, and whether it is an alias."""
    name, qualifier = split_qualifier(name_or_arn, qualifier)
    fn = backend.get_function(name, qualifier)  # raises ResourceNotFound as AWS does
    alias = backend._lambdas._get_function_aliases(name).get(qualifier or "")
    if alias is None:
        return fn, qualifier, False
    # moto annotates routing_config as str; it holds the RoutingConfig dict the request sent.
    routing = cast("dict[str, Any] | None", alias.routing_config) or {}
    weights = routing.get("AdditionalVersionWeights") or {}
    # Lambda Developer Guide, "Weighted aliases": each extra version gets its weight's share.
    draw, acc = random.random(), 0.0
    for version, weight in weights.items():
        acc += float(weight)
        if draw < acc:
            return backend.get_function(name, str(version)), qualifier, True
    return fn, qualifier, True


def _environment(ctx: AccountContext, fn: LambdaFunction, root: Path, group: str, stream: str) -> dict[str, str]:
    """The process environment of one invocation: the version's variables, then Lambda's reserved ones."""
    env = {k: str(v) for k, v in (fn.environment_vars or {}).items()}
    env.update(
        {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": str(root),
            "_HANDLER": fn.handler or "",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": group,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            # Rehearsal code talks to the embedded server only, with credentials that work nowhere else.
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    url = ctx.server_url()
    if url:
        env["AWS_ENDPOINT_URL"] = url
    return env


def _error(request_id: str, error_type: str, message: str) -> dict[str, Any]:
    """An Invoke error payload."""
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": []}


def run(ctx: AccountContext, fn: LambdaFunction, event: Any, resource: str | None, via_alias: bool) -> Invocation:
    """Run ``fn``'s handler on ``event`` in a subprocess; log and meter it; return the outcome."""
    request_id = str(uuid.uuid4())
    started = ctx.clock.now()
    version = str(fn.version)
    group = f"/aws/lambda/{fn.function_name}"
    if lambda_environments.SUPPORTED and _runs_here(fn):
        outcome, output, stream = _execute_warm(ctx, fn, event, request_id, group, started)
    else:
        stream = lambda_telemetry.stream_name(started, version)
        outcome, output = _execute(ctx, fn, event, request_id, group, stream, started)
    payload = outcome["payload"]
    errored = not outcome.get("ok", False)
    duration = float(outcome.get("duration_ms", 0.0))
    lines = lambda_telemetry.log_lines(
        request_id, version, output, duration, int(fn.memory_size), bool(outcome.get("timed_out"))
    )
    with registry.acting_for(ctx.account):  # the events' ingestionTime on the account's clock (one_clock)
        lambda_telemetry.write_logs(fn.account_id, fn.region, group, stream, lines, started)
    dims = lambda_telemetry.dimension_sets(fn.function_name, resource, version, via_alias)
    lambda_telemetry.put_metrics(fn.account_id, fn.region, dims, started, errored, duration)
    return Invocation(
        request_id=request_id,
        function_name=fn.function_name,
        executed_version=version,
        payload=json.dumps(payload).encode(),
        function_error="Unhandled" if errored else None,
        duration_ms=duration,
        log_tail=lambda_telemetry.tail(lines),
    )


def _runs_here(fn: LambdaFunction) -> bool:
    """True for what the embedded runtime runs: Python zip packages."""
    return str(fn.run_time or "").startswith("python") and getattr(fn, "package_type", "Zip") != "Image"


def environment_key(ctx: AccountContext, fn: LambdaFunction) -> lambda_environments.EnvironmentKey:
    """What makes Lambda create a new execution environment: the version, its code and its configuration."""
    variables = json.dumps(fn.environment_vars or {}, sort_keys=True, default=str)
    return (
        fn.function_arn,
        str(fn.version),
        fn.code_sha_256,
        fn.handler,
        fn.run_time,
        fn.memory_size,
        fn.timeout,
        variables,
        ctx.server_url(),
    )


def _request(
    fn: LambdaFunction, event: Any, request_id: str, group: str, stream: str, started: datetime, root: Path
) -> dict[str, Any]:
    """What the runtime needs for one invocation."""
    return {
        "handler": fn.handler,
        "task_root": str(root),
        "event": event,
        "timeout": float(fn.timeout or 3),
        "clock_start": started.timestamp(),  # the runtime's log lines follow the target's clock
        "context": {
            "function_name": fn.function_name,
            "function_version": str(fn.version),
            "invoked_function_arn": fn.function_arn,
            "memory_limit_in_mb": int(fn.memory_size),
            "aws_request_id": request_id,
            "log_group_name": group,
            "log_stream_name": stream,
        },
    }


def _timed_out(request_id: str, timeout: float) -> dict[str, Any]:
    msg = f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
    return {
        "ok": False,
        "timed_out": True,
        "duration_ms": timeout * 1000,
        "payload": {"errorType": "Sandbox.Timedout", "errorMessage": msg},
    }


def _exited(request_id: str, status: str) -> dict[str, Any]:
    # The handler called sys.exit/os._exit or the interpreter died: Runtime.ExitError in AWS.
    msg = f"RequestId: {request_id} Error: Runtime exited with error: {status}"
    return {"ok": False, "duration_ms": 0.0, "payload": {"errorType": "Runtime.ExitError", "errorMessage": msg}}


def _execute_warm(
    ctx: AccountContext, fn: LambdaFunction, event: Any, request_id: str, group: str, started: datetime
) -> tuple[dict[str, Any], str, str]:
    """(runtime result, handler output, log stream) of one event in a warm execution environment of the version.

    The environment is reused while it lives (module state persists, as in Lambda) and discarded after
    a timeout, a runtime exit or an init failure; its log stream is the one it was created with."""
    key = environment_key(ctx, fn)
    pool = lambda_environments.pool()
    env = pool.acquire(key)
    if env.log_stream is None:
        env.log_stream = lambda_telemetry.stream_name(started, str(fn.version))
    root = task_root(fn)
    request = _request(fn, event, request_id, group, env.log_stream, started, root)
    request["environment"] = _environment(ctx, fn, root, group, env.log_stream)
    timeout = request["timeout"]
    try:
        result, output = env.run(request, timeout + BACKSTOP_SECONDS)
    except TimeoutError:
        env.kill()
        return _timed_out(request_id, timeout), "", env.log_stream
    except OSError:
        env.kill()
        return _exited(request_id, "the execution environment's channel failed"), "", env.log_stream
    if result is None:
        env.close()
        return _exited(request_id, "the process ended"), output, env.log_stream
    if result.get("timed_out") or result.get("init_failed"):
        env.close()  # Lambda resets the environment after a timeout and re-runs init after an init failure
    else:
        pool.release(key, env)
    return result, output, env.log_stream


def _execute(
    ctx: AccountContext, fn: LambdaFunction, event: Any, request_id: str, group: str, stream: str, started: datetime
) -> tuple[dict[str, Any], str]:
    """(runtime result, handler output) for one event in a one-off ``python -I`` process (where fork is
    unavailable); runtime failures become Lambda's error payloads."""
    if not _runs_here(fn):
        # Only Python zip packages can run here; say so instead of pretending (the drill then fails).
        msg = (
            f"runtime {fn.run_time!r} / package {getattr(fn, 'package_type', 'Zip')} is not emulated by the "
            "embedded target"
        )
        return {"ok": False, "duration_ms": 0.0, "payload": _error(request_id, "Harness.RuntimeNotEmulated", msg)}, msg
    root = task_root(fn)
    request = _request(fn, event, request_id, group, stream, started, root)
    timeout = request["timeout"]
    try:
        proc = subprocess.run(
            [sys.executable, "-I", str(RUNTIME_SCRIPT)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            env=_environment(ctx, fn, root, group, stream),
            cwd=str(root),
            timeout=timeout + BACKSTOP_SECONDS,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return _timed_out(request_id, timeout), out
    result_line = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
    if not result_line:
        return _exited(request_id, f"exit status {proc.returncode}"), proc.stderr
    return json.loads(result_line[0]), proc.stderr


def _event(body: Any) -> Any:
    """The event an Invoke body carries (``{}`` when empty)."""
    if body in (None, b"", ""):
        return {}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        # Lambda API reference, Invoke: a payload that is not JSON is InvalidRequestContentException (400).
        from harness.targets.embedded.fidelity.lambda_control import invalid_payload

        raise invalid_payload(str(exc)) from exc


def _backend_invoke(original: Any) -> Any:
    def invoke(
        self: LambdaBackend, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> Any:
        ctx = registry.context(self.account_id)
        if ctx is None:
            return original(self, function_name, qualifier, body, headers, response_headers)
        fn, named, via_alias = resolve(self, function_name, qualifier or getattr(_query, "qualifier", None))
        resource = f"{fn.function_name}:{named}" if named else None
        invocation_type = (
            (headers or {}).get("X-Amz-Invocation-Type")
            or (headers or {}).get("x-amz-invocation-type")
            or "RequestResponse"
        )
        if invocation_type == "DryRun":
            return b""
        event = _event(body)
        if invocation_type == "Event":
            threading.Thread(
                target=run, args=(ctx, fn, event, resource, via_alias), daemon=True, name="harness-lambda-event"
            ).start()
            return b""
        result = run(ctx, fn, event, resource, via_alias)
        response_headers["x-amz-executed-version"] = result.executed_version
        response_headers["x-amz-log-result"] = base64.b64encode(result.log_tail.encode()).decode()
        if result.function_error:
            response_headers["x-amz-function-error"] = result.function_error
        response_headers["Content-Length"] = str(len(result.payload))
        return result.payload

    invoke.__doc__ = "Invoke: run the resolved version's handler (fidelity extension)."
    return invoke


def _response_invoke(original: Any) -> Any:
    def invoke(self: LambdaResponse) -> Any:
        # moto reads "qualifier" but the Invoke API sends "?Qualifier=" (Lambda API reference, Invoke).
        _query.qualifier = (self.querystring.get("Qualifier") or [None])[0]
        try:
            return original(self)
        finally:
            _query.qualifier = None

    invoke.__doc__ = "Invoke: keep the ?Qualifier= query parameter for the backend (fidelity extension)."
    return invoke


def _function_invoke(original: Any) -> Any:
    def invoke(self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> Any:
        ctx = registry.context(self.account_id)
        if ctx is None:
            return original(self, body, request_headers, response_headers)
        # Reached by moto-internal triggers (InvokeAsync, event sources, SNS): the version itself.
        qualifier = None if str(self.version) == "$LATEST" else str(self.version)
        result = run(ctx, self, _event(body), f"{self.function_name}:{qualifier}" if qualifier else None, False)
        response_headers["x-amz-executed-version"] = result.executed_version
        if result.function_error:
            response_headers["x-amz-function-error"] = result.function_error
        return result.payload

    invoke.__doc__ = "Run this version's handler (fidelity extension)."
    return invoke


def invoke_local(ctx: AccountContext, function_name: str, qualifier: str | None, event: Any) -> Invocation:
    """Invoke in-process (the HTTP API front uses this): same resolution, run, logs and metrics."""
    from moto.awslambda.models import lambda_backends

    backend = lambda_backends[ctx.account][ctx.region]
    fn, named, via_alias = resolve(backend, function_name, qualifier)
    return run(ctx, fn, event, f"{fn.function_name}:{named}" if named else None, via_alias)


PATCHES: tuple[registry.Patch, ...] = (
    (LambdaResponse, "invoke", _response_invoke),
    (LambdaBackend, "invoke", _backend_invoke),
    (LambdaFunction, "invoke", _function_invoke),
)


def install() -> None:
    """Patch moto's Lambda invoke paths (once per process)."""
    registry.patch_all(PATCHES)
