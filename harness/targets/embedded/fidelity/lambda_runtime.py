"""The Python "runtime" a Lambda version runs in: one event, in a subprocess, stdlib only.

Run as ``python -I lambda_runtime.py`` with the version's environment; reads one JSON request on
stdin ({"handler", "task_root", "event", "context", "timeout", "clock_start"}), imports the handler
from the extracted deployment package, calls it and writes one JSON result line to the original
stdout. Everything else goes to stderr, which the parent turns into the CloudWatch Logs stream.

It behaves as AWS's Python runtime does (the runtime interface client, aws/aws-lambda-python-runtime-
interface-client, ``awslambdaric/bootstrap.py``; Lambda Developer Guide, "Log and monitor Python
Lambda functions"):

- ``print`` output goes through unchanged, one log event per line;
- the root logger gets the runtime's handler, formatted
  ``[LEVEL]\\t2026-01-25T22:00:00.123Z\\t<request id>\\t<message>\\n`` (UTC; the request id is empty
  during init). The runtime sets no level of its own, so the root logger keeps Python's default
  WARNING: ``logging.error``/``warning`` appear, ``logging.info`` only once the code sets INFO (as
  AWS's examples do: ``logger.setLevel("INFO")``) or ``AWS_LAMBDA_LOG_LEVEL`` says so (set by
  Lambda from the function's application log level; TRACE means DEBUG);
- a failure during init (importing the handler) logs ``[ERROR] <errorType>: <errorMessage>`` plus a
  traceback as one event and fails the invocation: ``Runtime.ImportModuleError`` ("Unable to import
  module 'handler': No module named 'x'"), ``Runtime.HandlerNotFound`` ("Handler 'nope' missing on
  module 'handler'"), ``Runtime.UserCodeSyntaxError``, ``Runtime.MalformedHandlerName``; any other
  exception raised at import time keeps its own type and message (``[ERROR] ValueError: boom``);
- an exception from the handler is logged the same way and answered as ``FunctionError: Unhandled``
  with ``{errorMessage, errorType, requestId, stackTrace}``; an unserialisable result is
  ``Runtime.MarshalError``; a handler that outlives its timeout is ``Sandbox.Timedout``.

Log records and error reports are single events however many lines they hold (Lambda's telemetry
log sink frames them): each is written to stderr as ``FRAME`` + a JSON string + newline, which the
parent (``lambda_telemetry.events``) turns back into one event. Their timestamps follow the target's
injected clock: ``clock_start`` is the clock's reading when the invocation began.
"""

import importlib
import io
import json
import logging
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO, TypedDict, cast

FRAME = "\x1e"  # ASCII record separator: starts one framed log event on stderr
LOG_FORMAT = (
    "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"  # awslambdaric _setup_logging
)
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
TRACE_INDENT = "\u00a0"  # awslambdaric log_error: a traceback line's leading spaces become NO-BREAK SPACEs
# Logged (WARNING) before an init error by the managed runtime (awslambdaric lambda_literals), shortened.
UNHANDLED_WARNING = "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code."


class _State(TypedDict):
    request_id: str  # the invocation's, "" during init
    clock_offset: float  # seconds from this process's time.time() to the target's clock


_state: _State = {"request_id": "", "clock_offset": 0.0}
Emit = Callable[[dict[str, Any]], None]  # takes an invocation's result document


class FaultException(Exception):
    """A runtime fault with Lambda's errorType (awslambdaric FaultException)."""

    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MARSHAL_ERROR = "Runtime.MarshalError"

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type, self.message, self.trace = error_type, message, trace


class LogSink:
    """Lambda's log sink: one framed event per record, written in order with the handler's prints."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def log(self, message: str) -> None:
        """Write ``message`` as one log event."""
        self.stream.write(FRAME + json.dumps(message) + "\n")
        self.stream.flush()


class LambdaLoggerHandler(logging.Handler):
    """The handler the runtime puts on the root logger: formatted records go to the log sink."""

    def __init__(self, sink: LogSink) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        """Format and send one record as one event."""
        try:
            self.sink.log(self.format(record))
        except Exception:  # noqa: BLE001 (logging must never break the handler: logging.Handler.handleError contract)
            self.handleError(record)


class LambdaLoggerFilter(logging.Filter):
    """Stamp each record with the request id (as AWS's filter does) and the rehearsal clock's time."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add ``aws_request_id``; shift ``created``/``msecs`` once onto the target's clock."""
        record.aws_request_id = _state["request_id"]
        if not getattr(record, "_rehearsal_clock", False):
            record.created += _state["clock_offset"]
            record.msecs = (record.created - int(record.created)) * 1000.0
            record._rehearsal_clock = True
        return True


def log_level(value: str | None) -> str:
    """The root logger level ``AWS_LAMBDA_LOG_LEVEL`` asks for ("" when unset; TRACE means DEBUG)."""
    return {None: "", "TRACE": "DEBUG"}.get(value, value or "").upper()


def setup_logging(sink: LogSink, level: str) -> None:
    """Give the root logger the runtime's handler; set its level only when Lambda passes one."""
    logging.Formatter.converter = time.gmtime
    handler = LambdaLoggerHandler(sink)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, DATE_FORMAT))
    handler.addFilter(LambdaLoggerFilter())
    root = logging.getLogger()
    if level in logging.getLevelNamesMapping():
        root.setLevel(level)
    root.addHandler(handler)


