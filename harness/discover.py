"""Discover a draft inventory from an account: read-only, batched and paginated, every guess commented.

A layer above the targets (it takes a started target: the account is verified first, as every ``--target aws``
run is) and beside the actions; the inventory layer below never imports it. What it reads, per resource:

| service | calls |
|---|---|
| Lambda | ListFunctions (1 per 50 functions, with each one's $LATEST version); per function ListAliases (each alias's version) |
| DynamoDB | ListTables (1 per 100); per table DescribeTable and DescribeContinuousBackups |
| S3 | ListBuckets (1); per bucket GetBucketVersioning, GetPublicAccessBlock, GetBucketEncryption, GetBucketReplication; ListObjectsV2 (1 per 1000 keys) only in buckets named like Terraform state |
| ECS | ListClusters (1 per 100), ListServices (1 per 100 per cluster), DescribeServices (1 per 10 services) |
| SSM | GetParametersByPath under ``--ssm-prefix`` (1 per 10 parameters) |
| CloudFormation | ListStacks (1 per 100) |
| Amplify | ListApps (1 per 100); per app ListBranches and ListDomainAssociations |
| CloudWatch | DescribeAlarms (1 per 100) |
| Tagging | GetResources (1 per 100) when ``--tag`` filters |

Nothing here writes: every call is a List/Describe/Get (tests/byos/test_discover.py records them).
"""  # noqa: E501 (a markdown table: rows cannot wrap)

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from botocore.exceptions import ClientError

from harness.inventory.loader import Inventory
from harness.inventory.model import Environment
from harness.inventory.schema import InventoryFile
from harness.targets.base import TargetLike

SKIP_ALIAS_PREFIXES = ("backup-", "incident-", "rollback-checkpoint-")
STATE_BUCKET_RE = re.compile(r"terraform|tfstate|state", re.I)
RESTORED_RE = re.compile(r"-(restored-\d{8,14}|recovery)$")
LOCK_KEY = "LockID"  # Terraform's S3 backend lock table key


@dataclass
class Table:
    """A DynamoDB table as read: keys, billing, PITR."""

    name: str
    hash_key: tuple[str, str]
    range_key: tuple[str, str] | None
    billing: str | None
    pitr: bool


@dataclass
class Bucket:
    """An S3 bucket as read: versioning, public access block, encryption, replication destination."""

    name: str
    versioning: bool
    public_access_block: bool
    encryption: str | None
    replication: tuple[str, str] | None  # (destination bucket, region)


@dataclass
class Discovered:
    """One environment of one account, as read."""

    env: str
    account: str
    region: str
    functions: dict[str, list[str]] = field(default_factory=dict)  # name -> alias names
    versions: dict[str, dict[str, str]] = field(default_factory=dict)  # function -> alias -> version it serves
    tables: list[Table] = field(default_factory=list)
    lock_table: str | None = None
    buckets: list[Bucket] = field(default_factory=list)
    state_bucket: str | None = None
    state_keys: list[str] = field(default_factory=list)
    cluster: str | None = None
    services: list[str] = field(default_factory=list)
    desired_counts: list[int] = field(default_factory=list)
    ssm_parameter: str | None = None
    stacks: list[str] = field(default_factory=list)
    amplify: dict[str, str] | None = None
    alarm_prefix: str | None = None
    calls: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    @property
    def alias(self) -> str | None:
        """The alias most functions carry (backup-/incident-/checkpoint aliases left out)."""
        names = Counter(
            a for aliases in self.functions.values() for a in aliases if not a.startswith(SKIP_ALIAS_PREFIXES)
        )
        return names.most_common(1)[0][0] if names else None


class Filter:
    """Name prefixes and tagged resource names: a name passes when it matches both (either when only one is set)."""

    def __init__(self, prefixes: Sequence[str] = (), tagged: set[str] | None = None) -> None:
        self.prefixes, self.tagged = tuple(prefixes), tagged

    def __call__(self, name: str) -> bool:
        """True when ``name`` is to be kept."""
        if self.prefixes and not name.startswith(self.prefixes):
            return False
        return self.tagged is None or name in self.tagged


def _pages(client: Any, operation: str, key: str, **params: Any) -> Iterable[Any]:
    for page in client.get_paginator(operation).paginate(**params):
        yield from page.get(key, [])


