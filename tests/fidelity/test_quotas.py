"""API request-rate quotas on the embedded target (fidelity/api_quotas.py): a burst above a documented
quota gets the service's own throttling error, as a plain boto3 client with retries off sees it; the
harness's checklist, with botocore's adaptive retries, still reads every row; a call that stays
throttled is an ERROR row naming the API, never a FAIL.

Each test shows the extension is needed: the same burst on a target without quotas is answered."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from harness.checks.catalogue import rows_for
from harness.checks.context import CheckContext
from harness.checks.result import Verdict
from harness.checks.runner import run_procedure, run_row
from harness.targets.embedded import EmbeddedTarget
from harness.targets.embedded.fidelity import api_quotas

BURST = 40  # above Lambda's 15/s control plane, CloudWatch's 9/s DescribeAlarms, Logs' 5/s FilterLogEvents


def plain_client(target: EmbeddedTarget, service: str) -> Any:
    """boto3 with retries off, on the target's server and account: what AWS answers, unretried."""
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=target.env.region)
    client = session.client(
        service, endpoint_url=target.server.url, config=Config(retries={"total_max_attempts": 1, "mode": "standard"})
    )
    client.meta.events.register(
        "before-sign", lambda request, **_: request.headers.__setitem__("x-moto-account-id", target.env.account)
    )
    return client


def burst(call: Callable[[], Any], n: int = BURST) -> list[ClientError]:
    """The throttling errors a burst of ``n`` calls got."""
    errors = []
    for _ in range(n):
        try:
            call()
        except ClientError as exc:
            errors.append(exc)
    return errors


