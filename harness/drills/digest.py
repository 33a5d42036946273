"""The environment digest: what "back to its seeded state" means for the checklist, as one comparable value.

A drill takes the digest of its environment before the steady state and again after its cleanup; any
difference fails the drill. The digest covers everything a checklist row reads as the environment's
*state*, and leaves out what a recovery legitimately leaves behind:

| part | in the digest | left out (legitimate leftovers of a recovery) |
|---|---|---|
| Lambda (every function of the inventory) | the serving alias: version, weighted routing; that version's code hash, release label (Description) and variables; ``$LATEST``'s code hash and variables (a table switch refuses while ``$LATEST`` differs, 000 §6.6) | other aliases (``rollback-checkpoint-*``, ``backup-*``, ``incident-*``: 000 §4.2.4, 001 §6.2.1, §6.3.2), versions no alias serves |
| DynamoDB (inventory tables) | each table's items (key -> sha256; on disposable targets only: no full scans of a real account's tables), PITR status; which tables exist beyond the inventory's | the deployments table's items (audit records of every action, 001 §6.3.2 step 7), on-demand backups |
| S3 (inventory buckets) | versioning status, the four public-access-block flags, default encryption | object versions (history) |
| Terraform | each state key's current content (sha256), the lock table's Digest items, held locks (DynamoDB items and ``.tflock`` objects) | older state versions and ``<key>.backup-<ts>`` copies (000 §5.2.2 backups) |
| ECS | desired and running count per service | task ids and service events |
| CloudWatch | alarm states | metric datapoints and log events (history: they age out of the windows) |
| SSM | the deployed-version parameter's value (002) | its history |
"""  # noqa: E501 (markdown table rows cannot wrap)

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

from harness import aws
from harness.actions import lambda_versions as lv
from harness.data_verify import table_digests
from harness.targets.base import TargetLike
from harness.tf_lock_format import DIGEST_SUFFIX, LOCKFILE_SUFFIX


