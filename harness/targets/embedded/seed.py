"""Seed a rehearsal copy of one environment from its inventory, through ordinary boto3 calls.

What is created: functions with several published versions of the sample handler, the
env alias on the newest and a ``backup-<ts>`` alias on the previous (001 §6.2.1); tables with PITR
as the inventory says and sample items; buckets with versioning, public access block, encryption
(and replication where the inventory says); Terraform state versions with the lock table's md5
digest item; ECS services at desired count; SSM deployed-version history; 24 h of healthy Lambda
metrics; log groups; one OK alarm per function.

Deterministic (same inventory, environment and clock start: same rehearsal): ``seed_environment`` is the
one ordered pass over the inventory that the determinism depends on (the call order numbers the
RevisionIds and draws moto's generated ids); the metrics and alarms it seeds are in seed_metrics.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from harness import aws, records
from harness.clock import Clock
from harness.inventory.model import Bucket, Environment, Table
from harness.records import COMPLETE, DeploymentRecord, utc_stamp
from harness.targets.embedded import seed_propie
from harness.targets.embedded.seed_metrics import BASELINE_DURATION_MS as BASELINE_DURATION_MS
from harness.targets.embedded.seed_metrics import BASELINE_INVOCATIONS as BASELINE_INVOCATIONS
from harness.targets.embedded.seed_metrics import LAMBDA_NAMESPACE as LAMBDA_NAMESPACE
from harness.targets.embedded.seed_metrics import METRIC_HOURS as METRIC_HOURS
from harness.targets.embedded.seed_metrics import METRIC_PERIOD as METRIC_PERIOD
from harness.targets.embedded.seed_metrics import _seed_alarms, _seed_metrics
from harness.targets.embedded.seed_metrics import baseline_metrics as baseline_metrics
from harness.targets.embedded.seed_metrics import put_baseline_in_process as put_baseline_in_process
from harness.targets.embedded.seed_metrics import seeded_function_names as seeded_function_names

SAMPLE_HANDLER = Path(__file__).parent / "sample_app" / "handler.py"
RUNTIME = "python3.11"
STACK_TEMPLATE = json.dumps({"Resources": {"RehearsalMarker": {"Type": "AWS::SNS::Topic"}}})


@dataclass
class Seeded:
    """What the seed created, for evidence and for tests that read it all back."""

    functions: dict[str, list[str]] = field(default_factory=dict)  # name -> published versions
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> alias -> version
    tables: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)
    state_objects: list[tuple[str, str]] = field(default_factory=list)
    ecs_services: list[str] = field(default_factory=list)
    ssm_history: list[str] = field(default_factory=list)
    log_groups: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)
    stacks: list[str] = field(default_factory=list)
    calls: int = 0


def release_label(n: int) -> str:
    """The Description a seeded version carries (002 matches rollback targets by Description)."""
    return f"1.0.{n}"


# Zip entries carry a fixed timestamp (the zip epoch): the same release and build give the same bytes and
# CodeSha256 whenever they are seeded (deterministic seeding: two rehearsal reports compare).
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# A RehearsalClock that started less than this ago seeds at its start (--rehearsal-start), not at the
# milliseconds later the seed happens to begin: the same start gives the same names and items.
SEED_AT_START_WITHIN = timedelta(minutes=5)


def _zip_entry(zf: zipfile.ZipFile, name: str, data: str) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def seed_time(clock: Clock) -> datetime:
    """When the rehearsal is seeded: the clock's start (to the second) when it started moments ago, else now."""
    now = clock.now()
    start = getattr(clock, "_origin", None)  # RehearsalClock's start (harness/clock.py keeps it private)
    if isinstance(start, datetime) and timedelta(0) <= now - start < SEED_AT_START_WITHIN:
        now = start
    return now.replace(microsecond=0)


