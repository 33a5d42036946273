"""The Python "runtime" a Lambda version runs in: one event, in a subprocess, stdlib only.

Run as ``python -I lambda_runtime.py`` with the version's environment; reads one JSON request on
stdin ({"handler", "task_root", "event", "context", "timeout"}), imports the handler from the
extracted deployment package, calls it and writes one JSON result line to the original stdout. The
handler's own prints go to stderr, which the parent turns into the CloudWatch Logs stream, as the
real runtime does (Lambda Developer Guide, "Python Lambda function logging").

Result shapes mirror the Invoke API (Lambda API reference, Invoke): ``{"ok": true, "payload": ...}``
or ``{"ok": false, "payload": {"errorMessage", "errorType", "requestId", "stackTrace"}}``; a
handler that outlives its timeout is reported as ``Sandbox.Timedout`` like the managed runtime.
"""

import importlib
import json
import os
import sys
import threading
import time
import traceback


class LambdaContext:
    """The subset of the Lambda context object handlers commonly read."""

    def __init__(self, spec, deadline):
        self.function_name = spec["function_name"]
        self.function_version = spec["function_version"]
        self.invoked_function_arn = spec["invoked_function_arn"]
        self.memory_limit_in_mb = spec["memory_limit_in_mb"]
        self.aws_request_id = spec["aws_request_id"]
        self.log_group_name = spec["log_group_name"]
        self.log_stream_name = spec["log_stream_name"]
        self._deadline = deadline

    def get_remaining_time_in_millis(self):
        """Milliseconds left before the runtime stops the handler."""
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


def main():
    """Run one invocation and write its result line."""
    result_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # handler prints -> stderr (the log stream); the result goes to the saved stdout
    sys.stdout = sys.stderr
    request = json.loads(sys.stdin.read())
    lock = threading.Lock()
    done = []
    request_id = request["context"]["aws_request_id"]

    def emit(result):
        try:
            line = json.dumps(result)
        except (TypeError, ValueError) as exc:  # the managed runtime's Runtime.MarshalError
            line = json.dumps({"ok": False, "duration_ms": result.get("duration_ms", 0.0), "payload": {
                "errorMessage": f"Unable to marshal response: {exc}", "errorType": "Runtime.MarshalError",
                "requestId": request_id, "stackTrace": []}})
        with lock:
            if done:
                return
            done.append(True)
            result_out.write(line + "\n")
            result_out.flush()

    timeout = float(request["timeout"])

    def on_timeout():
        message = f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}Z {request_id} Task timed out after {timeout:.2f} seconds", file=sys.stderr, flush=True)
        emit({"ok": False, "timed_out": True, "duration_ms": timeout * 1000.0,
              "payload": {"errorType": "Sandbox.Timedout", "errorMessage": message}})
        os._exit(0)

    sys.path.insert(0, request["task_root"])
    os.chdir(request["task_root"])
    module_name, func_name = request["handler"].rsplit(".", 1)
    try:
        handler = getattr(importlib.import_module(module_name.replace("/", ".")), func_name)
    except Exception as exc:  # Runtime.ImportModuleError in the managed runtime
        emit({"ok": False, "duration_ms": 0.0, "payload": {
            "errorMessage": f"Unable to import module '{module_name}': {exc}",
            "errorType": "Runtime.ImportModuleError", "requestId": request_id, "stackTrace": []}})
        return
    watchdog = threading.Timer(timeout, on_timeout)
    watchdog.daemon = True
    began = time.monotonic()
    context = LambdaContext(request["context"], began + timeout)
    watchdog.start()
    try:
        payload = handler(request["event"], context)
        duration = (time.monotonic() - began) * 1000.0
        emit({"ok": True, "duration_ms": duration, "payload": payload})
    except Exception as exc:
        duration = (time.monotonic() - began) * 1000.0
        stack = traceback.format_tb(exc.__traceback__)
        # The managed Python runtime logs "[ERROR] Type: message" plus the traceback.
        print(f"[ERROR] {type(exc).__name__}: {exc}\nTraceback (most recent call last):\n{''.join(stack)}", file=sys.stderr, flush=True)
        emit({"ok": False, "duration_ms": duration, "payload": {
            "errorMessage": str(exc), "errorType": type(exc).__name__,
            "requestId": request_id, "stackTrace": stack}})
    finally:
        watchdog.cancel()
    sys.stderr.flush()


if __name__ == "__main__":
    main()
