"""Red tests: for every slug, seed the violating state on the embedded target and see exactly that
row fail (every other row of its procedure unaffected), with a message naming resource, expected
and observed. Each test restores what it broke.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.checks.catalogue import CATALOGUE
from harness.checks.result import CheckResult, Verdict
from harness.targets.embedded.seed import Seeded, _seed_table
from tests.checks.conftest import Rehearsal, _start, _stop, describe, needs_fidelity, not_ok
from tests.checks.emulator_state import bucket_governance_lock, metrics_restored, table_status
from tests.checks.verdicts import covers


@pytest.fixture
def sit() -> Iterator[Rehearsal]:
    """A seeded SIT of the test's own: every target timestamp is on one clock, so a neighbour's log lines,
    invocations and metrics would fall inside this test's 5-minute windows on a module-shared target."""
    r = _start("sit")
    yield r
    _stop(r)


def only_this_fails(
    r: Rehearsal, procedure: str, slug: str, resource: str, verdict: Verdict = Verdict.FAIL, **kwargs: object
) -> CheckResult:
    """Run ``procedure``; the one failing row is (slug, resource) and its message says what and why."""
    results = r.run(procedure, **kwargs)
    bad = (
        not_ok(results)
        if verdict is Verdict.FAIL
        else {k: v for k, v in results.items() if v.verdict is not Verdict.PASS and v.verdict is not Verdict.SKIP}
    )
    assert set(bad) == {(slug, resource)}, describe(bad)
    result = bad[(slug, resource)]
    assert result.verdict is verdict, result.message()
    message = result.message()
    assert resource in message and result.expected in message and result.observed in message
    assert result.expected and result.observed
    return result


def fn_of(r: Rehearsal) -> str:
    return r.env.functions[0].name


def backend_fn(r: Rehearsal) -> str:
    """A function the API front does not route to, so a fault there shows only in the Lambda rows."""
    return next(f.name for f in r.env.functions if not r.env.api or f.name != r.env.api.function)


# -- 000 §7: post-rollback -----------------------------------------------------------------------


@covers("lambda-alias-version", Verdict.FAIL, "weighted routing left over")
def test_alias_with_leftover_weighted_routing_fails(sit: Rehearsal) -> None:
    lam, fn, alias = sit.target.client("lambda"), fn_of(sit), sit.env.alias
    lam.update_alias(FunctionName=fn, Name=alias, RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}})
    try:
        res = only_this_fails(sit, "post-rollback", "lambda-alias-version", fn)
        assert "weighted routing" in res.observed
    finally:
        lam.update_alias(FunctionName=fn, Name=alias, RoutingConfig={"AdditionalVersionWeights": {}})


@covers("lambda-alias-version", Verdict.FAIL, "alias on $LATEST")
def test_alias_on_latest_fails(sit: Rehearsal) -> None:
    lam, fn, alias = sit.target.client("lambda"), fn_of(sit), sit.env.alias
    before = lam.get_alias(FunctionName=fn, Name=alias)["FunctionVersion"]
    lam.update_alias(FunctionName=fn, Name=alias, FunctionVersion="$LATEST")
    try:
        res = only_this_fails(sit, "post-rollback", "lambda-alias-version", fn)
        assert "$LATEST" in res.observed
    finally:
        lam.update_alias(FunctionName=fn, Name=alias, FunctionVersion=before)


@covers("lambda-alias-version", Verdict.FAIL, "not the --expect-version version")
@covers("lambda-alias-version", Verdict.PASS, "expected release label matches")
def test_alias_not_on_expected_version_fails(sit: Rehearsal) -> None:
    fn = fn_of(sit)
    res = only_this_fails(sit, "post-rollback", "lambda-alias-version", fn, expect_versions={fn: "2"})
    assert "version 2" in res.expected and "--expect-version" in res.expected and "version 3" in res.observed
    # A release label (the version Description) is accepted as well as a number.
    assert sit.run("post-rollback", expect_versions={fn: "1.0.3"})[("lambda-alias-version", fn)].verdict is Verdict.PASS