def _lambda(target: TargetLike, found: Discovered, keep: Filter) -> None:
    lam = target.client("lambda")
    for fn in _pages(lam, "list_functions", "Functions"):
        name = fn["FunctionName"]
        if not keep(name):
            continue
        # ListAliases gives each alias's version: no ListVersionsByFunction per function (the control plane's
        # 15 requests per second quota makes every call per function count)
        aliases = list(_pages(lam, "list_aliases", "Aliases", FunctionName=name))
        found.functions[name] = [a["Name"] for a in aliases]
        found.versions[name] = {a["Name"]: str(a.get("FunctionVersion")) for a in aliases}


def _key(schema: list[dict[str, str]], attrs: dict[str, str], kind: str) -> tuple[str, str] | None:
    name = next((k["AttributeName"] for k in schema if k["KeyType"] == kind), None)
    return (name, attrs.get(name, "S")) if name else None


def _dynamodb(target: TargetLike, found: Discovered, keep: Filter) -> None:
    ddb = target.client("dynamodb")
    for name in _pages(ddb, "list_tables", "TableNames"):
        if not keep(name) or RESTORED_RE.search(name):
            continue
        desc = ddb.describe_table(TableName=name)["Table"]
        attrs = {a["AttributeName"]: a["AttributeType"] for a in desc.get("AttributeDefinitions", [])}
        hash_key = _key(desc["KeySchema"], attrs, "HASH")
        assert hash_key is not None
        if hash_key[0] == LOCK_KEY:
            found.lock_table = name
            continue
        backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        pitr = (backups.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus") == "ENABLED"
        billing = (desc.get("BillingModeSummary") or {}).get("BillingMode") or (
            "PROVISIONED" if desc.get("ProvisionedThroughput", {}).get("ReadCapacityUnits") else None
        )
        found.tables.append(Table(name, hash_key, _key(desc["KeySchema"], attrs, "RANGE"), billing, pitr))


def _absent(call: Any, *codes: str) -> Any:
    """The call's answer, or None when it fails with one of ``codes`` (the bucket has no such configuration)."""
    try:
        return call()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in codes:
            return None
        raise


def _bucket(s3: Any, name: str) -> Bucket:
    versioning = s3.get_bucket_versioning(Bucket=name).get("Status") == "Enabled"
    pab = _absent(lambda: s3.get_public_access_block(Bucket=name), "NoSuchPublicAccessBlockConfiguration")
    blocked = bool(pab) and all(pab["PublicAccessBlockConfiguration"].values())
    enc = _absent(lambda: s3.get_bucket_encryption(Bucket=name), "ServerSideEncryptionConfigurationNotFoundError")
    rules = (enc or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    algorithm = rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] if rules else None
    repl = _absent(lambda: s3.get_bucket_replication(Bucket=name), "ReplicationConfigurationNotFoundError")
    destination = None
    for rule in (repl or {}).get("ReplicationConfiguration", {}).get("Rules", []):
        dest = rule.get("Destination", {}).get("Bucket", "").split(":::")[-1]
        where = (
            _absent(lambda d=dest: s3.get_bucket_location(Bucket=d), "NoSuchBucket", "AccessDenied") if dest else None
        )
        if where is not None:  # a destination this account cannot read stays out of the draft
            destination = (dest, where.get("LocationConstraint") or "us-east-1")
    return Bucket(name, versioning, blocked, algorithm if algorithm in ("AES256", "aws:kms") else None, destination)


def _s3(target: TargetLike, found: Discovered, keep: Filter) -> None:
    s3 = target.client("s3")
    for b in s3.list_buckets().get("Buckets", []):
        name = b["Name"]
        if not keep(name):
            continue
        if STATE_BUCKET_RE.search(name):
            keys = [o["Key"] for o in _pages(s3, "list_objects_v2", "Contents", Bucket=name)]
            tfstate = [k for k in keys if k.endswith(".tfstate")]
            if tfstate and found.state_bucket is None:
                found.state_bucket, found.state_keys = name, sorted(tfstate)
                continue
        found.buckets.append(_bucket(s3, name))


def _ecs(target: TargetLike, found: Discovered, keep: Filter) -> None:
    ecs = target.client("ecs")
    for cluster in _pages(ecs, "list_clusters", "clusterArns"):
        arns = list(_pages(ecs, "list_services", "serviceArns", cluster=cluster))
        services = []
        for i in range(0, len(arns), 10):  # DescribeServices takes 10 at a time
            services += ecs.describe_services(cluster=cluster, services=arns[i : i + 10])["services"]
        kept = [s for s in services if keep(s["serviceName"])]
        if kept and found.cluster is None:
            found.cluster = cluster.split("/")[-1]
            found.services = sorted(s["serviceName"] for s in kept)
            found.desired_counts = [int(s.get("desiredCount", 1)) for s in kept]
        elif kept:
            found.notes.append(f"ECS cluster {cluster.split('/')[-1]} also has services: one cluster per inventory")


def _others(target: TargetLike, found: Discovered, keep: Filter, ssm_prefix: str | None) -> None:
    if ssm_prefix:
        ssm = target.client("ssm")
        params = _pages(ssm, "get_parameters_by_path", "Parameters", Path=ssm_prefix, Recursive=True)
        found.ssm_parameter = next((p["Name"] for p in params if "deployed-version" in p["Name"]), None)
    cfn = target.client("cloudformation")
    live = [
        s["StackName"] for s in _pages(cfn, "list_stacks", "StackSummaries") if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    found.stacks = sorted(s for s in live if keep(s))
    amplify = target.client("amplify")
    apps = [a for a in _pages(amplify, "list_apps", "apps") if keep(a["name"])]
    if apps:
        app = apps[0]
        branches = [b["branchName"] for b in amplify.list_branches(appId=app["appId"]).get("branches", [])]
        domains = amplify.list_domain_associations(appId=app["appId"]).get("domainAssociations", [])
        found.amplify = {
            "app_id": app["appId"],
            "branch": "production" if "production" in branches else (branches[0] if branches else "main"),
            "domain": domains[0]["domainName"] if domains else "",
        }
    alarms = [a["AlarmName"] for a in _pages(target.client("cloudwatch"), "describe_alarms", "MetricAlarms")]
    found.alarm_prefix = common_prefix(alarms)


def common_prefix(names: Sequence[str]) -> str | None:
    """The longest prefix every name shares, cut after its last ``-`` (``bbws-`` for ``bbws-errors-sit``...)."""
    if not names:
        return None
    first, last = min(names), max(names)
    n = next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), min(len(first), len(last)))
    prefix = first[:n]
    return prefix[: prefix.rfind("-") + 1] if "-" in prefix else None