def clock_stamp() -> str:
    """Now on the target's clock, as Lambda's platform lines print it (``2026-01-25T22:00:03.000Z``)."""
    now = time.time() + _state["clock_offset"]
    return time.strftime(DATE_FORMAT, time.gmtime(now)) + f".{int((now % 1) * 1000):03d}Z"


def get_handler(handler: str) -> Any:
    """Import the handler's module and return the function, raising Lambda's init faults.
    (Any: it is whatever the module holds under that name; calling it is the invocation.)"""
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        raise FaultException(FaultException.MALFORMED_HANDLER_NAME, f"Bad handler '{handler}': {exc}") from exc
    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                FaultException.BUILT_IN_MODULE_CONFLICT, f"Cannot use built-in module {module_name} as a handler module"
            )
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise FaultException(
            FaultException.IMPORT_MODULE_ERROR, f"Unable to import module '{module_name}': {exc}"
        ) from exc
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise FaultException(
            FaultException.USER_CODE_SYNTAX_ERROR, f"Syntax error in module '{module_name}': {exc}", trace
        ) from exc
    try:
        return getattr(module, function_name)
    except AttributeError:
        raise FaultException(
            FaultException.HANDLER_NOT_FOUND, f"Handler '{function_name}' missing on module '{module_name}'"
        ) from None


def make_error(message: str, error_type: str, stack_trace: list[str] | None, request_id: str) -> dict[str, Any]:
    """The error document of the Invoke API (and of the log line)."""
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id,
        "stackTrace": stack_trace or [],
    }


def user_stack(tb: TracebackType | None) -> list[str]:
    """The traceback without this runtime's own leading frames (awslambdaric drops bootstrap.py's)."""
    frames = [
        # lineno is None only for frames without position information, which a traceback's never lack
        (f.filename, cast(int, f.lineno), f.name, f.line)
        for f in traceback.extract_tb(tb)
    ]  # tuples: no ^^^ lines, as in AWS
    while frames and frames[0][0] == __file__:
        frames.pop(0)
    return traceback.format_list(frames)


def log_error(error: dict[str, Any], sink: LogSink) -> None:
    """Log an error document as AWS's text format does: one event, ``[ERROR] Type: message`` + traceback."""
    description = "[ERROR]"
    if error.get("errorType"):
        description += " " + error["errorType"]
    if error.get("errorMessage"):
        description += (":" if error.get("errorType") else "") + " " + error["errorMessage"]
    lines = [description, "Traceback (most recent call last):"]
    for element in error.get("stackTrace") or []:
        for line in element.splitlines() or [""]:
            stripped = line.lstrip(" ")
            lines.append(TRACE_INDENT * (len(line) - len(stripped)) + stripped)
    sink.log("\n".join(lines))


def init_environment(request: dict[str, Any], sink: LogSink) -> tuple[Any, dict[str, Any] | None]:
    """Lambda's init phase: the runtime's logging, the task root, the handler imported.
    Returns (handler, None), or (None, error document) for an init failure."""
    setup_logging(sink, log_level(os.environ.get("AWS_LAMBDA_LOG_LEVEL")))
    sys.path.insert(0, request["task_root"])
    os.chdir(request["task_root"])
    request_id = request["context"]["aws_request_id"]
    try:
        return get_handler(request["handler"]), None
    except FaultException as fault:
        return None, make_error(fault.message, fault.error_type, fault.trace, request_id)
    except Exception as exc:  # noqa: BLE001 (raised while importing user code: its own type and message)
        return None, make_error(str(exc), type(exc).__name__, user_stack(exc.__traceback__), request_id)


def invoke(handler: Callable[..., Any], request: dict[str, Any], sink: LogSink, emit: Emit) -> None:
    """One invocation: the handler on the event, bounded by the timeout; the result goes to ``emit``.
    A timeout ends the process (Lambda resets the execution environment after one)."""
    _state["clock_offset"] = float(request.get("clock_start", time.time())) - time.time()
    request_id = request["context"]["aws_request_id"]
    _state["request_id"] = request_id
    timeout = float(request["timeout"])

    def fail(error: dict[str, Any], duration: float) -> None:
        log_error(error, sink)
        emit({"ok": False, "duration_ms": duration, "payload": error})

    def on_timeout() -> None:
        message = f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
        print(f"{clock_stamp()} {request_id} Task timed out after {timeout:.2f} seconds", file=sys.stderr, flush=True)
        emit(
            {
                "ok": False,
                "timed_out": True,
                "duration_ms": timeout * 1000.0,
                "payload": {"errorType": "Sandbox.Timedout", "errorMessage": message},
            }
        )
        os._exit(0)

    watchdog = threading.Timer(timeout, on_timeout)
    watchdog.daemon = True
    began = time.monotonic()
    context = LambdaContext(request["context"], began + timeout)
    watchdog.start()
    try:
        payload = handler(request["event"], context)
        duration = (time.monotonic() - began) * 1000.0
        try:
            json.dumps(payload)
        except (TypeError, ValueError) as exc:
            fail(
                make_error(f"Unable to marshal response: {exc}", FaultException.MARSHAL_ERROR, None, request_id),
                duration,
            )
        else:
            emit({"ok": True, "duration_ms": duration, "payload": payload})
    except Exception as exc:  # noqa: BLE001 (whatever the handler raises is the invocation's error, as Lambda reports it)
        duration = (time.monotonic() - began) * 1000.0
        fail(make_error(str(exc), type(exc).__name__, user_stack(exc.__traceback__), request_id), duration)
    finally:
        watchdog.cancel()
        _state["request_id"] = ""


