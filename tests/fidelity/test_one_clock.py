"""One clock: every timestamp the emulator writes or returns for a served account is on the target's clock.

The rehearsal clock starts years away from the wall clock and is advanced a day; every timestamp-bearing
response of every seeded service is then read, and each timestamp must lie between the seeded history's
start and the clock's "now" (moto alone stamps the wall clock, and DescribeStackResources says 2010).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from harness.clock import FixedClock
from harness.targets.embedded.seed import METRIC_HOURS

T0 = datetime(2024, 2, 29, 10, 0, tzinfo=timezone.utc)
HISTORY = timedelta(days=30)  # seeded history (deployment records, builds, metrics) starts at most this early
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
EPOCH_MS_KEYS = {"creationTime", "ingestionTime", "lastIngestionTime", "lastEventTimestamp", "firstEventTimestamp"}


def stamps(value: Any, path: str = "") -> Iterator[tuple[str, datetime]]:
    """Every timestamp in a response: datetimes, ISO strings, and the Logs API's epoch-millisecond fields."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "ResponseMetadata":
                continue
            if key in EPOCH_MS_KEYS and isinstance(item, int):
                yield f"{path}.{key}", datetime.fromtimestamp(item / 1000, timezone.utc)
            else:
                yield from stamps(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from stamps(item, f"{path}[{i}]")
    elif isinstance(value, datetime):
        yield path, value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    elif isinstance(value, str) and ISO.match(value) and len(value) <= 40:
        text = value.replace("Z", "+00:00")
        text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
        at = datetime.fromisoformat(text)
        yield path, at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def off_clock(responses: dict[str, Any], now: datetime) -> list[str]:
    """The timestamps outside [T0 - HISTORY, now] (with where they were found)."""
    found = [(f"{name}{path}", at) for name, resp in responses.items() for path, at in stamps(resp)]
    assert len(found) > 20, found  # the walk found the timestamps (a test that cannot fail is a defect)
    return [f"{where}={at.isoformat()}" for where, at in found if not T0 - HISTORY <= at <= now + timedelta(seconds=1)]


@pytest.fixture
def two_rehearsals(make_target):
    """propie/production (Lambda, DynamoDB, Amplify, CloudFormation, triggers) and bbws/sit (S3, ECS, Logs,
    Terraform, alarms) on one FixedClock at T0, advanced a day after seeding."""
    clock = FixedClock(T0)
    propie = make_target("propie", "production", clock=clock)
    sit = make_target("bbws", "sit", clock=clock)
    clock.advance(days=1)
    return propie, sit, clock


def _reads_propie(t) -> dict[str, Any]:
    lam, ddb, amp, cfn, cw = (t.client(s) for s in ("lambda", "dynamodb", "amplify", "cloudformation", "cloudwatch"))
    env, out = t.env, {}
    fn = env.functions[0].name
    out["lambda.update_function_configuration"] = lam.update_function_configuration(FunctionName=fn, Timeout=11)
    out["lambda.list_versions_by_function"] = lam.list_versions_by_function(FunctionName=fn)
    table = env.tables[0].name
    restored = f"{table}-clock-probe"
    out["dynamodb.restore"] = ddb.restore_table_to_point_in_time(
        SourceTableName=table, TargetTableName=restored, UseLatestRestorableTime=True
    )
    out["dynamodb.describe_table"] = ddb.describe_table(TableName=table)
    out["dynamodb.describe_restored"] = ddb.describe_table(TableName=restored)
    out["dynamodb.continuous_backups"] = ddb.describe_continuous_backups(TableName=table)
    app = env.amplify.app_id
    out["amplify.get_app"] = amp.get_app(appId=app)
    out["amplify.list_branches"] = amp.list_branches(appId=app)
    out["amplify.list_jobs"] = amp.list_jobs(appId=app, branchName=env.amplify.branch)
    stack = env.cfn_stacks[0]
    out["cloudformation.describe_stacks"] = cfn.describe_stacks(StackName=stack)
    out["cloudformation.describe_stack_resources"] = cfn.describe_stack_resources(StackName=stack)
    out["cloudformation.describe_stack_events"] = cfn.describe_stack_events(StackName=stack)
    out["cloudwatch.describe_alarms"] = cw.describe_alarms()
    return out


def _reads_sit(t, now: datetime) -> dict[str, Any]:
    s3, logs, ecs, lam = (t.client(s) for s in ("s3", "logs", "ecs", "lambda"))
    env, out = t.env, {}
    bucket = env.buckets[0].name
    s3.put_object(Bucket=bucket, Key="clock-probe", Body=b"x")
    out["s3.list_buckets"] = s3.list_buckets()
    out["s3.list_objects_v2"] = s3.list_objects_v2(Bucket=bucket)
    out["s3.list_object_versions"] = s3.list_object_versions(Bucket=bucket)
    out["s3.head_object"] = s3.head_object(Bucket=bucket, Key="clock-probe")
    group = f"{env.log_group_prefix}{env.functions[0].name}"
    logs.create_log_stream(logGroupName=group, logStreamName="clock-probe")
    at_ms = int(now.timestamp() * 1000)
    logs.put_log_events(
        logGroupName=group, logStreamName="clock-probe", logEvents=[{"timestamp": at_ms, "message": "x"}]
    )
    out["logs.describe_log_groups"] = logs.describe_log_groups(logGroupNamePrefix=group)
    out["logs.describe_log_streams"] = logs.describe_log_streams(logGroupName=group)
    out["logs.get_log_events"] = logs.get_log_events(logGroupName=group, logStreamName="clock-probe")
    cluster = env.ecs.cluster
    services = env.ecs.services[:1]
    out["ecs.describe_services"] = ecs.describe_services(cluster=cluster, services=list(services))
    tasks = ecs.list_tasks(cluster=cluster, serviceName=services[0])["taskArns"]
    out["ecs.describe_tasks"] = ecs.describe_tasks(cluster=cluster, tasks=tasks)
    out["lambda.get_alias"] = lam.get_alias(FunctionName=env.functions[0].name, Name=env.alias)
    out["lambda.get_function_configuration"] = lam.get_function_configuration(FunctionName=env.functions[0].name)
    return out


def test_every_timestamp_of_every_seeded_service_is_on_the_target_clock(two_rehearsals):
    """https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html (LastModified),
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TableDescription.html (CreationDateTime),
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_OutputLogEvent.html (ingestionTime),
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html (LastModified),
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackResource.html (Timestamp),
    https://docs.aws.amazon.com/amplify/latest/APIReference/API_JobSummary.html (startTime after the app's
    createTime): all on one clock."""
    propie, sit, clock = two_rehearsals
    now = clock.now()
    responses = {**_reads_propie(propie), **_reads_sit(sit, now)}
    assert off_clock(responses, now) == []
    restored = responses["dynamodb.describe_restored"]["Table"]
    assert restored["CreationDateTime"] >= now - timedelta(seconds=1)  # created by the restore, not a year before
    app_created = responses["amplify.get_app"]["app"]["createTime"]
    jobs = responses["amplify.list_jobs"]["jobSummaries"]
    assert all(j["startTime"] >= app_created for j in jobs), (app_created, [j["startTime"] for j in jobs])
    [event] = responses["logs.get_log_events"]["events"]
    assert event["ingestionTime"] == int(now.timestamp() * 1000)
    assert responses["s3.head_object"]["LastModified"] == now.replace(microsecond=0)
    assert responses["lambda.update_function_configuration"]["LastModified"].startswith(f"{now:%Y-%m-%dT%H:%M:%S}")
    for resource in responses["cloudformation.describe_stack_resources"]["StackResources"]:
        assert resource["Timestamp"] > T0 - timedelta(hours=METRIC_HOURS), resource


def test_the_walk_sees_wall_clock_stamps():
    """The checker itself: a wall-clock timestamp is reported with where it was found."""
    wall = datetime.now(timezone.utc)
    fake = {"svc": {"Items": [{"LastModified": wall.isoformat()}] * 21, "creationTime": int(wall.timestamp() * 1000)}}
    assert len(off_clock(fake, T0 + timedelta(days=1))) == 22
