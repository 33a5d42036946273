"""The shared AWS idioms (harness/aws.py) and the record codec (harness/records.py) on their own: typed items
round-trip losslessly, numbers stay numbers, batch calls resend what DynamoDB left unprocessed and give up
loudly, and a record written in either runbook's shape (001 §6.3.2 flat, 002 §4 PK/SK) reads back equal."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from harness import aws
from harness.inventory import load_inventory
from harness.records import DeploymentRecord, FunctionChange, from_item, parse_stamp, to_item, utc_stamp


def test_items_round_trip_with_numbers_as_numbers() -> None:
    values = {"n": 3, "f": 1.5, "s": "x", "b": True, "l": [1, "a"], "m": {"k": 2.25}, "ss": {"a", "b"}, "none": None}
    item = aws.to_item(values)
    assert item["n"] == {"N": "3"} and item["f"] == {"N": "1.5"} and "none" not in item
    back = aws.from_item(item)
    assert back == {"n": 3, "f": 1.5, "s": "x", "b": True, "l": [1, "a"], "m": {"k": 2.25}, "ss": ["a", "b"]}
    assert type(back["n"]) is int and type(back["f"]) is float
    assert aws.from_item(item, plain=False)["n"] == Decimal(3)


def test_canonical_json_ignores_number_spelling_and_set_order() -> None:
    assert aws.canonical_json({"n": {"N": "1.50"}, "s": {"SS": ["b", "a"]}}) == aws.canonical_json(
        {"s": {"SS": ["a", "b"]}, "n": {"N": "1.5"}}
    )


class Batches:
    """A DynamoDB client whose batch calls leave the first ``hold`` requests unprocessed once, then take them."""

    def __init__(self, hold: int, forever: bool = False) -> None:
        self.hold, self.forever, self.calls, self.stored = hold, forever, [], []

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        ((table, requests),) = RequestItems.items()
        self.calls.append(len(requests))
        left = requests[: self.hold]
        if not self.forever:
            self.hold = 0
        self.stored += requests[len(left) :]
        return {"UnprocessedItems": {table: left} if left else {}}


def test_batch_write_resends_unprocessed_items_in_chunks_of_25(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aws.time, "sleep", lambda s: None)
    client = Batches(hold=3)
    puts = [{"id": {"S": f"k{i}"}} for i in range(30)]
    assert aws.batch_write(client, "t", puts=puts, deletes=[{"id": {"S": "gone"}}]) == 31
    assert client.calls == [25, 3, 6] and len(client.stored) == 31


def test_batch_write_gives_up_loudly_when_items_stay_unprocessed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aws.time, "sleep", lambda s: None)
    client = Batches(hold=2, forever=True)
    with pytest.raises(RuntimeError, match=r"t: BatchWriteItem left 2 item\(s\) unprocessed after 10 rounds"):
        aws.batch_write(client, "t", puts=[{"id": {"S": "a"}}, {"id": {"S": "b"}}])
    assert len(client.calls) == aws.BATCH_ROUNDS


def test_batch_get_resends_unprocessed_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aws.time, "sleep", lambda s: None)
    sent: list[list[dict[str, Any]]] = []

    class Gets:
        def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            keys = RequestItems["t"]["Keys"]
            sent.append(keys)
            assert RequestItems["t"]["ConsistentRead"] is True
            done, left = keys[1:], keys[:1] if len(sent) == 1 else []
            return {
                "Responses": {"t": done},
                "UnprocessedKeys": {"t": {"Keys": left, "ConsistentRead": True}} if left else {},
            }

    keys = [{"id": {"S": f"k{i}"}} for i in range(3)]
    assert sorted(i["id"]["S"] for i in aws.batch_get(Gets(), "t", keys)) == [
        "k1",
        "k2",
    ]  # the fake drops the first of each round
    assert [len(k) for k in sent] == [3, 1]


@pytest.mark.parametrize(
    "inventory_name, env_name", [("bbws", "sit"), ("bbws-access", "sit")]
)  # 001 §6.3.2 flat, 002 §4 PK/SK
def test_a_record_reads_back_as_written(inventory_name: str, env_name: str) -> None:
    table = load_inventory(inventory_name).environment(env_name).deployments_table
    at = datetime(2026, 11, 24, 10, 5, 3, 123000, tzinfo=timezone.utc)
    record = DeploymentRecord(
        "rb-42",
        "rollback",
        env_name,
        utc_stamp(at),
        from_version="3",
        to_version="2",
        status="COMPLETE",
        functions={"fn-a": FunctionChange("3", "2", "COMPLETE", "2")},
        services=("svc",),
        actor="tests",
        reason="why",
    )
    back = from_item(table, to_item(table, record))
    assert back is not None
    assert (back.record_id, back.action, back.status, back.to_version, back.actor, back.reason) == (
        "rb-42",
        "rollback",
        "COMPLETE",
        "2",
        "tests",
        "why",
    )
    assert back.change_for("fn-a") == FunctionChange("3", "2", "COMPLETE", "2")
    assert parse_stamp(back.timestamp) == at  # milliseconds kept: two actions in one second stay ordered
