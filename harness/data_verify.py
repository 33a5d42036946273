"""Verify a table's data against an expected set: key -> digest, from parallel segmented scans.

000 §6.5 compares record counts and eyeballs ten items; that cannot tell a restored table that is
right from one that has the right count and wrong items. Here every item is reduced to a stable
digest (sha256 of :func:`harness.aws.canonical_json` of the typed item: numbers exact at DynamoDB's
38 digits and exponent range, so ``1.0`` equals ``1`` and a 38th-digit change is a difference; sets
as sets; binary as bytes) and only key -> digest is kept, so memory grows with the number of keys,
never with item sizes. Two digest maps compare to counts plus the added, removed and changed keys
(all of them; a few shown as samples).

Where the expected set comes from:

- a snapshot file taken before a fault (:func:`write_snapshot`, JSON lines: a header, then one
  ``{"k": key, "d": digest}`` per item);
- another table (the source table, scanned concurrently with the restored one);
- the source as it was at a time, through a PITR restore (``harness.actions.pitr.digests_at``).

Scans use ``Segment``/``TotalSegments`` on a thread pool with one shared client (boto3 clients are
thread-safe) and boto3's paginator, so on real AWS every page is paginated and retried by botocore
as any other call: the same code path as on the emulator.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from harness import aws

SNAPSHOT_FORMAT = "runbook-harness-table-snapshot/1"
DIGEST = "sha256(canonical_json(item))"
DEFAULT_SEGMENTS = 4  # measured on 2 cores against moto: benchmarks/bench_pitr_verify.py
SAMPLES = 5
Progress = Callable[[str], None]


def key_names(client: Any, table: str) -> tuple[str, ...]:
    """The table's primary key attribute names (hash, then range) from DescribeTable."""
    schema = client.describe_table(TableName=table)["Table"]["KeySchema"]
    return tuple(k["AttributeName"] for k in sorted(schema, key=lambda k: k["KeyType"] != "HASH"))


def key_text(item: Mapping[str, Any], names: Iterable[str]) -> str:
    """A stable text for an item's primary key: ``{"id":["S","x"]}``, hash then range, values as DynamoDB sent them.

    Key numbers keep DynamoDB's spelling (not normalized): the text must turn back into the exact key
    (``typed_key``) for a GetItem or a delete.
    """
    return json.dumps({n: _key_value(item[n]) for n in names}, separators=(",", ":"))


def _key_value(av: Mapping[str, Any]) -> list[Any]:
    ((kind, value),) = av.items()
    return [kind, bytes(value).hex() if kind == "B" else value]


def item_digest(item: Mapping[str, Any]) -> str:
    """sha256 hex of the typed item's canonical JSON (attribute order and number spelling do not matter)."""
    return hashlib.sha256(aws.canonical_json(item).encode()).hexdigest()


def readable_key(text: str) -> str:
    """``id=sample-001`` (``hash=a, range=b``) from a key text, for reports."""
    doc = json.loads(text)
    return ", ".join(f"{k}={v[1]}" for k, v in doc.items())


@dataclass
class Digests:
    """An item set reduced to key -> digest: where it came from, when, and how it was read."""

    source: str  # "dynamodb:<table>", "snapshot:<path>", "dynamodb:<table>@<time>"
    key_names: tuple[str, ...]
    items: dict[str, str] = field(default_factory=dict)
    taken_at: datetime | None = None
    seconds: float = 0.0
    segments: int = 1

    def __len__(self) -> int:
        return len(self.items)

    @property
    def rate(self) -> float:
        """Items per second of the scan that made this set (0 when not scanned)."""
        return len(self.items) / self.seconds if self.seconds > 0 else 0.0


