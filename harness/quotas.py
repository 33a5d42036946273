"""AWS's API request-rate quotas: one table, read by the harness's client-side pacing
(``harness/pacing.py``: every client paces itself to them before sending) and by the rehearsal's
referee (``harness/targets/embedded/fidelity/api_quotas.py``: the embedded target answers a request
over quota with the service's throttling error), so what the harness paces to is what the rehearsal
enforces.

AWS throttles API requests per account and Region with token buckets (ECS documents the algorithm;
Lambda, CloudWatch, Logs, DynamoDB and S3 publish the rates). Each ``Quota`` is one bucket: an API, or a
group of APIs that share a quota, such as Lambda's "remainder of the control plane" (15 requests per
second *across all APIs*), its refill rate and its capacity (``burst``). An inventory may raise a quota
for an account (some are raised by AWS support): ``with_overrides``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping

LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html#api-requests"
CLOUDWATCH_QUOTAS = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html"
LOGS_THROTTLING = "https://repost.aws/knowledge-center/cloudwatch-logs-throttling"
LOGS_QUOTAS = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html"
DYNAMODB_CONTROL_PLANE = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-control-plane.html"
ECS_THROTTLING = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html"
S3_PERFORMANCE = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html"
SSM_QUOTAS = "https://docs.aws.amazon.com/general/latest/gr/ssm.html#limits_ssm"
STS_QUOTAS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"


@dataclass(frozen=True)
class Quota:
    """One token bucket per account: the APIs that draw on it, its rate and burst, and where the numbers come from."""

    service: str  # the SigV4 signing name (credential scope): lambda, monitoring, logs, ...
    operations: tuple[str, ...]  # API operation names; ("*",) = every operation of the service not listed elsewhere
    rate: float  # requests per second (the bucket's refill rate)
    burst: float  # bucket capacity (requests allowed at once)
    source: str
    note: str = ""
    exempt: tuple[str, ...] = ()  # with "*": operations that draw on no bucket of this quota

    @property
    def group(self) -> str:
        """The bucket's name (``lambda:control-plane``, ``logs:FilterLogEvents``...)."""
        return f"{self.service}:{'control-plane' if self.operations == ('*',) else '+'.join(self.operations)}"


