"""The inventory's HTTP API on 127.0.0.1 with API Gateway Lambda proxy-integration semantics."""

from __future__ import annotations

import pytest
import requests

from harness.targets.embedded.fidelity import http_api
from tests.fidelity.conftest import handler_zip, publish, sample_zip

FN = "bbws-tenant-instance-management-sit"
ALIAS = "latest-sit"

ECHO = """
import json
def handler(event, context):
    return {
        "statusCode": 201,
        "headers": {"X-Echo": "yes"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": json.dumps({k: event[k] for k in ("resource", "path", "httpMethod", "body", "isBase64Encoded",
                                                   "queryStringParameters", "multiValueQueryStringParameters",
"pathParameters")}
                           | {"header": event["headers"].get("X-Trace"), "stage": event["requestContext"]["stage"]}),
    }
"""
MALFORMED = "def handler(event, context):\n    return {'statusCode': 200, 'body': {'not': 'a string'}}\n"
BINARY = (
    "import base64\ndef handler(event, context):\n    return {'statusCode': 200, 'headers': {'Content-Type': "
    "'image/png'}, 'body': base64.b64encode(b'\\x89PNG').decode(), 'isBase64Encoded': True}\n"
)


def deploy(target, source: str) -> None:
    """Publish ``source`` as the API function's new version and point the env alias at it."""
    version = publish(target, FN, handler_zip(source), {})
    lam = target.client("lambda")
    try:
        lam.update_alias(FunctionName=FN, Name=ALIAS, FunctionVersion=version)
    except lam.exceptions.ResourceNotFoundException:
        lam.create_alias(FunctionName=FN, Name=ALIAS, FunctionVersion=version)


@pytest.fixture
def api_target(make_target):
    return make_target(seed=False)


def test_the_embedded_api_base_url_replaces_the_inventorys(api_target, make_target):
    assert api_target.env.api.base_url.startswith("https://")
    assert api_target.api_base_url.startswith("http://127.0.0.1:")
    plain = make_target(seed=False, fidelity=False)
    assert plain.api_base_url is None  # moto alone: nothing serves the API, and the real hostname is never used


def test_request_becomes_a_proxy_event_and_the_result_the_response(api_target):
    deploy(api_target, ECHO)
    resp = requests.post(
        f"{api_target.api_base_url}/v1/tenants/t-42?x=1&x=2",
        data='{"name": "acme"}',
        headers={"X-Trace": "abc"},
        timeout=10,
    )
    assert resp.status_code == 201
    assert resp.headers["X-Echo"] == "yes" and resp.headers["Content-Type"] == "application/json"
    assert resp.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    event = resp.json()
    assert event == {
        "resource": "/v1/tenants/{proxy+}",
        "path": "/v1/tenants/t-42",
        "httpMethod": "POST",
        "body": '{"name": "acme"}',
        "isBase64Encoded": False,
        "queryStringParameters": {"x": "2"},
        "multiValueQueryStringParameters": {"x": ["1", "2"]},
        "pathParameters": {"proxy": "t-42"},
        "header": "abc",
        "stage": "$default",
    }


def test_binary_responses_are_decoded(api_target):
    deploy(api_target, BINARY)
    resp = requests.get(f"{api_target.api_base_url}/v1/health", timeout=10)
    assert resp.content == b"\x89PNG" and resp.headers["Content-Type"] == "image/png"


@pytest.mark.parametrize(
    ("source", "status", "message"),
    [
        (None, 502, "Internal server error"),  # the handler raises: function error
        (MALFORMED, 502, "Internal server error"),  # body not a string: malformed proxy response
    ],
)
def test_failures_map_to_api_gateway_errors(api_target, source, status, message):
    if source is None:
        version = publish(api_target, FN, sample_zip("1.0.9"), {"HARNESS_FAULT": "raise"})
        api_target.client("lambda").create_alias(FunctionName=FN, Name=ALIAS, FunctionVersion=version)
    else:
        deploy(api_target, source)
    resp = requests.get(f"{api_target.api_base_url}/v1/health", timeout=10)
    assert (resp.status_code, resp.json()) == (status, {"message": message})


def test_unknown_paths_and_a_missing_alias(api_target):
    assert requests.get(f"{api_target.api_base_url}/v2/other", timeout=10).status_code == 403
    publish(api_target, FN, sample_zip("1.0.1"), {})  # no alias yet: the integration cannot resolve
    assert requests.get(f"{api_target.api_base_url}/v1/health", timeout=10).status_code == 500


def test_integration_timeout_is_504(api_target, monkeypatch):
    monkeypatch.setattr(http_api, "INTEGRATION_TIMEOUT_SECONDS", 0.3)  # AWS: 29 s; shortened for the test
    version = publish(api_target, FN, sample_zip("1.0.1"), {"HARNESS_FAULT": "slow=1.5"}, timeout=3)
    api_target.client("lambda").create_alias(FunctionName=FN, Name=ALIAS, FunctionVersion=version)
    resp = requests.get(f"{api_target.api_base_url}/v1/health", timeout=10)
    assert (resp.status_code, resp.json()) == (504, {"message": "Endpoint request timed out"})


def test_seeded_environment_answers_health_through_the_api(seeded_sit):
    resp = requests.get(f"{seeded_sit.api_base_url}/v1/health", timeout=10)
    assert resp.status_code == 200 and resp.json() == {"status": "healthy", "version": "1.0.3"}