def _scan_segment(
    client: Any,
    table: str,
    names: tuple[str, ...],
    segment: int,
    total: int,
    into: dict[str, str],
    consistent: bool,
    counter: list[int],
    lock: threading.Lock,
) -> None:
    """Digest one segment's items into ``into`` (dict assignment is atomic: no lock per item)."""
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": consistent}
    if total > 1:
        kwargs.update(Segment=segment, TotalSegments=total)
    for page in client.get_paginator("scan").paginate(**kwargs):
        for item in page.get("Items", []):
            into[key_text(item, names)] = item_digest(item)
        with lock:
            counter[0] += len(page.get("Items", []))


def table_digests(
    client: Any,
    table: str,
    *,
    segments: int = DEFAULT_SEGMENTS,
    consistent: bool = False,
    names: tuple[str, ...] | None = None,
    taken_at: datetime | None = None,
    progress: Progress | None = None,
) -> Digests:
    """Scan ``table`` in ``segments`` parallel segments (one thread each, one shared client) into key -> digest."""
    names = names or key_names(client, table)
    out: dict[str, str] = {}
    counter, lock = [0], threading.Lock()
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=segments, thread_name_prefix=f"scan-{table}") as pool:
        futures = [
            pool.submit(_scan_segment, client, table, names, s, segments, out, consistent, counter, lock)
            for s in range(segments)
        ]
        for f in futures:
            f.result()  # the first failing segment's exception surfaces here
    seconds = time.perf_counter() - began
    if progress:
        progress(f"scanned {table}: {counter[0]} items in {seconds:.2f} s ({segments} segments)")
    return Digests(f"dynamodb:{table}", names, out, taken_at, seconds, segments)


def count_items(client: Any, table: str, *, segments: int = DEFAULT_SEGMENTS) -> int:
    """The table's exact item count now: a parallel ``Select=COUNT`` scan (000 §6.5's count; DescribeTable's
    ItemCount is refreshed only about every six hours on AWS)."""

    def segment(s: int) -> int:
        kwargs: dict[str, Any] = {"TableName": table, "Select": "COUNT"}
        if segments > 1:
            kwargs.update(Segment=s, TotalSegments=segments)
        return sum(int(page.get("Count", 0)) for page in client.get_paginator("scan").paginate(**kwargs))

    with ThreadPoolExecutor(max_workers=segments, thread_name_prefix=f"count-{table}") as pool:
        return sum(pool.map(segment, range(segments)))


@dataclass(frozen=True)
class CopyDiff:
    """What making ``table`` hold exactly ``source``'s items takes: keys to put and keys to delete (sorted)."""

    table: str
    source: str
    table_count: int
    source_count: int
    puts: tuple[str, ...]  # keys whose item is missing in table or differs from source's
    deletes: tuple[str, ...]  # keys table has and source lacks
    overwrites: int  # puts that replace an existing (different) item; the others add one

    def sample(self, keys: tuple[str, ...], n: int = SAMPLES) -> str:
        """``id=a, id=b ... (+3 more)`` for a plan line."""
        shown = "; ".join(readable_key(k) for k in keys[:n])
        return shown + (f" (+{len(keys) - n} more)" if len(keys) > n else "")


def copy_diff(client: Any, table: str, source: str, *, segments: int = DEFAULT_SEGMENTS) -> CopyDiff:
    """Scan both tables at once to key -> digest and list the puts and deletes a copy of ``source`` needs."""
    names = key_names(client, table)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="diff") as pool:
        ft = pool.submit(table_digests, client, table, segments=segments, names=names)
        fs = pool.submit(table_digests, client, source, segments=segments, names=names)
        live, wanted = ft.result().items, fs.result().items
    puts = tuple(sorted(k for k, d in wanted.items() if live.get(k) != d))
    deletes = tuple(sorted(k for k in live if k not in wanted))
    overwrites = sum(1 for k in puts if k in live)
    return CopyDiff(table, source, len(live), len(wanted), puts, deletes, overwrites)


def plain_scan_count(client: Any, table: str) -> tuple[int, float]:
    """A plain sequential full scan (000 §6.5's ``aws dynamodb scan``): items read and seconds (benchmark baseline)."""
    began, n = time.perf_counter(), 0
    for page in client.get_paginator("scan").paginate(TableName=table):
        n += len(page.get("Items", []))
    return n, time.perf_counter() - began


