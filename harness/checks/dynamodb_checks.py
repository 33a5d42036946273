"""DynamoDB rows: data readable (000 §7.4), PITR (000 §6.7), table ACTIVE, billing mode and a
write-read of one uniquely keyed test item that is always deleted (003 §7).

003 §7 writes a fixed key (``test-site-001``) that could overwrite a real item and collide with a
parallel run; here the key is unique per run and the put is conditional on the key being absent.
"""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import ClientError

from harness import aws
from harness.checks.context import CheckContext, Row
from harness.checks.result import CheckResult, Verdict
from harness.checks.write_read import Probe
from harness.inventory.model import Table
from harness.inventory.schema import KeyAttr

TEST_ITEM_PREFIX = "harness-write-read-"
MARKER_ATTR = "harness_write_read"


def _describe(ctx: CheckContext, table: Table) -> dict[str, Any] | None:
    """DescribeTable once per run (table-active, billing-mode and reads share it); None if missing."""
    key = f"describe-table:{table.name}"
    if key not in ctx.cache:
        found = aws.get_or_none(
            ctx.client("dynamodb").describe_table, "ResourceNotFoundException", TableName=table.name
        )
        ctx.cache[key] = found["Table"] if found else None
    description: dict[str, Any] | None = ctx.cache[key]
    return description


def check_reads(ctx: CheckContext, row: Row) -> CheckResult:
    """A sample item can be read back with a key query (000 §7.4 "Sample queries: data accessible")."""
    table: Table = row.item
    expected = "a sample item is read back by a key query (data accessible)"
    desc = _describe(ctx, table)
    if desc is None:
        return row.result(expected, f"table {table.name} not found", Verdict.FAIL)
    ddb = ctx.client("dynamodb")
    scan = ddb.scan(TableName=table.name, Limit=1)
    items = scan.get("Items", [])
    if not items:
        return row.result(
            expected,
            "table is readable but holds no item: no data accessible",
            Verdict.FAIL,
            scanned=scan.get("ScannedCount", 0),
        )
    keys = {k["KeyType"]: k["AttributeName"] for k in desc["KeySchema"]}
    names = {"#h": keys["HASH"]}
    values = {":h": items[0][keys["HASH"]]}
    cond = "#h = :h"
    if "RANGE" in keys:
        names["#r"], values[":r"] = keys["RANGE"], items[0][keys["RANGE"]]
        cond += " AND #r = :r"
    q = ddb.query(
        TableName=table.name,
        KeyConditionExpression=cond,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )
    key = aws.from_item({k: items[0][k] for k in keys.values()})
    evidence = {"key_schema": desc["KeySchema"], "sample_key": key, "query_count": q.get("Count", 0)}
    if not q.get("Count"):
        return row.result(expected, f"query for {key} returned nothing", Verdict.FAIL, **evidence)
    return row.result(expected, f"query for {key} returned {q['Count']} item(s)", Verdict.PASS, **evidence)


def check_pitr(ctx: CheckContext, row: Row) -> CheckResult:
    """Point-in-time recovery is ENABLED: required tables FAIL without it, recommended ones WARN (000 §6.7)."""
    table: Table = row.item
    expected = f"PITR ENABLED ({table.pitr})"
    try:
        desc = ctx.client("dynamodb").describe_continuous_backups(TableName=table.name)["ContinuousBackupsDescription"]
    except ClientError as exc:
        if aws.is_not_found(exc, "TableNotFoundException", "ResourceNotFoundException"):
            return row.result(expected, f"table {table.name} not found", Verdict.FAIL)
        raise
    pitr = desc.get("PointInTimeRecoveryDescription", {})
    status = pitr.get("PointInTimeRecoveryStatus", "DISABLED")
    evidence = {k: str(v) for k, v in pitr.items()}
    if status == "ENABLED":
        return row.result(expected, f"PITR {status}", Verdict.PASS, **evidence)
    return row.result(
        expected, f"PITR {status}", Verdict.FAIL if table.pitr == "required" else Verdict.WARN, **evidence
    )