# The documented defaults (Regions other than us-east-1 where they differ). Where AWS publishes no burst,
# the bucket holds one second's worth (the smallest burst consistent with the rate).
QUOTAS: tuple[Quota, ...] = (
    Quota(
        "lambda",
        ("GetFunction",),
        100,
        100,
        LAMBDA_QUOTAS,
        "GetFunction API requests: 100 requests per second, cannot be increased",
    ),
    Quota("lambda", ("GetPolicy",), 15, 15, LAMBDA_QUOTAS, "GetPolicy API requests: 15 requests per second"),
    Quota(
        "lambda",
        ("*",),
        15,
        15,
        LAMBDA_QUOTAS,
        "remainder of the control plane (GetAlias, ListVersionsByFunction, GetFunctionConfiguration, UpdateAlias, "
        "ListFunctions, ...): "
        "15 requests per second across all APIs, not per API",
        exempt=("Invoke", "InvokeAsync", "InvokeWithResponseStream"),
    ),  # invocations are bounded by concurrency, not by a request rate
    Quota(
        "monitoring",
        ("GetMetricData",),
        500,
        500,
        CLOUDWATCH_QUOTAS,
        "Rate of GetMetricData requests: 500 per second (adjustable)",
    ),
    Quota("monitoring", ("GetMetricStatistics",), 400, 400, CLOUDWATCH_QUOTAS, "400 per second"),
    Quota("monitoring", ("PutMetricData",), 500, 500, CLOUDWATCH_QUOTAS, "500 per second"),
    Quota("monitoring", ("ListMetrics",), 25, 25, CLOUDWATCH_QUOTAS, "25 per second"),
    Quota("monitoring", ("DescribeAlarms",), 9, 9, CLOUDWATCH_QUOTAS, "9 per second"),
    Quota("monitoring", ("DescribeAlarmHistory",), 20, 20, CLOUDWATCH_QUOTAS, "20 per second"),
    Quota("monitoring", ("PutMetricAlarm",), 3, 3, CLOUDWATCH_QUOTAS, "3 per second"),
    Quota("monitoring", ("SetAlarmState",), 3, 3, CLOUDWATCH_QUOTAS, "3 per second"),
    Quota("monitoring", ("DeleteAlarms",), 3, 3, CLOUDWATCH_QUOTAS, "3 per second"),
    Quota(
        "logs",
        ("FilterLogEvents",),
        5,
        5,
        LOGS_THROTTLING,
        "5 transactions per second per account and Region, cannot be increased",
    ),
    Quota(
        "logs",
        ("GetLogEvents",),
        5,
        5,
        LOGS_THROTTLING,
        "a hard limit like FilterLogEvents's; no number found: FilterLogEvents's 5 TPS assumed",
    ),
    Quota(
        "logs",
        ("StartQuery",),
        5,
        5,
        LOGS_QUOTAS,
        "no request rate found (concurrency: 30 queries); 5 TPS assumed (conservative)",
    ),
    Quota("logs", ("GetQueryResults",), 5, 5, LOGS_QUOTAS, "no request rate found; 5 TPS assumed (conservative)"),
    Quota(
        "logs",
        ("DescribeLogGroups", "DescribeLogStreams"),
        5,
        5,
        LOGS_THROTTLING,
        "no number found; 5 TPS assumed (conservative)",
    ),
    Quota(
        "dynamodb",
        (
            "CreateTable",
            "DeleteTable",
            "DescribeTable",
            "UpdateTable",
            "ListTables",
            "DescribeContinuousBackups",
            "UpdateContinuousBackups",
            "RestoreTableToPointInTime",
            "RestoreTableFromBackup",
            "CreateBackup",
            "DescribeBackup",
            "ListBackups",
            "DeleteBackup",
            "DescribeTimeToLive",
            "UpdateTimeToLive",
            "ListTagsOfResource",
            "TagResource",
            "UntagResource",
            "DescribeLimits",
        ),
        2500,
        2500,
        DYNAMODB_CONTROL_PLANE,
        "control plane throttle limit: 2,500 requests per second (data-plane reads and writes are bounded by table "
        "capacity, not a request rate)",
    ),
    Quota(
        "ecs",
        ("DescribeServices", "ListServices"),
        20,
        50,
        ECS_THROTTLING,
        "service read actions: sustained 20 per second; burst not found for this category: the documented "
        "cluster-read bucket (50) assumed",
    ),
    Quota(
        "ecs",
        ("DescribeTasks", "ListTasks"),
        20,
        50,
        ECS_THROTTLING,
        "cluster resource read actions: sustained 20 per second; burst 50 assumed",
    ),
    Quota(
        "ecs",
        ("DescribeClusters", "ListClusters"),
        20,
        50,
        ECS_THROTTLING,
        "cluster read actions: bucket 50, sustained 20 per second",
    ),
    Quota(
        "ssm",
        ("GetParameter", "GetParameters", "GetParametersByPath"),
        40,
        40,
        SSM_QUOTAS,
        "Parameter Store default throughput: 40 transactions per second shared by these APIs",
    ),
    Quota(
        "sts",
        ("*",),
        50,
        50,
        STS_QUOTAS,
        "no per-API request rate published; 50 per second assumed (the harness calls it once per target)",
    ),
    Quota(
        "s3",
        ("GET", "HEAD"),
        5500,
        5500,
        S3_PERFORMANCE,
        "5,500 GET/HEAD per second per partitioned prefix (a bucket counts as one prefix: conservative)",
    ),
    Quota(
        "s3",
        ("PUT", "POST", "DELETE"),
        3500,
        3500,
        S3_PERFORMANCE,
        "3,500 PUT/COPY/POST/DELETE per second per partitioned prefix",
    ),
)


def quota_for(service: str, operation: str, quotas: Iterable[Quota] = QUOTAS) -> Quota | None:
    """The quota a request draws on (None: not rate-limited here)."""
    wildcard = None
    for q in quotas:
        if q.service != service:
            continue
        if operation in q.operations:
            return q
        if q.operations == ("*",):
            wildcard = q
    if wildcard is not None and operation not in wildcard.exempt:
        return wildcard
    return None


def groups() -> tuple[str, ...]:
    """Every quota's bucket name (what an inventory's ``[api_quotas]`` keys name)."""
    return tuple(q.group for q in QUOTAS)


def with_overrides(overrides: Mapping[str, tuple[float, float]], quotas: Iterable[Quota] = QUOTAS) -> tuple[Quota, ...]:
    """The table with some buckets' (rate, burst) replaced (an account's raised quotas); unknown names raise."""
    unknown = sorted(set(overrides) - set(groups()))
    if unknown:
        raise KeyError(f"unknown API quota {', '.join(unknown)}; known: {', '.join(groups())}")
    out = []
    for q in quotas:
        if q.group in overrides:
            rate, burst = overrides[q.group]
            q = replace(q, rate=rate, burst=burst, note=f"{q.note} (raised for this account: {rate:g}/s)")
        out.append(q)
    return tuple(out)