# -- snapshot files ----------------------------------------------------------------------------


def write_snapshot(digests: Digests, path: str | Path) -> Path:
    """Write a snapshot as JSON lines: a header, then one ``{"k": key, "d": digest}`` per item, keys sorted."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {
        "format": SNAPSHOT_FORMAT,
        "source": digests.source,
        "key": list(digests.key_names),
        "digest": DIGEST,
        "taken_at": digests.taken_at.isoformat() if digests.taken_at else None,
        "count": len(digests),
    }
    with path.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(header, sort_keys=True) + "\n")
        for k in sorted(digests.items):
            fh.write(json.dumps({"k": k, "d": digests.items[k]}, separators=(",", ":")) + "\n")
    return path


def read_snapshot(path: str | Path) -> Digests:
    """Read a snapshot file; ValueError names the file and line when it is not one."""
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        lines = _lines(fh)
        try:
            header = json.loads(next(lines))
        except (StopIteration, ValueError):
            raise ValueError(f"{path}: not a table snapshot (no header line)") from None
        if header.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"{path}: format {header.get('format')!r}, expected {SNAPSHOT_FORMAT!r}")
        items: dict[str, str] = {}
        for n, line in enumerate(lines, start=2):
            try:
                row = json.loads(line)
                items[row["k"]] = row["d"]
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"{path}:{n}: not a snapshot line") from None
    taken = header.get("taken_at")
    if header.get("count") is not None and header["count"] != len(items):
        raise ValueError(f"{path}: header says {header['count']} items, the file holds {len(items)} (truncated?)")
    return Digests(
        f"snapshot:{path}", tuple(header.get("key") or ()), items, datetime.fromisoformat(taken) if taken else None
    )


def _lines(fh: Any) -> Iterator[str]:
    for line in fh:
        if line.strip():
            yield line


# -- comparison --------------------------------------------------------------------------------


@dataclass
class VerifyReport:
    """Expected vs actual item sets: counts, and every added, removed and changed key (sorted)."""

    expected: str
    actual: str
    expected_count: int
    actual_count: int
    added: list[str]  # in actual only
    removed: list[str]  # in expected only
    changed: list[str]  # in both, digests differ
    seconds: float = 0.0
    samples: int = SAMPLES
    details: dict[str, Any] = field(default_factory=dict)  # attribute-level notes for sampled keys

    @property
    def differences(self) -> int:
        """Added + removed + changed keys."""
        return len(self.added) + len(self.removed) + len(self.changed)

    @property
    def equal(self) -> bool:
        """True when both sets hold the same keys with the same digests."""
        return self.differences == 0

    @property
    def differing_keys(self) -> set[str]:
        """Every key that differs, as readable keys (``id=x``)."""
        return {readable_key(k) for k in (*self.added, *self.removed, *self.changed)}

    def line(self) -> str:
        """One line: counts and differences."""
        verdict = "identical" if self.equal else f"{self.differences} difference(s)"
        return (
            f"{self.actual} vs {self.expected}: {self.actual_count} vs {self.expected_count} items, {verdict} "
            f"(+{len(self.added)} added, -{len(self.removed)} removed, ~{len(self.changed)} changed)"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (samples only, not every key)."""
        n = self.samples
        return {
            "expected": self.expected,
            "actual": self.actual,
            "expected_count": self.expected_count,
            "actual_count": self.actual_count,
            "differences": self.differences,
            "added": len(self.added),
            "removed": len(self.removed),
            "changed": len(self.changed),
            "seconds": round(self.seconds, 3),
            "samples": {
                "added": [readable_key(k) for k in self.added[:n]],
                "removed": [readable_key(k) for k in self.removed[:n]],
                "changed": [readable_key(k) for k in self.changed[:n]],
            },
            "details": self.details,
        }

    def render(self) -> str:
        """Markdown: the counts table and a few sample keys per kind of difference."""
        n = self.samples
        rows = [
            "| | expected | actual |",
            "|---|---|---|",
            f"| source | `{self.expected}` | `{self.actual}` |",
            f"| items | {self.expected_count} | {self.actual_count} |",
        ]
        out = [self.line(), "", *rows, "", f"| difference | keys | samples (up to {n}) |", "|---|---|---|"]
        for name, keys in (("added", self.added), ("removed", self.removed), ("changed", self.changed)):
            sample = ", ".join(
                f"`{readable_key(k)}`" + (f" ({self.details[k]})" if k in self.details else "") for k in keys[:n]
            )
            out.append(f"| {name} | {len(keys)} | {sample or '—'} |")
        return "\n".join(out) + "\n"