def random_seed(env: Environment, at: datetime, seed: int | None = None) -> int:
    """The seed of moto's generator for this rehearsal: from the inventory, environment and start (or given)."""
    if seed is not None:
        return seed
    text = f"{env.inventory}|{env.name}|{env.account}|{at.isoformat()}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def function_zip(version_label: str, build: str | None = None) -> bytes:
    """A deployment package with the sample handler, stamped with the release label (and the build it
    comes from: each environment's seeded release is its own build, so SIT's 1.0.3 and PROD's 1.0.3
    have different CodeSha256 whatever second they were seeded in; only the zip's 2-second timestamps
    told them apart before, which a fast seed no longer does)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        _zip_entry(zf, "handler.py", SAMPLE_HANDLER.read_text())
        _zip_entry(zf, "RELEASE", version_label)  # distinct bytes, so each version has its own CodeSha256
        if build:
            _zip_entry(zf, "BUILD", build)
    return buf.getvalue()


def seed_environment(target: Any, *, clock: Clock, seed: int | None = None) -> Seeded:
    """Create every resource the inventory names in the target's account; returns what was made.

    Deterministic: the same inventory, environment and clock start give the same code (CodeSha256), names,
    RevisionIds, item contents and moto-generated ids (moto's generator is seeded from them, or from ``seed``)."""
    from moto.moto_api._internal import mock_random

    env: Environment = target.env
    out = Seeded()
    counter = _CallCounter(target)
    now = seed_time(clock)
    mock_random.seed(random_seed(env, now, seed))
    role_arn = _ensure_role(target, env.rehearsal.execution_role, "lambda.amazonaws.com")
    _seed_functions(target, env, role_arn, now, out)
    for table in env.tables:
        _seed_table(target, env, table, now, out)
    for bucket in env.buckets:
        _seed_bucket(target, env, bucket, out)
    if env.terraform:
        _seed_terraform(target, env, now, out)
    if env.ecs:
        _seed_ecs(target, env, out)
    if env.ssm_deployed_version:
        _seed_ssm(target, env, out)
    _seed_metrics(target, env, now, out)
    _seed_alarms(target, env, out)
    with seed_propie.stack_history(target):  # the stacks were deployed before the rehearsal began: settled at once
        for stack in (*env.sam_stacks, *env.cfn_stacks):
            target.client("cloudformation").create_stack(StackName=stack, TemplateBody=STACK_TEMPLATE)
            out.stacks.append(stack)
        seed_propie.seed(
            target, env, now
        )  # 004: Amplify app, branches, builds and domain; stack template history; trigger baseline
    out.calls = counter.stop()
    return out


class _CallCounter:
    """Counts the API calls seeding makes (reported with the seed time)."""

    def __init__(self, target: Any) -> None:
        self.target, self.n = target, 0
        target.add_call_listener(self)

    def __call__(self, *_: Any) -> None:
        self.n += 1

    def stop(self) -> int:
        self.target.remove_call_listener(self)
        return self.n


def _ensure_role(target: Any, name: str, principal: str) -> str:
    iam = target.client("iam")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}],
    }
    try:
        return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(policy))["Role"]["Arn"])
    except iam.exceptions.EntityAlreadyExistsException:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])


def _seed_functions(target: Any, env: Environment, role_arn: str, now: datetime, out: Seeded) -> None:
    lam, logs = target.client("lambda"), target.client("logs")
    n_versions = env.rehearsal.versions_per_function
    stamp = (now - timedelta(days=1)).strftime("%Y%m%d-%H%M%S")
    for name, service in seeded_function_names(env):
        versions: list[str] = []
        for n in range(1, n_versions + 1):
            label = release_label(n)
            code = function_zip(label, build=f"{env.inventory}/{env.name}")
            variables = {"APP_VERSION": label, "HARNESS_ENV": env.name, "SERVICE": service}
            # The table a function reads, from the variable 000 §6.6 switches (inventory dynamodb.tables[].functions).
            variables.update({t.env_var: t.name for t in env.tables if name in t.functions})
            if n == 1:
                lam.create_function(
                    FunctionName=name,
                    Runtime=RUNTIME,
                    Role=role_arn,
                    Handler="handler.handler",
                    Code={"ZipFile": code},
                    Timeout=30,
                    Environment={"Variables": variables},
                )
            else:
                lam.update_function_code(FunctionName=name, ZipFile=code)
                lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
            versions.append(lam.publish_version(FunctionName=name, Description=label)["Version"])
        backup = f"{env.backup_alias_prefix}{stamp}"
        lam.create_alias(
            FunctionName=name,
            Name=env.alias,
            FunctionVersion=versions[-1],
            Description=f"release {release_label(n_versions)}",
        )
        lam.create_alias(
            FunctionName=name,
            Name=backup,
            FunctionVersion=versions[-2],
            Description="backup before last promotion (001 §6.2.1)",
        )
        out.functions[name] = versions
        out.aliases[name] = {env.alias: versions[-1], backup: versions[-2]}
        group = f"{env.log_group_prefix}{name}"
        logs.create_log_group(logGroupName=group)
        out.log_groups.append(group)