@covers("lambda-alias-version", Verdict.FAIL, "not the latest rollback record's version")
def test_alias_checked_against_latest_rollback_record(sit: Rehearsal) -> None:
    table = sit.env.deployments_table
    fn = fn_of(sit)
    ddb = sit.target.client("dynamodb")
    key = {table.hash_key.name: {"S": "rollback-harness-test"}}
    ts = (sit.clock.now() + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")  # after the seeded deployments
    ddb.put_item(
        TableName=table.name,
        Item={
            **key,
            "action": {"S": "rollback"},
            "environment": {"S": sit.env.name},
            "function": {"S": fn},
            "to_version": {"S": "2"},
            "timestamp": {"S": ts},
        },
    )
    try:
        res = only_this_fails(sit, "post-rollback", "lambda-alias-version", fn)
        assert "rollback record rollback-harness-test" in res.expected
        assert res.evidence["record"]["id"] == "rollback-harness-test"
    finally:
        ddb.delete_item(TableName=table.name, Key=key)


@contextmanager
def faulty_alias(r: Rehearsal, fn: str) -> Iterator[str]:
    """Publish a version whose handler answers 500 (HARNESS_FAULT=error) and point the alias at it;
    yields the bad version (which no deployment record names: pass it as the expected version)."""
    lam, alias = r.target.client("lambda"), r.env.alias
    cfg = lam.get_function_configuration(FunctionName=fn)
    good = lam.get_alias(FunctionName=fn, Name=alias)["FunctionVersion"]
    variables = cfg["Environment"]["Variables"]
    lam.update_function_configuration(
        FunctionName=fn, Environment={"Variables": {**variables, "HARNESS_FAULT": "error"}}
    )
    bad = lam.publish_version(FunctionName=fn, Description="faulty release")["Version"]
    lam.update_alias(FunctionName=fn, Name=alias, FunctionVersion=bad)
    try:
        yield bad
    finally:
        lam.update_alias(FunctionName=fn, Name=alias, FunctionVersion=good)
        lam.update_function_configuration(FunctionName=fn, Environment={"Variables": variables})


@covers("health-endpoint", Verdict.FAIL, "statusCode 500")
@needs_fidelity
def test_health_endpoint_of_faulty_version_fails(sit: Rehearsal) -> None:
    fn = backend_fn(sit)
    with faulty_alias(sit, fn) as bad:
        res = only_this_fails(sit, "post-rollback", "health-endpoint", fn, expect_versions={fn: bad})
        assert "statusCode 500" in res.observed


def _put_metrics(r: Rehearsal, fn: str, minutes_ago: float, **values: object) -> None:
    ts = r.clock.now() - timedelta(minutes=minutes_ago)
    data = []
    for name, v in values.items():
        datum = {"MetricName": name, "Dimensions": [{"Name": "FunctionName", "Value": fn}], "Timestamp": ts}
        datum.update(v if isinstance(v, dict) else {"Value": float(v)})  # type: ignore[arg-type]
        data.append(datum)
    r.target.client("cloudwatch").put_metric_data(Namespace="AWS/Lambda", MetricData=data)


@covers("error-rate", Verdict.FAIL, "rate above 1 %")
def test_error_rate_above_one_percent_fails(sit: Rehearsal) -> None:
    fn = fn_of(sit)
    with metrics_restored(sit.env.account, sit.env.region):
        _put_metrics(sit, fn, 2, Errors=1, Invocations=20)  # 1 / (20 seeded + 20) = 2.5 %
        res = only_this_fails(sit, "post-rollback", "error-rate", fn)
        assert "2.50%" in res.observed


@covers("latency-p95", Verdict.FAIL, "p95 above 3 s")
@needs_fidelity
def test_latency_p95_above_three_seconds_fails(sit: Rehearsal) -> None:
    fn = fn_of(sit)
    with metrics_restored(sit.env.account, sit.env.region):
        _put_metrics(sit, fn, 2, Duration={"Values": [5000.0], "Counts": [100.0], "Unit": "Milliseconds"})
        res = only_this_fails(sit, "post-rollback", "latency-p95", fn)
        assert "p95 5.000 s" in res.observed


@covers("log-errors", Verdict.FAIL, "an ERROR line in the window")
def test_new_error_line_in_logs_fails(sit: Rehearsal) -> None:
    fn = fn_of(sit)
    logs, group, stream = sit.target.client("logs"), f"{sit.env.log_group_prefix}{fn}", "harness-violation"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    at = int((sit.clock.now() - timedelta(minutes=1)).timestamp() * 1000)
    logs.put_log_events(
        logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": at, "message": "ERROR boom in handler"}]
    )
    try:
        res = only_this_fails(sit, "post-rollback", "log-errors", fn)
        assert "ERROR boom" in res.observed
    finally:
        logs.delete_log_stream(logGroupName=group, logStreamName=stream)


@covers("dynamodb-reads", Verdict.FAIL, "empty table")
def test_table_without_data_fails_reads(sit: Rehearsal) -> None:
    table = next(t for t in sit.env.tables if t.pitr == "required")
    ddb = sit.target.client("dynamodb")
    items = ddb.scan(TableName=table.name)["Items"]
    keys = [{table.hash_key.name: i[table.hash_key.name]} for i in items]
    for k in keys:
        ddb.delete_item(TableName=table.name, Key=k)
    try:
        res = only_this_fails(sit, "post-rollback", "dynamodb-reads", table.name)
        assert "no item" in res.observed
    finally:
        for i in items:
            ddb.put_item(TableName=table.name, Item=i)


@covers("ecs-tasks", Verdict.FAIL, "running below desired")
def test_ecs_service_below_desired_fails(sit: Rehearsal) -> None:
    ecs_cfg = sit.env.ecs
    service = ecs_cfg.services[0]
    sit.target.extensions.ecs.lower_running_count(ecs_cfg.cluster, service, 0)
    try:
        res = only_this_fails(sit, "post-rollback", "ecs-tasks", service)
        assert f"running 0/{ecs_cfg.desired_count}" in res.observed
    finally:
        sit.target.extensions.ecs.restore_running_count(ecs_cfg.cluster, service)


@covers("terraform-state", Verdict.FAIL, "stuck lock")
def test_stale_terraform_lock_fails(sit: Rehearsal) -> None:
    tf = sit.env.terraform
    key = tf.state_keys[0]
    created = (sit.clock.now() - timedelta(minutes=tf.lock_max_age_minutes + 30)).strftime(
        "%Y-%m-%dT%H:%M:%S.123456789Z"
    )
    info = {
        "ID": "b0e5",
        "Operation": "OperationTypeApply",
        "Who": "ci@runner",
        "Version": "1.15.5",
        "Created": created,
        "Path": f"{tf.state_bucket}/{key}",
    }
    ddb = sit.target.client("dynamodb")
    lock_id = {"LockID": {"S": f"{tf.state_bucket}/{key}"}}
    ddb.put_item(TableName=tf.lock_table, Item={**lock_id, "Info": {"S": json.dumps(info)}})
    try:
        res = only_this_fails(sit, "post-rollback", "terraform-state", key)
        assert "stuck lock by ci@runner" in res.observed
    finally:
        ddb.delete_item(TableName=tf.lock_table, Key=lock_id)


@covers("terraform-state", Verdict.WARN, "fresh lock (operation in progress)")
def test_fresh_terraform_lock_warns(sit: Rehearsal) -> None:
    tf = sit.env.terraform
    key = tf.state_keys[0]
    info = {"ID": "b0e6", "Who": "dev@laptop", "Created": (sit.clock.now() - timedelta(minutes=2)).isoformat()}
    ddb = sit.target.client("dynamodb")
    lock_id = {"LockID": {"S": f"{tf.state_bucket}/{key}"}}
    ddb.put_item(TableName=tf.lock_table, Item={**lock_id, "Info": {"S": json.dumps(info)}})
    try:
        only_this_fails(sit, "post-rollback", "terraform-state", key, verdict=Verdict.WARN)
    finally:
        ddb.delete_item(TableName=tf.lock_table, Key=lock_id)


@covers("terraform-state", Verdict.FAIL, "state object not JSON")
def test_state_object_not_terraform_state_fails(sit: Rehearsal) -> None:
    tf = sit.env.terraform
    key = tf.state_keys[-1]
    s3 = sit.target.client("s3")
    good = s3.get_object(Bucket=tf.state_bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=tf.state_bucket, Key=key, Body=b"<html>not a state</html>")
    try:
        res = only_this_fails(sit, "post-rollback", "terraform-state", key)
        assert "not JSON" in res.observed
    finally:
        s3.put_object(Bucket=tf.state_bucket, Key=key, Body=good)


@covers("terraform-state", Verdict.FAIL, "md5 Digest mismatch")
def test_state_digest_mismatch_fails(sit: Rehearsal) -> None:
    """000 §5.2.2 restores a state version without its md5 Digest (seed defect 2)."""
    tf = sit.env.terraform
    key = tf.state_keys[0]
    s3 = sit.target.client("s3")
    good = s3.get_object(Bucket=tf.state_bucket, Key=key)["Body"].read()
    versions = [
        v["VersionId"]
        for v in s3.list_object_versions(Bucket=tf.state_bucket, Prefix=key)["Versions"]
        if v["Key"] == key
    ]
    older = next(
        v for v in versions if s3.get_object(Bucket=tf.state_bucket, Key=key, VersionId=v)["Body"].read() != good
    )
    s3.copy_object(
        Bucket=tf.state_bucket, Key=key, CopySource={"Bucket": tf.state_bucket, "Key": key, "VersionId": older}
    )
    try:
        res = only_this_fails(sit, "post-rollback", "terraform-state", key)
        assert "checksum mismatch" in res.observed
    finally:
        s3.put_object(Bucket=tf.state_bucket, Key=key, Body=good)


@covers("dynamodb-pitr", Verdict.FAIL, "PITR disabled on a required table")
def test_pitr_disabled_on_required_table_fails(sit: Rehearsal) -> None:
    table = next(t for t in sit.env.tables if t.pitr == "required")
    ddb = sit.target.client("dynamodb")
    ddb.update_continuous_backups(
        TableName=table.name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )
    try:
        only_this_fails(sit, "post-rollback", "dynamodb-pitr", table.name)
    finally:
        ddb.update_continuous_backups(
            TableName=table.name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )


@covers("dynamodb-pitr", Verdict.WARN, "PITR disabled on a recommended table")
def test_pitr_disabled_on_recommended_table_warns(sit: Rehearsal) -> None:
    table = next(t for t in sit.env.tables if t.pitr == "recommended")
    ddb = sit.target.client("dynamodb")
    ddb.update_continuous_backups(
        TableName=table.name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )
    try:
        res = only_this_fails(sit, "post-rollback", "dynamodb-pitr", table.name, verdict=Verdict.WARN)
        assert res.ok
    finally:
        ddb.update_continuous_backups(
            TableName=table.name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )


class _Api(BaseHTTPRequestHandler):
    """A stand-in API front answering from ``responses`` (path -> (status, body))."""

    responses: dict[str, tuple[int, str]] = {}

    def do_GET(self) -> None:
        status, body = self.responses.get(self.path, (404, json.dumps({"message": "Not Found"})))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def api_front(responses: dict[str, tuple[int, str]]) -> Iterator[str]:
    """Serve ``responses`` on 127.0.0.1 and yield the base URL (the violating API, for the api-* rows)."""
    handler = type("Api", (_Api,), {"responses": responses})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _healthy_responses(r: Rehearsal) -> dict[str, tuple[int, str]]:
    return {p: (200, json.dumps({"status": "healthy" if p.endswith("/health") else "ok"})) for p in r.env.api.paths}


@covers("api-health", Verdict.FAIL, "HTTP 500")
def test_api_health_500_fails(sit: Rehearsal) -> None:
    health = next(p for p in sit.env.api.paths if p.endswith("/health"))
    responses = {**_healthy_responses(sit), health: (500, json.dumps({"status": "error"}))}
    with api_front(responses) as url:
        res = only_this_fails(sit, "post-rollback", "api-health", health, api_base_url=url)
    assert "HTTP 500" in res.observed


@covers("api-responses", Verdict.FAIL, "HTTP 200, body not JSON")
def test_api_response_not_json_fails(sit: Rehearsal) -> None:
    other = next(p for p in sit.env.api.paths if not p.endswith("/health"))
    responses = {**_healthy_responses(sit), other: (200, "<html>gateway page</html>")}
    with api_front(responses) as url:
        res = only_this_fails(sit, "post-rollback", "api-responses", other, api_base_url=url)
    assert "not JSON" in res.observed


# -- 003 §7: post-deployment -----------------------------------------------------------------------


def _bucket(r: Rehearsal) -> str:
    return r.env.buckets[0].name


@covers("s3-versioning", Verdict.FAIL, "versioning Suspended")
def test_versioning_suspended_fails(sit: Rehearsal) -> None:
    s3, b = sit.target.client("s3"), _bucket(sit)
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    try:
        res = only_this_fails(sit, "post-deployment", "s3-versioning", b)
        assert "Suspended" in res.observed
    finally:
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})


