"""Data verification (000 §6.5 done so it can tell right from wrong): digests, snapshots, segmented scans,
comparison."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.actions.copy_back import reconcile
from harness.data_verify import (
    Digests,
    compare,
    copy_diff,
    item_digest,
    key_text,
    read_snapshot,
    readable_key,
    table_digests,
    typed_key,
    verify_tables,
    write_snapshot,
)
from tests.data.conftest import start_lean

pytestmark = pytest.mark.xdist_group("data-verify")


@pytest.fixture(scope="module")
def rehearsal():
    """bbws/sit tables on a fresh account, plus two tables keyed by number and binary."""
    t = start_lean()
    ddb = t.client("dynamodb")
    for name in ("nb-a", "nb-b"):
        ddb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "n", "KeyType": "HASH"}, {"AttributeName": "b", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "n", "AttributeType": "N"},
                {"AttributeName": "b", "AttributeType": "B"},
            ],
        )
    items = [
        {"n": {"N": str(i)}, "b": {"B": bytes([i % 7])}, "pad": {"S": "x" * 50}, "v": {"N": "1.50"}} for i in range(300)
    ]
    for start in range(0, len(items), 25):
        ddb.batch_write_item(RequestItems={"nb-a": [{"PutRequest": {"Item": it}} for it in items[start : start + 25]]})
    yield t
    t.close()


def test_digest_is_stable_and_sensitive() -> None:
    """Attribute order, number spelling and set order do not change the digest; any value does."""
    a = {
        "id": {"S": "k"},
        "n": {"N": "1.50"},
        "ss": {"SS": ["b", "a"]},
        "m": {"M": {"x": {"N": "10"}, "y": {"BOOL": True}}},
    }
    b = {
        "m": {"M": {"y": {"BOOL": True}, "x": {"N": "1E+1"}}},
        "ss": {"SS": ["a", "b"]},
        "n": {"N": "1.5"},
        "id": {"S": "k"},
    }
    assert item_digest(a) == item_digest(b)
    assert item_digest(a) != item_digest({**a, "n": {"N": "1.51"}})
    assert item_digest(a) != item_digest({**a, "extra": {"NULL": True}})


def test_keys_round_trip_for_every_key_type() -> None:
    """A key text turns back into the exact typed key (numbers as DynamoDB spelt them, binary via hex)."""
    item = {"n": {"N": "10"}, "b": {"B": b"\x00\xff"}, "other": {"S": "x"}}
    text = key_text(item, ("n", "b"))
    assert typed_key(text) == {"n": {"N": "10"}, "b": {"B": b"\x00\xff"}}
    assert readable_key(text) == "n=10, b=00ff"


def test_segmented_scan_equals_a_single_scan(rehearsal) -> None:
    """4 parallel segments (one shared client) read exactly the items one sequential scan reads."""
    ddb = rehearsal.client("dynamodb")
    one, four = table_digests(ddb, "nb-a", segments=1), table_digests(ddb, "nb-a", segments=4)
    assert len(one) == 300 and one.items == four.items and four.segments == 4


def test_snapshot_file_round_trip_and_errors(rehearsal, tmp_path: Path) -> None:
    """JSON lines: a header, then key + digest per item; a truncated or foreign file is one clear error."""
    digests = table_digests(rehearsal.client("dynamodb"), "tenants-sit", taken_at=rehearsal.clock.now())
    path = write_snapshot(digests, tmp_path / "s.jsonl")
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "runbook-harness-table-snapshot/1" and header["count"] == len(lines) - 1 == len(digests)
    assert set(json.loads(lines[1])) == {"k", "d"}
    back = read_snapshot(path)
    assert back.items == digests.items and back.key_names == ("id",) and back.taken_at == digests.taken_at
    path.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(ValueError, match="truncated"):
        read_snapshot(path)
    (tmp_path / "x.jsonl").write_text('{"format": "other"}\n')
    with pytest.raises(ValueError, match="expected 'runbook-harness-table-snapshot/1'"):
        read_snapshot(tmp_path / "x.jsonl")


def test_compare_reports_added_removed_changed() -> None:
    """Counts and every differing key, sorted; a few samples rendered."""
    expected = Digests(
        "snapshot:x", ("id",), {'{"id":["S","a"]}': "1", '{"id":["S","b"]}': "2", '{"id":["S","c"]}': "3"}
    )
    actual = Digests("dynamodb:t", ("id",), {'{"id":["S","a"]}': "1", '{"id":["S","b"]}': "X", '{"id":["S","d"]}': "4"})
    report = compare(expected, actual)
    assert (report.added, report.removed, report.changed) == (
        ['{"id":["S","d"]}'],
        ['{"id":["S","c"]}'],
        ['{"id":["S","b"]}'],
    )
    assert report.differences == 3 and not report.equal and report.differing_keys == {"id=b", "id=c", "id=d"}
    text = report.render()
    assert (
        "| added | 1 | `id=d` |" in text and "| removed | 1 | `id=c` |" in text and "| changed | 1 | `id=b` |" in text
    )
    with pytest.raises(ValueError, match="key schemas differ"):
        compare(expected, Digests("t", ("pk",), {}))


def test_number_and_binary_keys_reconcile(rehearsal) -> None:
    """The copy-back's reconcile (puts and deletes by typed key) works for N/B keys: the tables end equal."""
    target = rehearsal
    ddb = target.client("dynamodb")
    ddb.put_item(TableName="nb-b", Item={"n": {"N": "9999"}, "b": {"B": b"\x01"}})  # only in the destination: deleted
    ddb.put_item(
        TableName="nb-b", Item={"n": {"N": "1"}, "b": {"B": bytes([1])}, "pad": {"S": "other"}}
    )  # differs: put
    planned = copy_diff(ddb, "nb-b", "nb-a")
    assert (len(planned.puts), len(planned.deletes), planned.overwrites) == (300, 1, 1)
    written, deleted = reconcile(target, planned)
    assert (written, deleted) == (300, 1)
    assert verify_tables(ddb, "nb-b", "nb-a").equal
    assert reconcile(target, copy_diff(ddb, "nb-b", "nb-a")) == (0, 0)


