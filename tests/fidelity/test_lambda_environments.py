"""Warm execution environments (fidelity/lambda_environments.py): as in Lambda, module state persists
between invocations of one version's environment, a new version or configuration gets a new one, a
timeout or a runtime exit discards it, and concurrent invocations run in separate environments."""

from __future__ import annotations

import json
import threading

from tests.fidelity.conftest import handler_zip, publish

COUNTER = """
import os
COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    return {"count": COUNT, "pid": os.getpid(), "stream": context.log_stream_name, "color": os.environ.get("COLOR")}
"""
EXITS = """
import sys
COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    if event.get("exit"):
        sys.exit(3)
    return {"count": COUNT}
"""


def _call(target, name: str, event: dict | None = None) -> dict:
    resp = target.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event or {}))
    return json.loads(resp["Payload"].read())


def test_module_state_persists_in_a_versions_environment_and_resets_with_a_new_one(make_target) -> None:
    target = make_target(seed=False)
    v1 = publish(target, "warm-fn", handler_zip(COUNTER), {"COLOR": "blue"})
    first, second = _call(target, f"warm-fn:{v1}"), _call(target, f"warm-fn:{v1}")
    assert (
        (first["count"], second["count"]) == (1, 2)
        and first["pid"] == second["pid"]
        and first["stream"] == second["stream"]
    )
    v2 = publish(target, "warm-fn", handler_zip(COUNTER), {"COLOR": "green"})  # a new configuration and version
    fresh = _call(target, f"warm-fn:{v2}")
    assert fresh["count"] == 1 and fresh["color"] == "green" and fresh["pid"] != first["pid"]
    assert _call(target, f"warm-fn:{v1}")["count"] == 3  # the old version's environment is still warm


def test_a_runtime_exit_discards_the_environment(make_target) -> None:
    target = make_target(seed=False)
    version = publish(target, "exit-fn", handler_zip(EXITS), {})
    assert _call(target, f"exit-fn:{version}")["count"] == 1
    assert _call(target, f"exit-fn:{version}", {"exit": True})["errorType"] == "Runtime.ExitError"
    assert _call(target, f"exit-fn:{version}")["count"] == 1  # init ran again


def test_concurrent_invocations_get_their_own_environments(make_target) -> None:
    target = make_target(seed=False)
    version = publish(
        target,
        "busy-fn",
        handler_zip(COUNTER.replace("COUNT += 1", "COUNT += 1\n    __import__('time').sleep(0.3)")),
        {},
    )
    results: list[dict] = []
    callers = [threading.Thread(target=lambda: results.append(_call(target, f"busy-fn:{version}"))) for _ in range(3)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert len({r["pid"] for r in results}) == 3 and {r["count"] for r in results} == {1}
