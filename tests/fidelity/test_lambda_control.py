"""Lambda's control plane refuses what AWS refuses (moto 5.2 accepts it): alias routing, stale RevisionIds,
duplicate aliases, non-JSON payloads; status codes and Content-Type as modelled; RevisionIds that change.

Each test runs against the fidelity target and, where it shows a gap, against ``fidelity=False`` (moto
alone) to show the extension is what closes it.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests
from botocore.exceptions import ClientError

from harness.clock import FixedClock
from tests.fidelity.conftest import publish, sample_zip

FN = "alias-rules"


@pytest.fixture(params=[True, False], ids=["fidelity", "moto-alone"])
def versions(request, make_target):
    """A function with versions 1 and 2 and the alias ``live`` on 2; (target, fidelity?)."""
    target = make_target(seed=False, fidelity=request.param, clock=FixedClock())
    for label in ("1.0.1", "1.0.2"):
        publish(target, FN, sample_zip(label), {"APP_VERSION": label})
    target.client("lambda").create_alias(FunctionName=FN, Name="live", FunctionVersion="2")
    return target, request.param


def _error(call) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"].get("Message", "")


def _refused_or_accepted(fidelity: bool, call, code: str, status: int) -> None:
    if fidelity:
        assert _error(call)[:2] == (code, status)
    else:
        call()  # moto alone accepts it: the gap the extension closes


@pytest.mark.parametrize(
    "weights",
    [{"$LATEST": 0.1}, {"9": 0.1}, {"2": 0.1}, {"1": 1.5}, {"1": 0.1, "3": 0.1}],
    ids=["to-LATEST", "to-missing-version", "to-own-primary", "weight-1.5", "two-additional"],
)
def test_routing_aws_refuses_is_invalid_parameter_value(versions, weights):
    """https://docs.aws.amazon.com/lambda/latest/api/API_AliasRoutingConfiguration.html (key pattern [0-9]+,
    weight 0.0-1.0), https://docs.aws.amazon.com/lambda/latest/dg/configuration-aliases.html (a weighted alias
    points to two distinct published versions), https://docs.aws.amazon.com/lambda/latest/api/API_UpdateAlias.html
    (InvalidParameterValueException, 400)."""
    target, fidelity = versions
    lam = target.client("lambda")
    update = lambda: lam.update_alias(  # noqa: E731 (a deferred call the helper runs)
        FunctionName=FN, Name="live", FunctionVersion="2", RoutingConfig={"AdditionalVersionWeights": weights}
    )
    _refused_or_accepted(fidelity, update, "InvalidParameterValueException", 400)
    if fidelity:  # nothing changed
        alias = lam.get_alias(FunctionName=FN, Name="live")
        assert alias["FunctionVersion"] == "2" and not (alias.get("RoutingConfig") or {}).get(
            "AdditionalVersionWeights"
        )
        create = lambda: lam.create_alias(  # noqa: E731 (a deferred call the helper runs)
            FunctionName=FN, Name="canary", FunctionVersion="2", RoutingConfig={"AdditionalVersionWeights": weights}
        )
        assert _error(create)[:2] == ("InvalidParameterValueException", 400)


def test_a_valid_canary_is_accepted(versions):
    """https://docs.aws.amazon.com/lambda/latest/api/API_UpdateAlias.html: one additional published version,
    weight within [0, 1], answered 200 with the routing."""
    target, _ = versions
    resp = target.client("lambda").update_alias(
        FunctionName=FN, Name="live", FunctionVersion="2", RoutingConfig={"AdditionalVersionWeights": {"1": 0.25}}
    )
    assert resp["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.25}}
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == (200 if versions[1] else 201)


def test_stale_revision_is_precondition_failed_and_every_change_is_a_new_revision(versions):
    """https://docs.aws.amazon.com/lambda/latest/api/API_UpdateAlias.html: RevisionId "only update the alias if
    the revision ID matches the ID that's specified"; PreconditionFailedException, 412."""
    target, fidelity = versions
    lam = target.client("lambda")
    first = lam.get_alias(FunctionName=FN, Name="live")["RevisionId"]
    moved = lam.update_alias(FunctionName=FN, Name="live", FunctionVersion="1", RevisionId=first)
    if not fidelity:
        assert moved["RevisionId"] == first  # moto alone never changes it, so a stale one is never detected
        return
    assert moved["RevisionId"] != first and moved["FunctionVersion"] == "1"
    code, status, message = _error(
        lambda: lam.update_alias(FunctionName=FN, Name="live", FunctionVersion="2", RevisionId=first)
    )
    assert (code, status) == ("PreconditionFailedException", 412) and "Revision Id" in message
    assert lam.get_alias(FunctionName=FN, Name="live")["FunctionVersion"] == "1"  # the refused update changed nothing
    again = lam.update_alias(FunctionName=FN, Name="live", Description="same version, still a change")
    assert again["RevisionId"] not in (first, moved["RevisionId"])


