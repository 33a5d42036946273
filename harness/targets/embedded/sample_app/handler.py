"""Sample Lambda handler the embedded target publishes as every function's versions.

It answers API Gateway proxy events: /health and */health with 200, other paths with a small
JSON document. ``HARNESS_FAULT`` in the version's environment makes a version misbehave the way
a bad deployment would (``error``: statusCode 500; ``raise``: an unhandled exception; ``slow=S``:
sleeps S seconds), so rollback drills have a bad version to roll back from.
"""

import json
import os
import time
from typing import Any


def handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    """Answer one proxy event, misbehaving as the version's HARNESS_FAULT asks."""
    fault = os.environ.get("HARNESS_FAULT", "")
    version = os.environ.get("APP_VERSION", "unknown")
    if fault == "raise":
        raise RuntimeError(f"ERROR injected fault in version {version}")
    if fault.startswith("slow="):
        time.sleep(float(fault.split("=", 1)[1]))
    path = (event or {}).get("path") or "/"
    if fault == "error":
        print(f"ERROR version {version} failed on {path}")
        return _response(500, {"status": "error", "version": version})
    print(f"INFO version {version} served {path}")
    if path.endswith("/health"):
        return _response(200, {"status": "healthy", "version": version})
    return _response(200, {"status": "ok", "version": version, "path": path, "items": []})


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