def test_lambda_control_plane_burst_gets_too_many_requests(make_target) -> None:
    target = make_target(quotas=True)
    fn = target.env.functions[0].name
    lam = plain_client(target, "lambda")
    errors = burst(lambda: lam.get_alias(FunctionName=fn, Name=target.env.alias))
    assert errors, "a burst of GetAlias above 15 requests per second was never throttled"
    err = errors[0].response
    assert err["Error"]["Code"] == "TooManyRequestsException" and err["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert err["Reason"] == "CallerRateLimitExceeded" and err["Error"]["Message"] == "Rate exceeded"
    assert int(err["ResponseMetadata"]["HTTPHeaders"]["retry-after"]) >= 1
    # The quota is shared by the whole control plane (not per API), GetFunction has its own, Invoke none.
    assert burst(lambda: lam.list_versions_by_function(FunctionName=fn), 3), (
        "ListVersionsByFunction shares GetAlias's bucket"
    )
    assert not burst(lambda: lam.get_function(FunctionName=fn), 20)
    assert not burst(
        lambda: lam.invoke(FunctionName=f"{fn}:{target.env.alias}", Payload=json.dumps(target.env.health_payload)), 3
    )


def test_without_quotas_the_same_burst_is_answered(make_target) -> None:
    target = make_target()
    assert not target.supports("api-quotas") and "--rehearse-quotas" in (target.unsupported_reason("api-quotas") or "")
    lam = plain_client(target, "lambda")
    assert not burst(lambda: lam.get_alias(FunctionName=target.env.functions[0].name, Name=target.env.alias))


def test_cloudwatch_and_logs_answer_with_their_own_codes(make_target) -> None:
    target = make_target(quotas=True)
    assert target.supports("api-quotas")
    cw, logs = plain_client(target, "cloudwatch"), plain_client(target, "logs")
    [first, *_] = burst(lambda: cw.describe_alarms(MaxRecords=1))
    # CloudWatch (awsQueryCompatible): the query protocol's code "Throttling", HTTP 400 (AWS knowledge center,
    # "400 ThrottlingException" for PutMetricData: <Code>Throttling</Code><Message>Rate exceeded</Message>).
    assert (
        first.response["Error"]["Code"] == "Throttling" and first.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    )
    group = f"{target.env.log_group_prefix}{target.env.functions[0].name}"
    [first, *_] = burst(lambda: logs.filter_log_events(logGroupName=group, limit=1))
    assert (
        first.response["Error"]["Code"] == "ThrottlingException"
        and first.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    )


@pytest.mark.parametrize(
    "service, protocol, code, status",
    [
        ("dynamodb", "json", "ThrottlingException", 400),
        ("ecs", "json", "ThrottlingException", 400),
        ("ssm", "json", "ThrottlingException", 400),
        ("sts", "query", "Throttling", 400),
        ("cloudwatch", "query", "Throttling", 400),
        ("cloudwatch", "json", "Throttling", 400),
        ("s3", "rest-xml", "SlowDown", 503),
    ],
)
def test_every_protocol_parses_to_the_services_code(service: str, protocol: str, code: str, status: int) -> None:
    """What botocore makes of each answer (the services too expensive to burst: DynamoDB's 2,500/s...)."""
    from botocore.parsers import create_parser

    signing = "monitoring" if service == "cloudwatch" else service
    line, headers, body = api_quotas.throttle_response(signing, protocol, 0.5)
    model = botocore.session.get_session().get_service_model(service)
    parsed = create_parser(protocol).parse(
        {"status_code": int(line.split()[0]), "headers": dict(headers), "body": body},
        model.operation_model(model.operation_names[0]).output_shape,
    )
    assert parsed["Error"]["Code"] == code and int(line.split()[0]) == status, parsed


def test_the_checklist_completes_through_throttles_with_every_row_pass(make_target) -> None:
    target = make_target(quotas=True)
    lam = plain_client(target, "lambda")
    assert burst(
        lambda: lam.get_alias(FunctionName=target.env.functions[0].name, Name=target.env.alias)
    )  # the bucket is empty
    rows = run_procedure(CheckContext.for_target(target, api_base_url=target.api_base_url), "post-rollback")
    assert {r.verdict for r in rows} == {Verdict.PASS}, [r.message() for r in rows if r.verdict is not Verdict.PASS]
    assert sum(r.evidence.get("throttled_retries", 0) for r in rows) >= 1 and target.throttled_retries >= 1


class Scripted(api_quotas.TokenBucket):
    """A bucket that refuses the next ``refusals`` requests, then lets everything through."""

    def __init__(self, refusals: int) -> None:
        super().__init__(rate=1000, burst=1000)
        self.refusals = refusals

    def take(self) -> float:
        if self.refusals:
            self.refusals -= 1
            return 0.01
        return 0.0


def _script(target: EmbeddedTarget, refusals: int) -> None:
    quota = api_quotas.quota_for("lambda", "GetAlias")
    assert quota is not None
    api_quotas.enforcement(target.env.account).buckets[quota.group] = Scripted(refusals)


def test_a_row_throttled_twice_completes_and_records_two_retries(make_target) -> None:
    target = make_target(quotas=True)
    fn = target.env.functions[0].name
    _script(target, 2)
    [planned] = [p for p in rows_for(target.env, "post-rollback", ("lambda-alias-version",)) if p.row.resource == fn]
    row = run_row(CheckContext.for_target(target), planned)
    assert row.verdict is Verdict.PASS, row.message()
    assert (
        row.evidence["throttled_retries"] == 2
        and row.evidence["throttled_calls"] == ["lambda.GetAlias TooManyRequestsException"] * 2
    )


def test_a_call_throttled_past_its_retries_is_an_error_row_naming_it(make_target) -> None:
    target = make_target(quotas=True)
    target.max_attempts = 1  # one retry (botocore's max_attempts counts retries) ...
    target._clients.clear()  # ... for clients made from now on (seeding made the first ones)
    fn = target.env.functions[0].name
    _script(target, 10)
    [planned] = [p for p in rows_for(target.env, "post-rollback", ("lambda-alias-version",)) if p.row.resource == fn]
    row = run_row(CheckContext.for_target(target), planned)
    assert row.verdict is Verdict.ERROR, row.message()
    assert "GetAlias throttled (TooManyRequestsException" in row.observed and "after 2 attempts" in row.observed, (
        row.observed
    )


def test_quotas_need_the_fidelity_extensions() -> None:
    from harness.errors import TargetError
    from harness.inventory import load_inventory

    with pytest.raises(TargetError, match="needs the fidelity extensions"):
        EmbeddedTarget(load_inventory("bbws").environment("sit"), fidelity=False, quotas=True)


@pytest.mark.parametrize(
    "target_name", ["aws", "localstack"]
)  # embedded: the same Target.client, retries seen in the tests above
def test_every_client_retries_in_adaptive_mode_and_lambdas_control_plane_has_its_own(target_name: str) -> None:
    """botocore's adaptive mode on every client of every target (made, not started: no call is sent), and a client
    of its own for Lambda's 15-per-second control plane, so its throttles never slow GetFunction or Invoke."""
    from harness.inventory import load_inventory
    from harness.targets import make_target

    target = make_target(target_name, load_inventory("bbws").environment("sit"))
    clients = [target.client(s) for s in ("lambda", "dynamodb", "cloudwatch", "logs", "s3", "ecs", "ssm")]
    lane = target.lane_client("lambda", "control-plane")
    assert all(c.meta.config.retries["mode"] == "adaptive" for c in [*clients, lane]), [
        c.meta.config.retries for c in clients
    ]
    assert lane is not target.client("lambda") and lane is target.lane_client("lambda", "control-plane")


def test_the_report_header_counts_throttled_retries_and_the_rows_they_hit() -> None:
    from harness.pytest_plugin.reporting import throttled_text

    assert throttled_text(
        [{"throttled_retries": 2}, {"throttled_retries": 0}, {}, {"throttled_retries": 1}]
    ).startswith("3 calls in 2 rows")
    assert throttled_text([{"throttled_retries": 0}]) == "0 calls"
