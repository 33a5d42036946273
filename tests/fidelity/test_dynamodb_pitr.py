"""RestoreTableToPointInTime returns the past (moto copies the current items), with AWS's errors."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import dynamodb_backends

from harness.clock import FixedClock
from harness.targets.embedded.fidelity import dynamodb_pitr
from tests.fidelity.conftest import start_target

_names = itertools.count()


@dataclass
class History:
    """A table with a known write history on the module's target."""

    target: object
    ddb: object
    clock: FixedClock
    table: str
    times: tuple  # (T0, T1, T2)


MINUTE = timedelta(minutes=1)


def create_table(ddb, name: str, pitr: bool = True) -> None:
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-status",
                "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        Tags=[{"Key": "owner", "Value": "bbws"}],
    )
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    if pitr:
        ddb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )


def item(key: str, status: str) -> dict:
    return {"id": {"S": key}, "status": {"S": status}}


def contents(ddb, name: str) -> dict[str, str]:
    return {i["id"]["S"]: i["status"]["S"] for i in ddb.scan(TableName=name)["Items"]}


@pytest.fixture(scope="module")
def pitr_target():
    """One unseeded target for the module; its clock only moves forward, each test has its own table."""
    clock = FixedClock(datetime.now(timezone.utc).replace(microsecond=0))  # the wire carries milliseconds
    target = start_target(seed=False, clock=clock)
    yield target
    target.close()


@pytest.fixture
def history(pitr_target) -> History:
    """Items written at T0, changed and deleted at T1, added at T2 (every write path), clock then +10 min."""
    target, clock = pitr_target, pitr_target.clock
    ddb = target.client("dynamodb")
    table = f"t-{next(_names)}"
    create_table(ddb, table)
    t0 = clock.now()
    ddb.batch_write_item(
        RequestItems={table: [{"PutRequest": {"Item": item(k, "ACTIVE")}} for k in ("a", "b", "c", "d")]}
    )
    t1 = clock.advance(minutes=10)
    ddb.update_item(
        TableName=table,
        Key={"id": {"S": "a"}},
        UpdateExpression="SET #s = :v",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":v": {"S": "CORRUPTED"}},
    )
    ddb.put_item(TableName=table, Item=item("b", "OVERWRITTEN"))
    ddb.delete_item(TableName=table, Key={"id": {"S": "c"}})
    ddb.transact_write_items(TransactItems=[{"Delete": {"TableName": table, "Key": {"id": {"S": "d"}}}}])
    t2 = clock.advance(minutes=10)
    ddb.put_item(TableName=table, Item=item("e", "NEW"))
    ddb.execute_statement(Statement=f"INSERT INTO \"{table}\" VALUE {{'id': 'f', 'status': 'NEW'}}")
    clock.advance(minutes=10)
    return History(target, ddb, clock, table, (t0, t1, t2))


def wait_restored(history: History, name: str) -> timedelta:
    """Poll DescribeTable every 20 s of the target's clock (table_exists' delay) until ACTIVE; how long it took."""
    began = history.clock.now()
    while history.ddb.describe_table(TableName=name)["Table"]["TableStatus"] != "ACTIVE":
        assert history.clock.now() - began < timedelta(hours=2), f"{name} never became ACTIVE"
        history.clock.advance(seconds=20)
    return history.clock.now() - began


def test_restore_between_t0_and_t1_holds_exactly_the_t0_items(history):
    ddb, table = history.ddb, history.table
    t0, t1, _ = history.times
    ddb.restore_table_to_point_in_time(
        SourceTableName=table, TargetTableName=f"{table}-r0", RestoreDateTime=t0 + 5 * MINUTE
    )
    wait_restored(history, f"{table}-r0")
    assert contents(ddb, f"{table}-r0") == {"a": "ACTIVE", "b": "ACTIVE", "c": "ACTIVE", "d": "ACTIVE"}
    assert contents(ddb, table) == {"a": "CORRUPTED", "b": "OVERWRITTEN", "e": "NEW", "f": "NEW"}


