"""AWS idioms every layer shares: error codes, not-found tests, DynamoDB item (de)serialization,
paginated reads and waiters.

Written once here so checks, actions, faults and seeding read AWS's answers the same way (a
``ClientError`` code, a typed DynamoDB attribute, a paginated listing) and never re-implement them.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow
from typing import Any, Iterable, Iterator, Mapping, Sequence

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

# Error codes AWS answers with when the thing asked for does not exist (per service, as documented).
NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFoundException",  # Lambda, DynamoDB, Logs, ECS ...
        "TableNotFoundException",  # DynamoDB continuous backups
        "NoSuchKey",
        "NoSuchBucket",
        "NoSuchVersion",
        "NotFound",
        "404",  # S3 HEAD answers with the bare status code
        "ParameterNotFound",  # SSM
        "ServiceNotFoundException",
        "ClusterNotFoundException",
        "ValidationError",  # CloudFormation "Stack with id X does not exist"
    }
)

BATCH_GET, BATCH_WRITE = 100, 25  # DynamoDB's per-call limits (BatchGetItem, BatchWriteItem)
BATCH_ROUNDS = 10  # rounds of UnprocessedKeys/UnprocessedItems before giving up (about 10 s of backoff)

_deserializer = TypeDeserializer()
_serializer = TypeSerializer()


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ``ClientError`` (``""`` for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def error_message(exc: BaseException) -> str:
    """The AWS error message of a ``ClientError`` (``str(exc)`` for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
    return str(exc)


def is_not_found(exc: BaseException, *codes: str) -> bool:
    """True when ``exc`` is AWS saying the resource does not exist (``codes`` narrows the set)."""
    code = error_code(exc)
    return code in (codes or NOT_FOUND_CODES)


def get_or_none(call: Any, *codes: str, **kwargs: Any) -> Any:
    """``call(**kwargs)``, or None when AWS answers that the resource does not exist."""
    try:
        return call(**kwargs)
    except ClientError as exc:
        if is_not_found(exc, *codes):
            return None
        raise


# -- DynamoDB typed attribute values ---------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Decimals as int/float, Binary as bytes, sets as sorted lists: what a report or JSON can hold."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Binary):
        return bytes(value)
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=repr)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def from_item(item: Mapping[str, Mapping[str, Any]], *, plain: bool = True) -> dict[str, Any]:
    """A DynamoDB item (``{"n": {"N": "3"}}``) as Python values (``{"n": 3}``), losslessly typed."""
    out = {k: _deserializer.deserialize(dict(v)) for k, v in item.items()}
    return _plain(out) if plain else out


def _serializable(value: Any) -> Any:
    """Python values boto3's serializer accepts (floats become Decimals, as DynamoDB numbers)."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _serializable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_serializable(v) for v in value]
    return value


def to_item(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Python values as a DynamoDB item (``None`` values are left out, as DynamoDB has no empty attribute)."""
    return {k: _serializer.serialize(_serializable(v)) for k, v in values.items() if v is not None}


def attribute(value: Any) -> dict[str, Any]:
    """One Python value as a typed attribute value (``{"S": "x"}``)."""
    typed: dict[str, Any] = _serializer.serialize(_serializable(value))
    return typed


# DynamoDB's number type: up to 38 significant digits, magnitudes 1E-130 .. 9.99...E+125 (adjusted exponents
# -130 .. 125; DynamoDB developer guide, "Data types: Number"). Normalizing under this context is exact for
# every number DynamoDB can hold; one it cannot hold raises (Inexact, Overflow) instead of being rounded.
# The default context (28 digits) rounded: two numbers differing in the 29th-38th digit compared equal.
DYNAMODB_DIGITS = 38
DYNAMODB_NUMBERS = Context(prec=DYNAMODB_DIGITS, Emin=-130, Emax=125, traps=[Inexact, Overflow, InvalidOperation])


def exact_number(text: str) -> str:
    """A DynamoDB number's canonical spelling, exact to 38 digits: ``1.0``, ``1`` -> ``1``; ``100``, ``1E+2`` ->
    ``1E+2``."""
    digits = text[1:] if text[:1] == "-" else text
    if digits.isdigit() and digits[0] != "0" and digits[-1] != "0" and len(digits) <= DYNAMODB_DIGITS:
        return text  # an integer DynamoDB spells canonically already (the common case: no Decimal needed)
    value = Decimal(text).normalize(DYNAMODB_NUMBERS)
    return "0" if value.is_zero() else str(value)


