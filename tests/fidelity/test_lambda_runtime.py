"""The embedded Python runtime logs like AWS's: logging records as ``[LEVEL]\\t<time>\\t<request id>\\t<msg>``
lines (root logger at Python's default WARNING unless the code or AWS_LAMBDA_LOG_LEVEL says otherwise),
prints unchanged, and init failures as ``[ERROR] Runtime.…`` lines that count as Errors."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from harness.checks.context import CheckContext
from harness.checks.result import Verdict
from harness.checks.runner import run_procedure
from harness.clock import FixedClock
from tests.fidelity.conftest import handler_zip, publish, role_arn

FN = "bbws-tenant-instance-management-sit"  # an inventory function, so the log-errors row covers it
START = datetime(2026, 1, 25, 22, 0, tzinfo=timezone.utc)

LOGS_ONLY_WITH_LOGGING = """
import logging

def handler(event, context):
    logging.getLogger().error("payment store unreachable")
    logging.warning("retrying in %d s", 2)
    logging.info("not shown: the root logger is at WARNING")
    logging.debug("never shown")
    print("plain print, unchanged")
    return {"statusCode": 200}
"""

SETS_INFO = """
import logging

logger = logging.getLogger()
logger.setLevel("INFO")

def handler(event, context):
    logger.info("served %s", event.get("path"))
    logger.debug("not shown at INFO")
    return {"statusCode": 200}
"""


def _events(target, function: str) -> list[str]:
    """Every message in the function's log group, oldest first."""
    return [
        e["message"] for e in target.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    ]


def _invoke(target, function: str) -> tuple[dict, dict]:
    resp = target.client("lambda").invoke(FunctionName=function, Payload=json.dumps({"path": "/v1/orders"}))
    return resp, json.loads(resp["Payload"].read())


def _request_id(events: list[str]) -> str:
    return next(m.split()[2] for m in events if m.startswith("START RequestId:"))


def _errors(target, clock: FixedClock, function: str) -> float:
    points = target.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        Statistics=["Sum"],
        Period=60,
        StartTime=clock.now() - timedelta(minutes=1),
        EndTime=clock.now() + timedelta(minutes=1),
    )["Datapoints"]
    return sum(p["Sum"] for p in points)


@pytest.fixture
def clocked(make_target):
    clock = FixedClock(START)
    return make_target(seed=False, clock=clock), clock


def test_logging_error_is_an_aws_error_line_the_log_errors_check_finds(clocked):
    target, clock = clocked
    publish(target, FN, handler_zip(LOGS_ONLY_WITH_LOGGING), {})
    resp, payload = _invoke(target, FN)
    assert payload == {"statusCode": 200} and "FunctionError" not in resp

    events = _events(target, FN)
    rid = _request_id(events)
    stamp = r"2026-01-25T22:00:00\.\d{3}Z"
    assert any(re.fullmatch(rf"\[ERROR\]\t{stamp}\t{rid}\tpayment store unreachable\n", m) for m in events), events
    assert any(re.fullmatch(rf"\[WARNING\]\t{stamp}\t{rid}\tretrying in 2 s\n", m) for m in events), events
    assert "plain print, unchanged" in events
    assert not any("not shown" in m or "never shown" in m for m in events)

    clock.advance(minutes=1)  # the invocation is inside the verification window that ends now
    [row] = [
        r for r in run_procedure(CheckContext.for_target(target), "post-rollback", ("log-errors",)) if r.resource == FN
    ]
    assert row.verdict is Verdict.FAIL and "payment store unreachable" in row.observed, row.message()


def test_info_appears_once_the_code_sets_it_and_the_log_level_variable_is_honoured(clocked):
    target, _ = clocked
    publish(target, "info-logger", handler_zip(SETS_INFO), {})
    _invoke(target, "info-logger")
    events = _events(target, "info-logger")
    assert any(m.startswith("[INFO]\t") and m.endswith("\tserved /v1/orders\n") for m in events), events
    assert not any("not shown" in m for m in events)

    publish(target, "debug-logger", handler_zip(LOGS_ONLY_WITH_LOGGING), {"AWS_LAMBDA_LOG_LEVEL": "TRACE"})
    _invoke(target, "debug-logger")
    events = _events(target, "debug-logger")
    assert any(m.startswith("[DEBUG]\t") and m.endswith("\tnever shown\n") for m in events), events


def _create(target, name: str, source: str, handler: str = "handler.handler") -> None:
    target.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role_arn(target),
        Handler=handler,
        Code={"ZipFile": handler_zip(source)},
    )


@pytest.mark.parametrize(
    ("source", "handler", "error_type", "message"),
    [
        (
            "import not_a_module_xyz\n",
            "handler.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'handler': No module named 'not_a_module_xyz'",
        ),
        (
            "def other(event, context):\n    return 1\n",
            "handler.nope",
            "Runtime.HandlerNotFound",
            "Handler 'nope' missing on module 'handler'",
        ),
        (
            "raise ValueError('settings missing at import')\n",
            "handler.handler",
            "ValueError",
            "settings missing at import",
        ),
        (
            "def handler(event, context)\n",
            "handler.handler",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'handler': ",
        ),
    ],
    ids=["import-module-error", "handler-not-found", "exception-at-import", "syntax-error"],
)
def test_init_failures_log_an_error_line_and_count_as_errors(clocked, source, handler, error_type, message):
    target, clock = clocked
    _create(target, "broken-init", source, handler)
    resp, payload = _invoke(target, "broken-init")

    assert resp["FunctionError"] == "Unhandled"
    assert payload["errorType"] == error_type and payload["errorMessage"].startswith(message), payload
    events = _events(target, "broken-init")
    [error] = [m for m in events if m.startswith("[ERROR]")]
    assert error.startswith(f"[ERROR] {error_type}: {message}") and "\nTraceback (most recent call last):" in error, (
        events
    )
    assert any(m.startswith("[WARNING]\t") and "LAMBDA_WARNING: Unhandled exception." in m for m in events), events
    assert _errors(target, clock, "broken-init") == 1.0


def test_a_handler_exception_is_one_error_event_with_its_traceback(clocked):
    target, _ = clocked
    _create(
        target,
        "raiser",
        "def handler(event, context):\n    return helper()\n\ndef helper():\n    raise KeyError('tenant')\n",
    )
    _, payload = _invoke(target, "raiser")
    assert payload["errorType"] == "KeyError" and all("lambda_runtime.py" not in line for line in payload["stackTrace"])
    [error] = [m for m in _events(target, "raiser") if m.startswith("[ERROR]")]
    lines = error.split("\n")
    assert lines[:2] == ["[ERROR] KeyError: 'tenant'", "Traceback (most recent call last):"]
    assert any("in helper" in line for line in lines) and all(not line.startswith(" ") for line in lines)