def test_restore_between_t1_and_t2_and_to_the_latest_time(history):
    ddb, table = history.ddb, history.table
    _, t1, t2 = history.times
    clock = history.clock
    ddb.restore_table_to_point_in_time(
        SourceTableName=table, TargetTableName=f"{table}-r1", RestoreDateTime=t1 + MINUTE
    )
    wait_restored(history, f"{table}-r1")
    assert contents(ddb, f"{table}-r1") == {"a": "CORRUPTED", "b": "OVERWRITTEN"}
    latest = clock.now() - timedelta(minutes=5)
    ddb.restore_table_to_point_in_time(
        SourceTableName=table, TargetTableName=f"{table}-rl", UseLatestRestorableTime=True
    )
    wait_restored(history, f"{table}-rl")
    restored = ddb.describe_table(TableName=f"{table}-rl")["Table"]
    assert contents(ddb, f"{table}-rl") == contents(ddb, table)  # latest = now - 5 min, after T2
    assert restored["RestoreSummary"]["RestoreDateTime"] == latest


def test_a_restore_takes_the_time_aws_takes(history):
    """https://repost.aws/knowledge-center/dynamodb-restore-taking-long ("at least 20 minutes no matter the size
    of the table"), https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_RestoreSummary.html
    (RestoreInProgress), https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_GetItem.html
    (ResourceNotFoundException: "its status might not be ACTIVE"): CREATING, then ACTIVE on the target's clock."""
    ddb, table = history.ddb, history.table
    desc = ddb.restore_table_to_point_in_time(
        SourceTableName=table, TargetTableName=f"{table}-rt", UseLatestRestorableTime=True
    )["TableDescription"]
    assert desc["TableStatus"] == "CREATING" and desc["RestoreSummary"]["RestoreInProgress"] is True
    described = ddb.describe_table(TableName=f"{table}-rt")["Table"]
    assert described["TableStatus"] == "CREATING" and described["RestoreSummary"]["RestoreInProgress"] is True
    for read in (
        lambda: ddb.scan(TableName=f"{table}-rt"),
        lambda: ddb.get_item(TableName=f"{table}-rt", Key={"id": {"S": "a"}}),
        lambda: ddb.put_item(TableName=f"{table}-rt", Item=item("z", "EARLY")),
    ):
        with pytest.raises(ddb.exceptions.ResourceNotFoundException):
            read()
    took = wait_restored(history, f"{table}-rt")
    assert timedelta(minutes=20) <= took < timedelta(minutes=21)
    assert ddb.describe_table(TableName=f"{table}-rt")["Table"]["RestoreSummary"]["RestoreInProgress"] is False
    assert contents(ddb, f"{table}-rt") == contents(ddb, table)


def test_restore_duration_grows_with_the_items():
    """The modelled duration (README fidelity table): 20 min minimum, growing with the item count."""
    from harness.targets.embedded.fidelity.dynamodb_pitr import restore_duration

    assert restore_duration(0) == timedelta(minutes=20)
    assert restore_duration(10_000_000) > restore_duration(100_000) > restore_duration(0)