DIGITS_38 = "1.000000000000000000000000000000000000{}"  # 38 significant digits: DynamoDB keeps every one


def test_a_difference_in_the_38th_digit_is_a_difference() -> None:
    """DynamoDB keeps 38 significant digits: numbers differing only in the 38th differ (the 28-digit default
    context of Decimal.normalize() made them equal)."""
    a, b = DIGITS_38.format(1), DIGITS_38.format(2)
    assert len(a.replace(".", "")) == 38
    item = {"id": {"S": "k"}}
    assert item_digest({**item, "n": {"N": a}}) != item_digest({**item, "n": {"N": b}})
    assert item_digest({**item, "ns": {"NS": [a, "3"]}}) != item_digest({**item, "ns": {"NS": [b, "3"]}})
    assert item_digest({**item, "l": {"L": [{"N": a}]}}) != item_digest({**item, "l": {"L": [{"N": b}]}})


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("1.0", "1"),
        ("1E+2", "100"),
        ("0.00", "0"),
        ("-0", "0"),
        ("1.50", "15E-1"),
        (DIGITS_38.format(0), "1"),
        ("120", "1.2E+2"),
        ("-7", "-7.000"),
        ("9" * 38, "9." + "9" * 37 + "E+37"),
    ],
)
def test_numbers_written_differently_but_equal_in_dynamodb_are_equal(one: str, other: str) -> None:
    """DynamoDB stores ``1.0`` and ``1`` (``1E+2`` and ``100``) as the same number: same digest."""
    assert item_digest({"n": {"N": one}}) == item_digest({"n": {"N": other}})


def test_sets_compare_as_sets_and_binary_as_bytes() -> None:
    """Set order does not matter, set members do; binary compares by its bytes (bytes or bytearray)."""
    assert item_digest({"s": {"NS": ["1", "2.0"]}}) == item_digest({"s": {"NS": ["2", "1.0"]}})
    assert item_digest({"s": {"BS": [b"a", b"b"]}}) == item_digest({"s": {"BS": [bytearray(b"b"), b"a"]}})
    assert item_digest({"s": {"SS": ["a", "b"]}}) != item_digest({"s": {"SS": ["a", "c"]}})
    assert item_digest({"b": {"B": b"\x00"}}) != item_digest({"b": {"B": b"\x00\x00"}})


def test_numbers_dynamodb_cannot_hold_are_not_rounded() -> None:
    """A 39-digit number or one beyond DynamoDB's exponent range raises instead of being silently rounded."""
    from decimal import Inexact, Overflow

    with pytest.raises(Inexact):
        item_digest({"n": {"N": "1." + "0" * 37 + "1"}})
    with pytest.raises(Overflow):
        item_digest({"n": {"N": "1E+126"}})
    assert item_digest({"n": {"N": "1E-130"}}) != item_digest({"n": {"N": "2E-130"}})


def test_verify_and_copy_back_see_the_38th_digit(rehearsal) -> None:
    """verify-table (table vs table) reports the 38th-digit change and copy-back's reconcile puts it right."""
    ddb = rehearsal.client("dynamodb")
    reconcile(rehearsal, copy_diff(ddb, "nb-b", "nb-a"))  # start equal, whichever tests ran before
    for name, digit in (("nb-a", 1), ("nb-b", 2)):
        ddb.put_item(
            TableName=name, Item={"n": {"N": "7"}, "b": {"B": bytes([0])}, "v": {"N": DIGITS_38.format(digit)}}
        )
    report = verify_tables(ddb, "nb-b", "nb-a")
    assert len(report.changed) == 1 and "n=7" in readable_key(report.changed[0]), report.line()
    planned = copy_diff(ddb, "nb-b", "nb-a")
    assert len(planned.puts) == 1 and not planned.deletes
    assert reconcile(rehearsal, planned) == (1, 0)
    assert verify_tables(ddb, "nb-b", "nb-a").equal