@covers("s3-public-access-block", Verdict.FAIL, "no public access block")
@covers("s3-public-access-block", Verdict.FAIL, "one flag false")
def test_public_access_block_removed_fails(sit: Rehearsal) -> None:
    s3, b = sit.target.client("s3"), _bucket(sit)
    saved = s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"]
    s3.delete_public_access_block(Bucket=b)
    try:
        only_this_fails(sit, "post-deployment", "s3-public-access-block", b)
        s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={**saved, "RestrictPublicBuckets": False})
        res = only_this_fails(sit, "post-deployment", "s3-public-access-block", b)
        assert "RestrictPublicBuckets" in res.observed
    finally:
        s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=saved)


@covers("s3-encryption", Verdict.FAIL, "no default encryption")
def test_default_encryption_removed_fails(sit: Rehearsal) -> None:
    s3, b = sit.target.client("s3"), _bucket(sit)
    saved = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]
    s3.delete_bucket_encryption(Bucket=b)
    try:
        only_this_fails(sit, "post-deployment", "s3-encryption", b)
    finally:
        s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=saved)


@covers("s3-write-read", Verdict.FAIL, "test object version cannot be deleted")
def test_write_read_object_that_cannot_be_deleted_fails(sit: Rehearsal) -> None:
    s3, b = sit.target.client("s3"), _bucket(sit)
    with bucket_governance_lock(sit.env.account, b):
        try:
            res = only_this_fails(sit, "post-deployment", "s3-write-read", b)
            assert "could not be deleted" in res.observed and res.evidence["deleted"] is False
        finally:
            left = s3.list_object_versions(Bucket=b, Prefix="harness-write-read/").get("Versions", [])
            for v in left:
                s3.delete_object(Bucket=b, Key=v["Key"], VersionId=v["VersionId"], BypassGovernanceRetention=True)
    assert not s3.list_object_versions(Bucket=b, Prefix="harness-write-read/").get("Versions")