def _sha(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _lambda(target: TargetLike) -> dict[str, Any]:
    env, lam = target.env, target.client("lambda")
    out: dict[str, Any] = {}
    for fn, _service in lv.service_functions(env, None, lam):
        state = aws.get_or_none(lv.served_state, *lv.NOT_FOUND, lam=lam, fn=fn, alias=env.alias)
        if state is None:
            out[fn] = {"alias": None}
            continue
        served, latest = state.served, state.latest
        out[fn] = {
            "alias": state.version,
            "routing": state.weights,
            "served": {
                "code": served.get("CodeSha256"),
                "label": served.get("Description") or "",
                "variables": lv.env_variables(served),
            },
            "latest": {"code": latest.get("CodeSha256"), "variables": lv.env_variables(latest)},
        }
    return out


def _tables(target: TargetLike, items: bool) -> dict[str, Any]:
    env, ddb = target.env, target.client("dynamodb")
    out: dict[str, Any] = {}
    for t in env.tables:
        if aws.get_or_none(ddb.describe_table, "ResourceNotFoundException", TableName=t.name) is None:
            out[t.name] = None
            continue
        pitr = (
            ddb.describe_continuous_backups(TableName=t.name)["ContinuousBackupsDescription"].get(
                "PointInTimeRecoveryDescription"
            )
            or {}
        )
        entry: dict[str, Any] = {"pitr": pitr.get("PointInTimeRecoveryStatus")}
        if t.purpose != "deployments" and items:
            found = table_digests(ddb, t.name, segments=1).items
            entry.update(count=len(found), items=_sha(found))
        out[t.name] = entry
    known = {t.name for t in env.tables} | (
        {env.terraform.lock_table} if env.terraform and env.terraform.lock_table else set()
    )
    out["(other tables)"] = sorted(n for n in aws.paginate(ddb, "list_tables", "TableNames") if n not in known)
    return out


def _buckets(target: TargetLike) -> dict[str, Any]:
    s3 = target.client("s3")
    out: dict[str, Any] = {}
    for b in target.env.buckets:
        if aws.get_or_none(s3.head_bucket, "404", "NoSuchBucket", Bucket=b.name) is None:
            out[b.name] = None
            continue
        pab = aws.get_or_none(s3.get_public_access_block, "NoSuchPublicAccessBlockConfiguration", Bucket=b.name)
        enc = aws.get_or_none(s3.get_bucket_encryption, "ServerSideEncryptionConfigurationNotFoundError", Bucket=b.name)
        out[b.name] = {
            "versioning": s3.get_bucket_versioning(Bucket=b.name).get("Status"),
            "public_access_block": (pab or {}).get("PublicAccessBlockConfiguration"),
            "encryption": (enc or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules"),
        }
    return out


def _terraform(target: TargetLike) -> dict[str, Any] | None:
    tf = target.env.terraform
    if tf is None:
        return None
    s3 = target.client("s3")
    out: dict[str, Any] = {"state": {}, "lockfiles": []}
    for key in tf.state_keys:
        got = aws.get_or_none(s3.get_object, "NoSuchKey", Bucket=tf.state_bucket, Key=key)
        out["state"][key] = hashlib.sha256(got["Body"].read()).hexdigest() if got else None
    keys = aws.paginate(s3, "list_objects_v2", "Contents", Bucket=tf.state_bucket)
    out["lockfiles"] = sorted(o["Key"] for o in keys if o["Key"].endswith(LOCKFILE_SUFFIX))
    if tf.lock_table:
        items = list(aws.scan_items(target.client("dynamodb"), tf.lock_table))
        out["digests"] = {
            i["LockID"]["S"]: i.get("Digest", {}).get("S") for i in items if i["LockID"]["S"].endswith(DIGEST_SUFFIX)
        }
        out["locks"] = sorted(i["LockID"]["S"] for i in items if not i["LockID"]["S"].endswith(DIGEST_SUFFIX))
    return out


def _ecs(target: TargetLike) -> dict[str, Any] | None:
    ecs = target.env.ecs
    if ecs is None or not target.supports("ecs"):
        return None
    client = target.client("ecs")
    out: dict[str, Any] = {}
    names = list(ecs.services)
    for i in range(0, len(names), 10):  # DescribeServices takes 10 services per call
        for svc in client.describe_services(cluster=ecs.cluster, services=names[i : i + 10]).get("services", []):
            out[svc["serviceName"]] = {"desired": svc.get("desiredCount"), "running": svc.get("runningCount")}
    return out


def _alarms(target: TargetLike) -> dict[str, str]:
    prefix = target.env.alarm_prefix
    found = aws.paginate(
        target.client("cloudwatch"),
        "describe_alarms",
        "MetricAlarms",
        **({"AlarmNamePrefix": prefix} if prefix else {}),
    )
    return {a["AlarmName"]: a.get("StateValue") for a in found}


def _ssm(target: TargetLike) -> str | None:
    name = target.env.ssm_deployed_version
    if not name:
        return None
    got = aws.get_or_none(target.client("ssm").get_parameter, "ParameterNotFound", Name=name)
    return got["Parameter"]["Value"] if got else None


def environment_digest(target: TargetLike, *, items: bool | None = None) -> dict[str, Any]:
    """The checklist-relevant state of ``target``'s environment (module docstring: what is in, what is out).

    ``items`` (default: only on a disposable target) digests every item of every inventory table: two full scans
    per drill are nothing on a rehearsal and too much on a real account's tables, where the digest keeps the rest.
    """
    items = bool(getattr(target, "disposable", False)) if items is None else items
    return {
        "lambda": _lambda(target),
        "dynamodb": _tables(target, items),
        "s3": _buckets(target),
        "terraform": _terraform(target),
        "ecs": _ecs(target),
        "alarms": _alarms(target),
        "ssm": _ssm(target),
    }


def differences(before: Mapping[str, Any], after: Mapping[str, Any], path: str = "") -> list[str]:
    """Every leaf that differs, as ``lambda.fn.alias: '3' -> '4'`` lines."""
    out: list[str] = []
    for key in sorted(set(before) | set(after), key=str):
        here = f"{path}.{key}" if path else str(key)
        a, b = before.get(key), after.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += differences(a, b, here)
        elif a != b:
            out.append(f"{here}: {_short(a)} -> {_short(b)}")
    return out


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 120 else text[:117] + "..."