def _key_value(attr_type: str, text: str) -> dict[str, Any]:
    # A stable number (str hash() changes per process with PYTHONHASHSEED).
    number = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % 100000
    return {"N": str(number)} if attr_type == "N" else {attr_type: text if attr_type == "S" else text.encode()}


def _sample_items(env: Environment, table: Table, now: datetime) -> list[dict[str, Any]]:
    if table.purpose == "deployments":  # one record per published version, oldest first
        return [_deployment_record(env, table, i, now) for i in range(1, env.rehearsal.versions_per_function + 1)]
    items = []
    for i in range(1, env.rehearsal.sample_items + 1):
        item = {table.hash_key.name: _key_value(table.hash_key.type, f"sample-{i:03d}")}
        if table.range_key:
            item[table.range_key.name] = _key_value(table.range_key.type, "METADATA")
        item["name"] = {"S": f"rehearsal item {i}"}
        item["status"] = {"S": "ACTIVE"}
        items.append(item)
    return items


def _deployment_record(env: Environment, table: Table, i: int, now: datetime) -> dict[str, Any]:
    """The i-th seeded deployment, in the table's schema (001 §6.3.2 flat or 002 §4 PK/SK + GSI1)."""
    at = now - timedelta(days=env.rehearsal.versions_per_function - i)
    record = DeploymentRecord(
        record_id=f"deploy-{i:04d}",
        action="deploy",
        environment=env.name,
        timestamp=utc_stamp(at),
        from_version=release_label(max(i - 1, 1)),
        to_version=release_label(i),
        status=COMPLETE if records.is_pksk(table) else None,
        actor="rehearsal-seed",
        reason="seeded deployment history",
    )
    return records.to_item(table, record)


def _seed_table(target: Any, env: Environment, table: Table, now: datetime, out: Seeded) -> None:
    ddb = target.client("dynamodb")
    attrs = {table.hash_key.name: table.hash_key.type}
    keys = [{"AttributeName": table.hash_key.name, "KeyType": "HASH"}]
    if table.range_key:
        attrs[table.range_key.name] = table.range_key.type
        keys.append({"AttributeName": table.range_key.name, "KeyType": "RANGE"})
    gsis = []
    for ix in table.indexes:
        attrs[ix.hash_key.name] = ix.hash_key.type
        ks = [{"AttributeName": ix.hash_key.name, "KeyType": "HASH"}]
        if ix.range_key:
            attrs[ix.range_key.name] = ix.range_key.type
            ks.append({"AttributeName": ix.range_key.name, "KeyType": "RANGE"})
        gsis.append({"IndexName": ix.name, "KeySchema": ks, "Projection": {"ProjectionType": "ALL"}})
    kwargs: dict[str, Any] = {
        "TableName": table.name,
        "KeySchema": keys,
        "AttributeDefinitions": [{"AttributeName": k, "AttributeType": v} for k, v in attrs.items()],
    }
    if gsis:
        kwargs["GlobalSecondaryIndexes"] = gsis
    if table.billing_mode == "PROVISIONED":
        kwargs["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        if gsis:
            for g in gsis:
                g["ProvisionedThroughput"] = kwargs["ProvisionedThroughput"]
    else:
        kwargs["BillingMode"] = "PAY_PER_REQUEST"
    ddb.create_table(**kwargs)
    if table.pitr in ("required", "recommended"):
        ddb.update_continuous_backups(
            TableName=table.name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    items = _sample_items(env, table, now)
    aws.batch_write(ddb, table.name, puts=items)
    out.tables.append(table.name)


def _create_bucket(target: Any, name: str, region: str) -> Any:
    s3 = target.client("s3", region)
    kwargs: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)
    return s3


def _harden_bucket(s3: Any, name: str, versioning: bool, pab: bool, encryption: str | None) -> None:
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if pab:
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
    if encryption:
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": encryption}}]
            },
        )


