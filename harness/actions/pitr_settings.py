"""What a PITR restore does not carry from its source (AWS: PITR, TTL, tags and streams; 000 §6.7 requires
PITR on the tables), read from the source and re-applied to the restored table when asked (``--reapply``).
"""

from __future__ import annotations

from typing import Any

from harness import aws
from harness.targets.base import TargetLike


def carried_off(
    target: TargetLike, source: str, source_arn: str, stream: dict[str, Any] | None
) -> list[tuple[str, Any]]:
    """What a restore does not carry and the source has: (setting, value) for PITR, TTL, tags, streams."""
    ddb = target.client("dynamodb")
    out: list[tuple[str, Any]] = []
    desc = ddb.describe_continuous_backups(TableName=source)["ContinuousBackupsDescription"]
    pitr = desc.get("PointInTimeRecoveryDescription") or {}
    if pitr.get("PointInTimeRecoveryStatus") == "ENABLED":
        days = pitr.get("RecoveryPeriodInDays")
        out.append(
            (
                "PointInTimeRecovery",
                {"PointInTimeRecoveryEnabled": True, **({"RecoveryPeriodInDays": days} if days else {})},
            )
        )
    ttl = ddb.describe_time_to_live(TableName=source).get("TimeToLiveDescription") or {}
    if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and ttl.get("AttributeName"):
        out.append(("TimeToLive", {"Enabled": True, "AttributeName": ttl["AttributeName"]}))
    tags = list(aws.paginate(ddb, "list_tags_of_resource", "Tags", ResourceArn=source_arn))
    if tags:
        out.append(("Tags", tags))
    if stream and stream.get("StreamEnabled"):
        out.append(("StreamSpecification", {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}))
    return out


def short(value: Any) -> str:
    """A setting's value in a plan line (``Key=Value, ...``)."""
    if isinstance(value, list):
        return ", ".join(f"{t.get('Key')}={t.get('Value')}" for t in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def reapply_setting(target: TargetLike, name: str, arn: str, setting: str, value: Any) -> None:
    """Apply one setting ``carried_off`` listed to the restored table ``name``."""
    ddb = target.client("dynamodb")
    if setting == "PointInTimeRecovery":
        ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification=value)
    elif setting == "TimeToLive":
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=value)
    elif setting == "Tags":
        ddb.tag_resource(ResourceArn=arn, Tags=value)
    elif setting == "StreamSpecification":
        ddb.update_table(TableName=name, StreamSpecification=value)
        aws.wait(ddb, "table_exists", aws.waiter_config_of(target), TableName=name)
    else:  # pragma: no cover - the plan only lists the four above
        raise ValueError(f"unknown setting {setting}")