def compare(expected: Digests, actual: Digests, *, samples: int = SAMPLES) -> VerifyReport:
    """Compare two digest sets: counts, and every added, removed and changed key."""
    if expected.key_names and actual.key_names and tuple(expected.key_names) != tuple(actual.key_names):
        raise ValueError(
            f"key schemas differ: {expected.source} {expected.key_names} vs {actual.source} {actual.key_names}"
        )
    e, a = expected.items, actual.items
    added = sorted(k for k in a if k not in e)
    removed = sorted(k for k in e if k not in a)
    changed = sorted(k for k, d in a.items() if k in e and e[k] != d)
    return VerifyReport(
        expected.source, actual.source, len(e), len(a), added, removed, changed, seconds=actual.seconds, samples=samples
    )


def explain_changes(client: Any, report: VerifyReport, expected_table: str, actual_table: str) -> None:
    """For the sampled changed keys of a table-vs-table report: which attributes differ (two GetItems each)."""
    for k in report.changed[: report.samples]:
        key = typed_key(k)
        a = client.get_item(TableName=expected_table, Key=key, ConsistentRead=True).get("Item") or {}
        b = client.get_item(TableName=actual_table, Key=key, ConsistentRead=True).get("Item") or {}
        names = sorted(
            n
            for n in set(a) | set(b)
            if aws.canonical_json({n: a[n]} if n in a else {}) != aws.canonical_json({n: b[n]} if n in b else {})
        )
        report.details[k] = "attributes differ: " + ", ".join(names)


def typed_key(text: str) -> dict[str, dict[str, Any]]:
    """A key text back as a typed DynamoDB key (``["S", "x"]`` -> ``{"S": "x"}``; B is hex there)."""
    return {
        name: {kind: bytes.fromhex(value) if kind == "B" else value} for name, (kind, value) in json.loads(text).items()
    }


def verify_tables(
    client: Any, actual: str, expected: str, *, segments: int = DEFAULT_SEGMENTS, progress: Progress | None = None
) -> VerifyReport:
    """Compare table ``actual`` (e.g. the restored one) with table ``expected``, both scanned at once."""
    names = key_names(client, actual)
    other = key_names(client, expected)
    if names != other:
        raise ValueError(f"key schemas differ: {actual} {names} vs {expected} {other}")
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="verify") as pool:
        fa = pool.submit(table_digests, client, actual, segments=segments, names=names, progress=progress)
        fe = pool.submit(table_digests, client, expected, segments=segments, names=names, progress=progress)
        report = compare(fe.result(), fa.result())
    report.seconds = time.perf_counter() - began  # both scans ran at once: wall time
    explain_changes(client, report, expected, actual)
    return report


def verify_against_snapshot(
    client: Any,
    actual: str,
    snapshot: str | Path | Digests,
    *,
    segments: int = DEFAULT_SEGMENTS,
    progress: Progress | None = None,
) -> VerifyReport:
    """Compare table ``actual`` with a snapshot (file or digests taken before a fault)."""
    expected = snapshot if isinstance(snapshot, Digests) else read_snapshot(snapshot)
    digests = table_digests(client, actual, segments=segments, progress=progress)
    return compare(expected, digests)