def _seed_bucket(target: Any, env: Environment, bucket: Bucket, out: Seeded) -> None:
    s3 = _create_bucket(target, bucket.name, env.region)
    _harden_bucket(s3, bucket.name, bucket.versioning, bucket.public_access_block, bucket.encryption)
    s3.put_object(Bucket=bucket.name, Key="rehearsal/README.txt", Body=b"seeded by runbook-harness\n")
    out.buckets.append(bucket.name)
    if bucket.replication_destination and bucket.replication_region:
        dest = _create_bucket(target, bucket.replication_destination, bucket.replication_region)
        _harden_bucket(dest, bucket.replication_destination, True, True, bucket.encryption)
        out.buckets.append(bucket.replication_destination)
        role = _ensure_role(target, f"{env.rehearsal.execution_role}-s3-replication", "s3.amazonaws.com")
        s3.put_bucket_replication(
            Bucket=bucket.name,
            ReplicationConfiguration={
                "Role": role,
                "Rules": [
                    {
                        "ID": "failover",
                        "Status": "Enabled",
                        "Priority": 1,
                        "Filter": {"Prefix": ""},
                        "DeleteMarkerReplication": {"Status": "Disabled"},
                        "Destination": {"Bucket": f"arn:aws:s3:::{bucket.replication_destination}"},
                    }
                ],
            },
        )


def terraform_state(serial: int, lineage: str, key: str) -> bytes:
    """A valid Terraform (format 4) state document with one ``terraform_data`` resource."""
    doc = {
        "version": 4,
        "terraform_version": "1.15.5",
        "serial": serial,
        "lineage": lineage,
        "outputs": {"release": {"value": release_label(serial), "type": "string"}},
        "resources": [
            {
                "mode": "managed",
                "type": "terraform_data",
                "name": "release",
                "provider": 'provider["terraform.io/builtin/terraform"]',
                "instances": [
                    {
                        "schema_version": 0,
                        "attributes": {"id": f"{lineage[:8]}-{serial}", "input": {"value": key, "type": "string"}},
                        "sensitive_attributes": [],
                    }
                ],
            }
        ],
        "check_results": None,
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


def _seed_terraform(target: Any, env: Environment, now: datetime, out: Seeded) -> None:
    tf = env.terraform
    assert tf is not None
    s3 = _create_bucket(target, tf.state_bucket, env.region)
    _harden_bucket(s3, tf.state_bucket, True, True, "AES256")
    out.buckets.append(tf.state_bucket)
    ddb = target.client("dynamodb")
    if tf.lock_table:
        ddb.create_table(
            TableName=tf.lock_table,
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        out.tables.append(tf.lock_table)
    for key in tf.state_keys:
        lineage = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tf.state_bucket}/{key}"))
        body = b""
        for serial in range(1, env.rehearsal.state_versions + 1):
            body = terraform_state(serial, lineage, key)
            s3.put_object(Bucket=tf.state_bucket, Key=key, Body=body, ContentType="application/json")
        if tf.lock_table:
            # Terraform's S3 backend keeps the state's md5 here (000 §5.2.2 forgets it: seed defect 2).
            ddb.put_item(
                TableName=tf.lock_table,
                Item={"LockID": {"S": f"{tf.state_bucket}/{key}-md5"}, "Digest": {"S": hashlib.md5(body).hexdigest()}},
            )
        out.state_objects.append((tf.state_bucket, key))


def _seed_ecs(target: Any, env: Environment, out: Seeded) -> None:
    ecs_cfg = env.ecs
    assert ecs_cfg is not None
    ecs = target.client("ecs")
    ecs.create_cluster(clusterName=ecs_cfg.cluster)
    for service in ecs_cfg.services:
        td = ecs.register_task_definition(
            family=service,
            containerDefinitions=[{"name": "wordpress", "image": "wordpress:latest", "memory": 512, "essential": True}],
        )["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(
            cluster=ecs_cfg.cluster, serviceName=service, taskDefinition=td, desiredCount=ecs_cfg.desired_count
        )
        out.ecs_services.append(service)
    # Running counts go through the target's own ECS handle (its clock stamps the tasks). Without the
    # fidelity extensions (EmbeddedTarget(fidelity=False)) plain moto stays plain: its services start
    # no tasks and report runningCount 0 (or MOTO_ECS_SERVICE_RUNNING), which is what moto alone shows.
    handle = getattr(getattr(target, "extensions", None), "ecs", None)
    if handle is None:
        return
    for service in ecs_cfg.services:
        handle.set_running_count(ecs_cfg.cluster, service, ecs_cfg.desired_count)


def _seed_ssm(target: Any, env: Environment, out: Seeded) -> None:
    ssm = target.client("ssm")
    name = env.ssm_deployed_version
    for n in range(1, env.rehearsal.versions_per_function + 1):
        ssm.put_parameter(Name=name, Value=release_label(n), Type="String", Overwrite=n > 1)
        out.ssm_history.append(release_label(n))