def check_table_active(ctx: CheckContext, row: Row) -> CheckResult:
    """The table exists and is ACTIVE (003 §7 "DynamoDB tables created successfully")."""
    table: Table = row.item
    desc = _describe(ctx, table)
    if desc is None:
        return row.result("table exists, status ACTIVE", f"table {table.name} not found", Verdict.FAIL)
    status = desc.get("TableStatus")
    evidence = {"TableStatus": status, "KeySchema": desc.get("KeySchema"), "ItemCount": desc.get("ItemCount")}
    return row.result(
        "table exists, status ACTIVE",
        f"status {status}",
        Verdict.PASS if status == "ACTIVE" else Verdict.FAIL,
        **evidence,
    )


def check_billing_mode(ctx: CheckContext, row: Row) -> CheckResult:
    """BillingModeSummary.BillingMode is the inventory's (003 §7 "Expected: BillingMode: PAY_PER_REQUEST")."""
    table: Table = row.item
    expected = f"BillingMode {table.billing_mode}"
    desc = _describe(ctx, table)
    if desc is None:
        return row.result(expected, f"table {table.name} not found", Verdict.FAIL)
    # Tables created PROVISIONED never had the summary: absent means PROVISIONED.
    mode = (desc.get("BillingModeSummary") or {}).get("BillingMode") or "PROVISIONED"
    evidence = {
        "BillingModeSummary": desc.get("BillingModeSummary"),
        "ProvisionedThroughput": desc.get("ProvisionedThroughput"),
    }
    return row.result(
        expected, f"BillingMode {mode}", Verdict.PASS if mode == table.billing_mode else Verdict.FAIL, **evidence
    )


def _attr(attr: KeyAttr, uid: uuid.UUID) -> dict[str, Any]:
    if attr.type == "N":
        return {"N": str(uid.int % 10**15)}
    if attr.type == "B":
        return {"B": f"{TEST_ITEM_PREFIX}{uid}".encode()}
    return {"S": f"{TEST_ITEM_PREFIX}{uid}"}


def check_write_read(ctx: CheckContext, row: Row) -> CheckResult:
    """Put one uniquely keyed test item, read it back consistently, always delete it (003 §7)."""
    table: Table = row.item
    uid = uuid.uuid4()
    token = f"{TEST_ITEM_PREFIX}{uid}"
    key = {table.hash_key.name: _attr(table.hash_key, uid)}
    if table.range_key:
        key[table.range_key.name] = _attr(table.range_key, uid)
    expected = "test item written, read back identical, deleted"
    evidence: dict[str, Any] = {"table": table.name, "key": aws.from_item(key)}
    ddb = ctx.client("dynamodb")
    written = False
    probe = Probe()
    try:
        ddb.put_item(
            TableName=table.name,
            Item={**key, MARKER_ATTR: {"S": token}},
            ConditionExpression="attribute_not_exists(#h)",  # never overwrite a real item
            ExpressionAttributeNames={"#h": table.hash_key.name},
        )
        written = True
        got = ddb.get_item(TableName=table.name, Key=key, ConsistentRead=True).get("Item")
        read_back = aws.from_item(got or {}).get(MARKER_ATTR)
        evidence["read_back"] = read_back
        if read_back != token:
            probe.problem(f"read back {read_back!r} instead of the written marker")
    except ClientError as exc:
        evidence["error"] = str(exc)
        probe.problem(f"{'read' if written else 'write'} failed: {aws.error_code(exc)}: {aws.error_message(exc)}", exc)
    finally:
        if written:
            try:
                ddb.delete_item(TableName=table.name, Key=key)
                evidence["deleted"] = True
            except ClientError as exc:  # the test item must not stay behind unnoticed
                evidence.update(deleted=False, delete_error=str(exc))
                probe.problem(f"test item {evidence['key']} could not be deleted: {aws.error_code(exc)}", exc)
    return probe.result(row, expected, "written, read back identical, deleted", evidence)