def tagged_names(target: TargetLike, tags: Mapping[str, str]) -> set[str]:
    """Names of the resources carrying every tag (Resource Groups Tagging API, batched)."""
    tagging = target.client("resourcegroupstaggingapi")
    filters = [{"Key": k, "Values": [v]} for k, v in tags.items()]
    names = set()
    for r in _pages(tagging, "get_resources", "ResourceTagMappingList", TagFilters=filters):
        arn = r["ResourceARN"]
        names.add(re.split(r"[:/]", arn)[-1] if ":function:" not in arn else arn.split(":function:")[1].split(":")[0])
    return names


def probe_environment(env: str, account: str, region: str) -> Environment:
    """An environment with only what the account guard needs (the account and Region): the target for discovery."""
    from pathlib import Path

    spec = InventoryFile.model_validate(
        {
            "inventory": {"name": "discover", "title": "discover", "sources": ["harness inventory discover"]},
            "environments": {env: {"account": account, "region": region}},
            "lambda": {"alias": "live", "services": [{"name": "probe", "functions": ["probe"]}]},
        }
    )
    return Inventory(Path("<discover>"), spec).environment(env)


def discover(
    target: TargetLike,
    env_name: str,
    *,
    prefixes: Sequence[str] = (),
    tags: Mapping[str, str] | None = None,
    ssm_prefix: str | None = None,
) -> Discovered:
    """Read ``target``'s account (already verified) into a Discovered; counts every call it made."""
    found = Discovered(env_name, target.env.account, target.env.region)

    def count(service: str, operation: str, params: dict[str, Any]) -> None:
        found.calls[f"{service}.{operation}"] += 1

    target.add_call_listener(count)
    try:
        keep = Filter(prefixes, tagged_names(target, tags) if tags else None)
        _lambda(target, found, keep)
        _dynamodb(target, found, keep)
        _s3(target, found, keep)
        _ecs(target, found, keep)
        _others(target, found, keep, ssm_prefix)
    finally:
        target.remove_call_listener(count)
    return found