def test_restored_table_keeps_schema_but_not_pitr_ttl_tags_or_streams(history):
    ddb, table = history.ddb, history.table
    t0, _, _ = history.times
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    desc = ddb.restore_table_to_point_in_time(SourceTableArn=arn, TargetTableName=f"{table}-rs", RestoreDateTime=t0)[
        "TableDescription"
    ]
    assert desc["RestoreSummary"]["SourceTableArn"] == arn and desc["RestoreSummary"]["RestoreDateTime"] == t0
    assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [i["IndexName"] for i in desc["GlobalSecondaryIndexes"]] == ["by-status"]
    assert "StreamSpecification" not in desc and "LatestStreamArn" not in desc
    backups = ddb.describe_continuous_backups(TableName=f"{table}-rs")["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"
    assert ddb.describe_time_to_live(TableName=f"{table}-rs")["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"
    assert ddb.list_tags_of_resource(ResourceArn=desc["TableArn"])["Tags"] == []


def test_latest_restorable_time_moves_with_the_clock(history):
    ddb, table = history.ddb, history.table
    t0, _, _ = history.times
    clock = history.clock
    first = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"
    ]
    clock.advance(minutes=7)
    second = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"
    ]
    assert first["EarliestRestorableDateTime"] == second["EarliestRestorableDateTime"] == t0
    assert second["LatestRestorableDateTime"] - first["LatestRestorableDateTime"] == timedelta(minutes=7)
    assert second["LatestRestorableDateTime"] == clock.now() - timedelta(minutes=5)  # "typically 5 minutes before"


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("pitr-disabled", "PointInTimeRecoveryUnavailableException"),
        ("before-earliest", "InvalidRestoreTimeException"),
        ("after-latest", "InvalidRestoreTimeException"),
        ("target-exists", "TableAlreadyExistsException"),
        ("source-missing", "TableNotFoundException"),
    ],
)
def test_aws_errors(history, case, code):
    ddb, table = history.ddb, history.table
    t0, _, _ = history.times
    clock = history.clock
    create_table(ddb, f"{table}-no-pitr", pitr=False)
    kwargs = {
        "pitr-disabled": {
            "SourceTableName": f"{table}-no-pitr",
            "TargetTableName": f"{table}-x",
            "UseLatestRestorableTime": True,
        },
        "before-earliest": {"SourceTableName": table, "TargetTableName": f"{table}-x", "RestoreDateTime": t0 - MINUTE},
        "after-latest": {
            "SourceTableName": table,
            "TargetTableName": f"{table}-x",
            "RestoreDateTime": clock.now() - MINUTE,
        },
        "target-exists": {"SourceTableName": table, "TargetTableName": f"{table}-no-pitr", "RestoreDateTime": t0},
        "source-missing": {"SourceTableName": "missing", "TargetTableName": f"{table}-x", "RestoreDateTime": t0},
    }[case]
    with pytest.raises(ClientError) as err:
        ddb.restore_table_to_point_in_time(**kwargs)
    assert err.value.response["Error"]["Code"] == code
    assert f"{table}-x" not in ddb.list_tables()["TableNames"]


def test_history_grows_with_writes_and_goes_with_pitr(history):
    target, ddb, table = history.target, history.ddb, history.table
    model = dynamodb_backends[target.env.account][target.env.region].tables[table]
    hist = dynamodb_pitr.history(model)
    assert len(hist.writes) == 10  # 4 batch puts, update, put, delete, transact delete, put, PartiQL insert
    ddb.scan(TableName=table)
    assert len(hist.writes) == 10  # reads cost nothing
    ddb.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )
    assert dynamodb_pitr.history(model) is None  # disabling PITR discards the continuous backups


def test_a_failed_transaction_leaves_no_history(history):
    target, ddb, table = history.target, history.ddb, history.table
    backend = dynamodb_backends[target.env.account][target.env.region]
    before = len(dynamodb_pitr.history(backend.tables[table]).writes)
    with pytest.raises(ClientError):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": item("g", "NEW")}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": item("a", "X"),
                        "ConditionExpression": "attribute_not_exists(id)",
                    }
                },
            ]
        )
    assert len(dynamodb_pitr.history(backend.tables[table]).writes) == before and "g" not in contents(ddb, table)


def test_seeded_tables_have_pitr_as_the_inventory_says(seeded_sit):
    ddb = seeded_sit.client("dynamodb")
    for table in seeded_sit.env.tables:
        if table.name.startswith("bbws-terraform"):
            continue
        status = ddb.describe_continuous_backups(TableName=table.name)["ContinuousBackupsDescription"][
            "PointInTimeRecoveryDescription"
        ]
        assert (status["PointInTimeRecoveryStatus"] == "ENABLED") == (table.pitr in ("required", "recommended"))