def canonical_json(item: Mapping[str, Mapping[str, Any]]) -> str:
    """A stable text for a typed item: keys sorted, numbers exact (38 digits), sets sorted (for digests)."""

    def norm(av: Mapping[str, Any]) -> Any:
        ((kind, val),) = av.items()
        if kind == "N":
            return ["N", exact_number(val)]
        if kind == "NS":
            return ["NS", sorted(exact_number(v) for v in val)]
        if kind in ("SS", "BS"):
            return [kind, sorted(v if isinstance(v, str) else bytes(v).hex() for v in val)]
        if kind == "B":
            return ["B", bytes(val).hex()]
        if kind == "M":
            return ["M", {k: norm(v) for k, v in sorted(val.items())}]
        if kind == "L":
            return ["L", [norm(v) for v in val]]
        return [kind, val]

    return json.dumps({k: norm(v) for k, v in sorted(item.items())}, sort_keys=True, separators=(",", ":"))


# -- paginated reads -------------------------------------------------------------------------------


def paginate(client: Any, operation: str, result_key: str, **kwargs: Any) -> Iterator[Any]:
    """Every element of ``result_key`` across all pages of ``operation`` (boto3's paginator)."""
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(result_key, []) or []


def scan_items(client: Any, table: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item of ``table`` (typed), page by page."""
    return paginate(client, "scan", "Items", TableName=table, **kwargs)


def first(items: Iterable[Any]) -> Any:
    """The first element, or None."""
    return next(iter(items), None)


def waiter_config_of(target: Any) -> Mapping[str, Any] | None:
    """The target's boto3 ``WaiterConfig`` (fast on emulators), None for AWS's defaults or a target without one."""
    config = getattr(target, "waiter_config", None)
    return dict(config) if config else None


def wait(client: Any, waiter: str, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
    """Block on a boto3 waiter with the target's ``WaiterConfig`` (fast on emulators, AWS's default otherwise)."""
    client.get_waiter(waiter).wait(**kwargs, **({"WaiterConfig": dict(config)} if config else {}))


def _chunks(seq: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    """``seq`` in slices of at most ``n``."""
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def _backoff(round_: int) -> None:
    """Wait before resending unprocessed keys/items: DynamoDB asks callers to back off exponentially
    (botocore retries throttled calls, but does not resend what a batch call left unprocessed)."""
    time.sleep(min(0.05 * 2**round_, 2.0))


def batch_get(client: Any, table: str, keys: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Consistent BatchGetItem of ``keys`` (100 per call, unprocessed keys resent with backoff)."""
    out: list[dict[str, Any]] = []
    for chunk in _chunks(list(keys), BATCH_GET):
        request: dict[str, Any] = {table: {"Keys": list(chunk), "ConsistentRead": True}}
        for round_ in range(1, BATCH_ROUNDS + 1):
            resp = client.batch_get_item(RequestItems=request)
            out += resp.get("Responses", {}).get(table, [])
            request = resp.get("UnprocessedKeys") or {}
            if not request:
                break
            _backoff(round_)
        else:
            raise RuntimeError(f"{table}: BatchGetItem left keys unprocessed after {BATCH_ROUNDS} rounds")
    return out


def batch_write(
    client: Any, table: str, puts: Sequence[Mapping[str, Any]] = (), deletes: Sequence[Mapping[str, Any]] = ()
) -> int:
    """BatchWriteItem puts and deletes (25 per call, unprocessed items resent with backoff); how many were written."""
    requests = [{"PutRequest": {"Item": i}} for i in puts] + [{"DeleteRequest": {"Key": k}} for k in deletes]
    for chunk in _chunks(requests, BATCH_WRITE):
        pending: dict[str, Any] = {table: list(chunk)}
        for round_ in range(1, BATCH_ROUNDS + 1):
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                break
            _backoff(round_)
        else:
            raise RuntimeError(
                f"{table}: BatchWriteItem left {len(pending.get(table, []))} item(s) unprocessed after "
                f"{BATCH_ROUNDS} rounds"
            )
    return len(requests)


# -- CloudWatch ------------------------------------------------------------------------------------


def cloudwatch_start(start: datetime, now: datetime) -> datetime:
    """``start`` as CloudWatch rounds a GetMetricData StartTime: down to the minute (< 15 days ago),
    5 minutes (15-63 days), the hour (older). Checks report it; the embedded target answers with it."""
    age = now - start
    if age > timedelta(days=63):
        return start.replace(minute=0, second=0, microsecond=0)
    if age > timedelta(days=15):
        return start.replace(minute=start.minute - start.minute % 5, second=0, microsecond=0)
    return start.replace(second=0, microsecond=0)