@covers("s3-replication", Verdict.FAIL, "no replication configuration")
@covers("s3-replication", Verdict.PASS, "seeded PROD replication")
def test_replication_removed_fails_in_prod(prod: Rehearsal) -> None:
    s3 = prod.target.client("s3")
    b = next(x for x in prod.env.buckets if x.replication_destination).name
    saved = s3.get_bucket_replication(Bucket=b)["ReplicationConfiguration"]
    assert prod.run("post-deployment")[("s3-replication", b)].verdict is Verdict.PASS
    s3.delete_bucket_replication(Bucket=b)
    try:
        res = only_this_fails(prod, "post-deployment", "s3-replication", b)
        assert "no replication configuration" in res.observed
    finally:
        s3.put_bucket_replication(Bucket=b, ReplicationConfiguration=saved)


@covers("dynamodb-table-active", Verdict.FAIL, "TableStatus UPDATING")
def test_table_not_active_fails(sit: Rehearsal) -> None:
    table = sit.env.tables[-1].name
    with table_status(sit.env.account, sit.env.region, table, "UPDATING"):
        res = only_this_fails(sit, "post-deployment", "dynamodb-table-active", table)
    assert "UPDATING" in res.observed


@covers("dynamodb-billing-mode", Verdict.FAIL, "PROVISIONED")
def test_provisioned_billing_fails(sit: Rehearsal) -> None:
    table = next(t for t in sit.env.tables if t.billing_mode == "PAY_PER_REQUEST").name
    ddb = sit.target.client("dynamodb")
    ddb.update_table(
        TableName=table,
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    try:
        res = only_this_fails(sit, "post-deployment", "dynamodb-billing-mode", table)
        assert "PROVISIONED" in res.observed
    finally:
        ddb.update_table(TableName=table, BillingMode="PAY_PER_REQUEST")


@covers("dynamodb-write-read", Verdict.FAIL, "write refused (wrong key schema)")
def test_write_read_on_table_with_wrong_key_schema_fails(sit: Rehearsal) -> None:
    """The table was deployed with another key than the application's (inventory) key: writes fail."""
    table = next(t for t in sit.env.tables if t.pitr == "none" and t.purpose == "data")
    ddb = sit.target.client("dynamodb")
    ddb.delete_table(TableName=table.name)
    ddb.create_table(
        TableName=table.name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "other_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "other_id", "AttributeType": "S"}],
    )
    ddb.put_item(TableName=table.name, Item={"other_id": {"S": "sample"}})
    try:
        res = only_this_fails(sit, "post-deployment", "dynamodb-write-read", table.name)
        assert "write failed" in res.observed
    finally:
        ddb.delete_table(TableName=table.name)
        _seed_table(sit.target, sit.env, table, sit.clock.now(), Seeded())


@covers("cloudwatch-alarms", Verdict.FAIL, "an alarm in ALARM")
def test_alarm_in_alarm_state_fails(sit: Rehearsal) -> None:
    cw = sit.target.client("cloudwatch")
    alarm = sit.target.seeded.alarms[0]
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="harness violation")
    try:
        res = only_this_fails(sit, "post-deployment", "cloudwatch-alarms", f"{sit.env.alarm_prefix}*")
        assert alarm in res.observed
    finally:
        cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="restored")


