"""Smoke probe: each resource the inventory names exists and can be read (read-only)."""

from __future__ import annotations

from typing import Any, Callable

from botocore.exceptions import ClientError

from harness import aws
from harness.checks.result import CheckResult, Verdict
from harness.inventory.resources import Resource
from harness.targets.base import TargetLike

SLUG = "resource-present"

# target.client: (service, region) -> a boto3 client (untyped: boto3 ships no stubs here).
ClientFor = Callable[[str, str | None], Any]


def _alias(client: ClientFor, r: Resource) -> str:
    a = client("lambda", r.region).get_alias(FunctionName=r.parent, Name=r.name)
    return f"alias {r.name} -> version {a['FunctionVersion']}"


def _discovery(client: ClientFor, r: Resource) -> str:
    functions = aws.paginate(client("lambda", r.region), "list_functions", "Functions")
    names = [f["FunctionName"] for f in functions if f["FunctionName"].startswith(r.name)]
    if not names:
        raise LookupError(f"no function whose name starts with {r.name}")
    return f"{len(names)} function(s): {', '.join(names)}"


def _table(client: ClientFor, r: Resource) -> str:
    t = client("dynamodb", r.region).describe_table(TableName=r.name)["Table"]
    return f"table {t['TableStatus']}"


def _bucket(client: ClientFor, r: Resource) -> str:
    client("s3", r.region).head_bucket(Bucket=r.name)
    return "bucket readable"


def _state(client: ClientFor, r: Resource) -> str:
    h = client("s3", r.region).head_object(Bucket=r.parent, Key=r.name)
    return f"{h['ContentLength']} bytes, version {h.get('VersionId', '-')}"


def _ecs(client: ClientFor, r: Resource) -> str:
    resp = client("ecs", r.region).describe_services(cluster=r.parent, services=[r.name])
    if not resp["services"]:
        raise LookupError(f"service {r.name} not in cluster {r.parent}: {resp['failures']}")
    s = resp["services"][0]
    return f"{s['status']} running {s['runningCount']}/{s['desiredCount']}"


def _ssm(client: ClientFor, r: Resource) -> str:
    value: str = client("ssm", r.region).get_parameter(Name=r.name)["Parameter"]["Value"]
    return "value " + value


def _log_group(client: ClientFor, r: Resource) -> str:
    groups = aws.paginate(client("logs", r.region), "describe_log_groups", "logGroups", logGroupNamePrefix=r.name)
    if not any(g["logGroupName"] == r.name for g in groups):
        raise LookupError(f"log group {r.name} not found")
    return "log group exists"


def _stack(client: ClientFor, r: Resource) -> str:
    status: str = client("cloudformation", r.region).describe_stacks(StackName=r.name)["Stacks"][0]["StackStatus"]
    return status


def _amplify(client: ClientFor, r: Resource) -> str:
    app = client("amplify", r.region).get_app(appId=r.name)["app"]
    return f"app {app['name']}"


READERS: dict[str, Callable[[ClientFor, Resource], str]] = {
    "lambda-alias": _alias,
    "lambda-discovery": _discovery,
    "dynamodb-table": _table,
    "s3-bucket": _bucket,
    "terraform-state": _state,
    "ecs-service": _ecs,
    "ssm-parameter": _ssm,
    "log-group": _log_group,
    "cloudformation-stack": _stack,
    "amplify-app": _amplify,
}


# Resource kinds a target can only hold with a capability (harness.targets.capabilities).
NEEDS = {"amplify-app": "amplify", "ecs-service": "ecs"}


def check_present(target: TargetLike, r: Resource) -> CheckResult:
    """Read ``r`` back; FAIL names the resource and the error, SKIP when the target cannot hold it."""
    resource = f"{r.parent}:{r.name}" if r.parent else r.name
    need = NEEDS.get(r.kind)
    if need and not target.supports(need):
        return CheckResult(SLUG, resource, "exists", target.unsupported_reason(need) or need, Verdict.SKIP, r.ref)
    try:
        observed = READERS[r.kind](target.client, r)
        verdict = Verdict.PASS
    except (ClientError, LookupError) as exc:
        observed, verdict = f"missing or unreadable: {exc}", Verdict.FAIL
    return CheckResult(
        SLUG, resource, "exists", observed, verdict, r.ref, evidence={"kind": r.kind, "region": r.region}
    )