def once_emitter(write: Emit) -> Emit:
    """An ``emit`` that writes only the first result of an invocation (the watchdog and the handler race)."""
    lock = threading.Lock()
    done: list[bool] = []

    def emit(result: dict[str, Any]) -> None:
        with lock:
            if done:
                return
            done.append(True)
            write(result)

    return emit


def main() -> None:
    """One invocation per process: init, run the event from stdin, write the result line to stdout."""
    result_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # handler prints -> stderr (the log stream); the result goes to the saved stdout
    sys.stdout = sys.stderr
    request = json.loads(sys.stdin.read())
    _state["clock_offset"] = float(request.get("clock_start", time.time())) - time.time()
    sink = LogSink(sys.stderr)

    def write(result: dict[str, Any]) -> None:
        result_out.write(json.dumps(result) + "\n")
        result_out.flush()

    emit = once_emitter(write)
    handler, error = init_environment(request, sink)
    if error is not None:
        logging.warning(UNHANDLED_WARNING)
        log_error(error, sink)
        emit({"ok": False, "duration_ms": 0.0, "payload": error})
        return
    invoke(handler, request, sink, emit)
    sys.stderr.flush()


RESULT = "\x1d"  # ASCII group separator: starts an invocation's result line in a warm environment's stream


def serve(channel: socket.socket) -> None:
    """A warm execution environment (forked from the zygote): init on the first request, then one
    invocation per request line until the channel closes; module state persists between them, as in
    Lambda's execution environments. Handler output and results share the channel: output as written,
    each result as ``RESULT`` + JSON + newline after the invocation's output."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(channel.fileno(), 1)
    os.dup2(channel.fileno(), 2)
    sys.stdout = sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", buffering=0), write_through=True)
    requests = channel.makefile("rb")
    sink = LogSink(sys.stderr)

    def write(result: dict[str, Any]) -> None:
        sys.stderr.write(RESULT + json.dumps(result) + "\n")
        sys.stderr.flush()

    handler: Any = None  # get_handler's: whatever the module holds
    for line in requests:
        request = json.loads(line)
        if handler is None:
            os.environ.clear()
            os.environ.update(request["environment"])
            time.tzset()
            _state["clock_offset"] = float(request.get("clock_start", time.time())) - time.time()
            _state["request_id"] = ""
            handler, error = init_environment(request, sink)
            if error is not None:  # an init failure: Lambda discards the environment
                logging.warning(UNHANDLED_WARNING)
                log_error(error, sink)
                write({"ok": False, "duration_ms": 0.0, "payload": error, "init_failed": True})
                return
        invoke(handler, request, sink, once_emitter(write))


def zygote(fd: int) -> None:
    """Fork a fresh execution environment per request on ``fd`` and hand its channel back (SCM_RIGHTS).

    A fork of this process is a fresh interpreter with only the runtime loaded, ~1 ms instead of the
    ~35 ms of starting ``python -I`` and importing it: the rehearsal pays Lambda's cold start once per
    execution environment, like Lambda, but not an interpreter start per invocation.
    """
    import signal

    control = socket.socket(fileno=fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    for line in control.makefile("rb"):
        if line.strip() != b"fork":
            continue
        parent_end, child_end = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            control.close()
            parent_end.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the handler's own subprocesses are waited for normally
            try:
                serve(child_end)
            finally:
                os._exit(0)
        child_end.close()
        socket.send_fds(control, [f"{pid}\n".encode()], [parent_end.fileno()])
        parent_end.close()


class LambdaContext:
    """The subset of the Lambda context object handlers commonly read."""

    def __init__(self, spec: dict[str, Any], deadline: float) -> None:
        self.function_name = spec["function_name"]
        self.function_version = spec["function_version"]
        self.invoked_function_arn = spec["invoked_function_arn"]
        self.memory_limit_in_mb = spec["memory_limit_in_mb"]
        self.aws_request_id = spec["aws_request_id"]
        self.log_group_name = spec["log_group_name"]
        self.log_stream_name = spec["log_stream_name"]
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the runtime stops the handler."""
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--zygote":
        zygote(int(sys.argv[2]))
    else:
        main()