def test_function_revision_guards_configuration_code_and_publish(versions):
    """https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionConfiguration.html,
    https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html,
    https://docs.aws.amazon.com/lambda/latest/api/API_PublishVersion.html: RevisionId precondition (412) and a
    new RevisionId after each change."""
    target, fidelity = versions
    lam = target.client("lambda")
    if not fidelity:
        assert "RevisionId" not in lam.get_function_configuration(FunctionName=FN)  # moto keeps none
        return
    before = lam.get_function_configuration(FunctionName=FN)["RevisionId"]
    changed = lam.update_function_configuration(FunctionName=FN, Timeout=12, RevisionId=before)
    assert changed["RevisionId"] != before and changed["Timeout"] == 12
    stale = [
        lambda: lam.update_function_configuration(FunctionName=FN, Timeout=13, RevisionId=before),
        lambda: lam.update_function_code(FunctionName=FN, ZipFile=sample_zip("1.0.9"), RevisionId=before),
        lambda: lam.publish_version(FunctionName=FN, RevisionId=before),
    ]
    for call in stale:
        assert _error(call)[:2] == ("PreconditionFailedException", 412)
    assert lam.get_function_configuration(FunctionName=FN)["Timeout"] == 12
    published = lam.publish_version(FunctionName=FN, RevisionId=changed["RevisionId"])
    assert published["Version"] == "3" and published["ResponseMetadata"]["HTTPStatusCode"] == 201


def test_create_alias_on_an_existing_name_is_the_modelled_resource_conflict(versions):
    """https://docs.aws.amazon.com/lambda/latest/api/API_CreateAlias.html: ResourceConflictException, 409 (so
    ``except lam.exceptions.ResourceConflictException`` catches it)."""
    target, fidelity = versions
    lam = target.client("lambda")
    code, status, _ = _error(lambda: lam.create_alias(FunctionName=FN, Name="live", FunctionVersion="1"))
    assert status == 409
    assert code == ("ResourceConflictException" if fidelity else "ConflictException")
    if fidelity:
        with pytest.raises(lam.exceptions.ResourceConflictException):
            lam.create_alias(FunctionName=FN, Name="live", FunctionVersion="1")


def test_alias_operations_answer_modelled_status_and_json(versions):
    """https://docs.aws.amazon.com/lambda/latest/api/API_GetAlias.html (200),
    https://docs.aws.amazon.com/lambda/latest/api/API_UpdateAlias.html (200),
    https://docs.aws.amazon.com/lambda/latest/api/API_CreateAlias.html (201),
    https://docs.aws.amazon.com/lambda/latest/api/API_DeleteAlias.html (204); bodies are application/json."""
    target, fidelity = versions
    lam = target.client("lambda")
    got = lam.get_alias(FunctionName=FN, Name="live")["ResponseMetadata"]
    updated = lam.update_alias(FunctionName=FN, Name="live", FunctionVersion="1")["ResponseMetadata"]
    created = lam.create_alias(FunctionName=FN, Name="extra", FunctionVersion="1")["ResponseMetadata"]
    deleted = lam.delete_alias(FunctionName=FN, Name="extra")["ResponseMetadata"]
    config = lam.get_function_configuration(FunctionName=FN)["ResponseMetadata"]
    statuses = [m["HTTPStatusCode"] for m in (got, updated, created, deleted)]
    types = [m["HTTPHeaders"].get("content-type", "") for m in (got, updated, config)]
    if fidelity:
        assert statuses == [200, 200, 201, 204]
        assert all(t.startswith("application/json") for t in types), types
    else:
        assert statuses[:2] == [201, 201]


def test_invoke_with_a_payload_that_is_not_json_is_invalid_request_content(versions):
    """https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html: InvalidRequestContentException, 400
    ("The request body could not be parsed as JSON")."""
    target, fidelity = versions
    if not fidelity:
        pytest.skip("moto alone never runs code (its gap is covered by test_lambda_invoke)")
    lam = target.client("lambda")
    code, status, message = _error(lambda: lam.invoke(FunctionName=f"{FN}:live", Payload=b"not json"))
    assert (code, status) == ("InvalidRequestContentException", 400) and "json" in message


def test_last_modified_follows_the_target_clock(make_target):
    """https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html: LastModified is when the
    function was last updated; on the rehearsal it is the target's clock, not the wall clock."""
    clock = FixedClock(datetime(2024, 2, 29, 10, tzinfo=timezone.utc))
    target = make_target(seed=False, clock=clock)
    publish(target, FN, sample_zip("1.0.1"), {"APP_VERSION": "1.0.1"})
    lam = target.client("lambda")
    assert lam.get_function_configuration(FunctionName=FN)["LastModified"].startswith("2024-02-29T10:00:00")
    clock.advance(hours=1)
    lam.update_function_configuration(FunctionName=FN, Timeout=9)
    assert lam.get_function_configuration(FunctionName=FN)["LastModified"].startswith("2024-02-29T11:00:00")
    assert lam.get_function_configuration(FunctionName=FN, Qualifier="1")["LastModified"].startswith("2024-02-29T10")


def test_raw_http_get_alias_is_json_on_the_served_rehearsal(make_target):
    """https://docs.aws.amazon.com/lambda/latest/api/API_GetAlias.html: a plain HTTP client (any SDK) sees
    200 application/json."""
    target = make_target(seed=False)
    publish(target, FN, sample_zip("1.0.1"), {"APP_VERSION": "1.0.1"})
    target.client("lambda").create_alias(FunctionName=FN, Name="live", FunctionVersion="1")
    resp = requests.get(
        f"{target.server.url}/2015-03-31/functions/{FN}/aliases/live",
        headers={
            "x-moto-account-id": target.env.account,
            "Authorization": f"AWS4-HMAC-SHA256 Credential=x/20260101/{target.env.region}/lambda/aws4_request",
        },
        timeout=10,
    )
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
