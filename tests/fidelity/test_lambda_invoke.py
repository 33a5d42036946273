"""Lambda Invoke runs the resolved version's code (moto without Docker never does)."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import pytest
import requests
from botocore.exceptions import ClientError

from harness.clock import FixedClock
from tests.fidelity.conftest import handler_zip, publish, sample_zip

FN = "bbws-tenant-instance-management-sit"  # the inventory's API function, so the HTTP API fronts it
ALIAS = "latest-sit"

ENV_ECHO = """
import os
def handler(event, context):
    keys = ["APP_VERSION", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_REGION"]
    return {k: os.environ.get(k) for k in keys} | {"remaining_ms": context.get_remaining_time_in_millis()}
"""


def invoke(target, function: str, payload: dict | None = None, **kwargs):
    """Invoke and decode: (response, payload)."""
    resp = target.client("lambda").invoke(FunctionName=function, Payload=json.dumps(payload or {}), **kwargs)
    return resp, json.loads(resp["Payload"].read())


@pytest.fixture
def rollback_target(make_target):
    """A bbws-sit target with the API function at v1 (healthy) and v2 (returns 500), alias on v2."""
    target = make_target(seed=False, clock=FixedClock())
    good = publish(target, FN, sample_zip("1.0.1"), {"APP_VERSION": "1.0.1"})
    bad = publish(target, FN, sample_zip("1.0.2"), {"APP_VERSION": "1.0.2", "HARNESS_FAULT": "error"})
    target.client("lambda").create_alias(FunctionName=FN, Name=ALIAS, FunctionVersion=bad)
    return target, good, bad


def test_moving_the_alias_changes_what_invoke_and_the_api_return(rollback_target):
    target, good, bad = rollback_target
    resp, payload = invoke(target, f"{FN}:{ALIAS}", {"path": "/v1/health"})
    assert (resp["ExecutedVersion"], payload["statusCode"]) == (bad, 500)
    assert requests.get(f"{target.api_base_url}/v1/health", timeout=10).status_code == 500

    target.client("lambda").update_alias(FunctionName=FN, Name=ALIAS, FunctionVersion=good)

    resp, payload = invoke(target, f"{FN}:{ALIAS}", {"path": "/v1/health"})
    assert (resp["ExecutedVersion"], payload["statusCode"]) == (good, 200)
    api = requests.get(f"{target.api_base_url}/v1/health", timeout=10)
    assert api.status_code == 200 and api.json() == {"status": "healthy", "version": "1.0.1"}


def test_each_version_runs_its_own_code_and_environment(rollback_target):
    target, good, bad = rollback_target
    assert invoke(target, f"{FN}:{good}")[1]["statusCode"] == 200
    assert invoke(target, FN, Qualifier=bad)[0]["ExecutedVersion"] == bad  # ?Qualifier= honoured too
    resp, payload = invoke(target, FN)  # unqualified: $LATEST, which is v2's configuration
    assert resp["ExecutedVersion"] == "$LATEST" and json.loads(payload["body"])["version"] == "1.0.2"


def test_handler_sees_its_version_environment_and_only_the_emulator(make_target):
    target = make_target(seed=False)
    version = publish(target, "env-echo", handler_zip(ENV_ECHO), {"APP_VERSION": "9.9.9"}, timeout=7)
    _, env = invoke(target, f"env-echo:{version}")
    assert env["APP_VERSION"] == "9.9.9" and env["AWS_LAMBDA_FUNCTION_VERSION"] == version
    assert env["AWS_ENDPOINT_URL"] == target.server.url  # SDK calls from rehearsal code stay local
    assert env["AWS_ACCESS_KEY_ID"] == "testing" and env["AWS_REGION"] == target.env.region
    assert 0 < env["remaining_ms"] <= 7000


def test_an_exception_is_an_unhandled_function_error_logged_and_metered(make_target):
    clock = FixedClock()
    target = make_target(seed=False, clock=clock)
    version = publish(target, "raiser", sample_zip("1.0.1"), {"APP_VERSION": "1.0.1", "HARNESS_FAULT": "raise"})
    target.client("lambda").create_alias(FunctionName="raiser", Name="live", FunctionVersion=version)

    resp, payload = invoke(target, "raiser:live", LogType="Tail")

    assert resp["StatusCode"] == 200 and resp["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "RuntimeError" and "injected fault" in payload["errorMessage"]
    tail = base64.b64decode(resp["LogResult"]).decode()
    assert "[ERROR] RuntimeError" in tail and tail.splitlines()[-1].startswith("REPORT RequestId:")
    events = target.client("logs").filter_log_events(logGroupName="/aws/lambda/raiser", filterPattern="ERROR")["events"]
    assert events and events[0]["logStreamName"].startswith(f"{clock.now():%Y/%m/%d}/[{version}]")
    stats = _sums(target, clock, "raiser", [("Resource", "raiser:live"), ("ExecutedVersion", version)])
    assert stats == {"Invocations": 1.0, "Errors": 1.0}


def test_returned_500_is_not_a_lambda_error_but_counts_as_an_invocation(rollback_target):
    target, _, bad = rollback_target
    for _ in range(2):
        invoke(target, f"{FN}:{ALIAS}")
    assert _sums(target, target.clock, FN, []) == {"Invocations": 2.0, "Errors": 0.0}


def _sums(target, clock, function: str, extra: list[tuple[str, str]]) -> dict[str, float]:
    dims = [{"Name": "FunctionName", "Value": function}] + [{"Name": k, "Value": v} for k, v in extra]
    out = {}
    for metric in ("Invocations", "Errors"):
        points = target.client("cloudwatch").get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName=metric,
            Dimensions=dims,
            Statistics=["Sum"],
            Period=60,
            StartTime=clock.now() - timedelta(minutes=1),
            EndTime=clock.now() + timedelta(minutes=1),
        )["Datapoints"]
        out[metric] = sum(p["Sum"] for p in points)
    return out


def test_timeout_is_enforced_and_reported_like_lambda(make_target):
    target = make_target(seed=False)
    publish(target, "sleeper", sample_zip("1.0.1"), {"HARNESS_FAULT": "slow=5"}, timeout=1)
    began = time.monotonic()
    resp, payload = invoke(target, "sleeper")
    assert time.monotonic() - began < 4
    assert resp["FunctionError"] == "Unhandled" and payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]


def test_event_and_dry_run_invocation_types(make_target):
    target = make_target(seed=False)
    publish(target, "async-fn", sample_zip("1.0.1"), {"APP_VERSION": "1.0.1"})
    lam = target.client("lambda")
    assert lam.invoke(FunctionName="async-fn", InvocationType="DryRun")["StatusCode"] == 204
    assert lam.invoke(FunctionName="async-fn", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    deadline = time.monotonic() + 10
    logs = target.client("logs")
    while time.monotonic() < deadline:
        try:
            events = logs.filter_log_events(logGroupName="/aws/lambda/async-fn", filterPattern="INFO")["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        if any("version 1.0.1 served" in e["message"] for e in events):  # the handler's own output
            return
        time.sleep(0.05)
    pytest.fail("the Event invocation never ran")


def test_weighted_alias_sends_traffic_to_both_versions(make_target):
    target = make_target(seed=False)
    v1 = publish(target, "canary", sample_zip("1.0.1"), {"APP_VERSION": "1.0.1"})
    v2 = publish(target, "canary", sample_zip("1.0.2"), {"APP_VERSION": "1.0.2"})
    target.client("lambda").create_alias(
        FunctionName="canary", Name="live", FunctionVersion=v1, RoutingConfig={"AdditionalVersionWeights": {v2: 0.5}}
    )
    executed = {invoke(target, "canary:live")[0]["ExecutedVersion"] for _ in range(16)}
    assert executed == {v1, v2}


def test_moto_alone_does_not_run_code(make_target):
    """The reference: without the extension, Invoke cannot tell versions apart (so no drill could)."""
    target = make_target(seed=False, fidelity=False)
    version = publish(target, "plain", sample_zip("1.0.1"), {"HARNESS_FAULT": "error"})
    try:
        answer = target.client("lambda").invoke(FunctionName=f"plain:{version}", Payload=b"{}")["Payload"].read()
    except ClientError:
        return  # moto server without Docker: an internal error, or (below) an error message as payload
    assert b"statusCode" not in answer