# -- 001 §3.1 / §4.1: pre-promotion ----------------------------------------------------------------


@covers("source-errors", Verdict.FAIL, "errors above the SIT gate")
@covers("source-errors", Verdict.PASS, "errors at the SIT gate")
def test_source_errors_above_gate_fail(sit: Rehearsal) -> None:
    fn, gate = fn_of(sit), sit.env.gates[sit.env.name]
    with metrics_restored(sit.env.account, sit.env.region):
        _put_metrics(sit, fn, 30, Errors=gate.max_errors)  # at the limit: still passes (<=)
        assert sit.run("pre-promotion")[("source-errors", fn)].verdict is Verdict.PASS
        _put_metrics(sit, fn, 40, Errors=1)
        res = only_this_fails(sit, "pre-promotion", "source-errors", fn)
        assert f"{gate.max_errors + 1} errors" in res.observed


@covers("source-errors", Verdict.FAIL, "10 errors in the DEV hour (< 10)")
@covers("source-errors", Verdict.PASS, "9 errors in the DEV hour")
def test_dev_gate_is_strictly_below_ten_errors_in_an_hour(dev: Rehearsal) -> None:
    fn, gate = fn_of(dev), dev.env.gates["dev"]
    assert (gate.lookback_hours, gate.max_errors, gate.errors_strictly_below) == (1, 10, True)  # 001 §2.1
    with metrics_restored(dev.env.account, dev.env.region):
        _put_metrics(dev, fn, 30, Errors=gate.max_errors - 1)  # 9 in the last hour: passes
        assert dev.run("pre-promotion")[("source-errors", fn)].verdict is Verdict.PASS
        _put_metrics(dev, fn, 90, Errors=50)  # outside the 1 h lookback: does not count
        assert dev.run("pre-promotion")[("source-errors", fn)].verdict is Verdict.PASS
        _put_metrics(dev, fn, 20, Errors=1)  # 10 in the hour: "< 10" fails
        res = only_this_fails(dev, "pre-promotion", "source-errors", fn)
        assert f"{gate.max_errors} errors" in res.observed


@covers("source-throttles", Verdict.FAIL, "a throttle")
def test_source_throttles_fail(sit: Rehearsal) -> None:
    fn = fn_of(sit)
    with metrics_restored(sit.env.account, sit.env.region):
        _put_metrics(sit, fn, 30, Throttles=1)
        res = only_this_fails(sit, "pre-promotion", "source-throttles", fn)
        assert "1 throttles" in res.observed


@covers("source-health", Verdict.FAIL, "statusCode 500")
@needs_fidelity
def test_source_health_of_faulty_version_fails(sit: Rehearsal) -> None:
    fn = backend_fn(sit)
    with faulty_alias(sit, fn):
        only_this_fails(sit, "pre-promotion", "source-health", fn)


def test_every_slug_has_a_red_test() -> None:
    """A new slug needs a violation test here."""
    import inspect
    import sys

    from tests.propie import test_checks as propie_checks  # the 004 slugs' red tests live with the propie tests

    source = inspect.getsource(sys.modules[__name__]) + inspect.getsource(propie_checks)
    missing = [c.slug for c in CATALOGUE if f'"{c.slug}"' not in source]
    assert not missing, missing
