"""Deployment and rollback records: one shape, two table schemas, written and read in one place.

The runbooks keep an audit log of deployments and rollbacks in DynamoDB:

- 001 §6.3.2 step 7 (``bbws``): a flat item keyed by ``deployment_id`` with ``timestamp``,
  ``environment``, ``action``, ``from_version``, ``to_version``, ``actor``, ``reason``;
- 002 §1 / §4 (``bbws-access``): ``PK = ROLLBACK#<id>`` (or ``DEPLOYMENT#<id>``), ``SK = METADATA``,
  ``rollback_id``, ``environment``, ``from_version``, ``to_version``, ``services``, ``reason``,
  ``initiated_by``, ``initiated_at``, ``status`` (IN_PROGRESS -> COMPLETE / FAILED), ``completed_at``,
  and the GSI1 ``ENV#<env>`` / timestamp pair.

Seeding, the actions and the ``lambda-alias-version`` check all go through :func:`to_item` and
:func:`from_item`, so a record written by one is read identically by the others. The harness adds
what the runbooks' records cannot say and a verifier needs: which function a version number belongs
to (``function``, or ``functions`` for a multi-function action) and the ``status``.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping

from harness import aws
from harness.clock import Clock
from harness.inventory.model import Environment, Table
from harness.outcome import Outcome

IN_PROGRESS, COMPLETE, FAILED = Outcome.IN_PROGRESS, Outcome.COMPLETE, Outcome.FAILED
PKSK_KINDS = {"deploy": "DEPLOYMENT", "rollback": "ROLLBACK", "promote": "DEPLOYMENT"}
METADATA_SK = "METADATA"
GSI_ENV_PREFIX = "ENV#"


def utc_stamp(at: datetime) -> str:
    """``2026-01-25T22:00:00.123Z``: the runbooks' ``date -u +%Y-%m-%dT%H:%M:%SZ`` plus milliseconds.

    The runbooks stamp whole seconds; two actions in one second (a rollback and its restore) would
    then tie when "the newest record" decides. ISO 8601 allows the fraction, and readers parse it.
    """
    at = at.astimezone(timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def parse_stamp(text: str | None) -> datetime:
    """A record's timestamp (whole seconds or with a fraction, ``Z`` or an offset) as aware UTC; the epoch if
    unreadable."""
    try:
        at = datetime.fromisoformat(str(text or "").strip().replace("Z", "+00:00"))
    except ValueError:
        return datetime.fromtimestamp(0, timezone.utc)
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


@dataclass(frozen=True)
class FunctionChange:
    """What one function's alias did in an action: from and to version, and where it ended."""

    from_version: str | None
    to_version: str | None
    outcome: str | None = None  # COMPLETE, FAILED, SKIPPED
    final_version: str | None = None  # where the alias stands after the action (checkpoint after a failure)


@dataclass(frozen=True)
class DeploymentRecord:
    """One deployment, promotion or rollback, as the runbooks record them (001 §6.3.2, 002 §4)."""

    record_id: str
    action: str  # deploy | rollback | promote
    environment: str
    timestamp: str  # UTC, runbook format
    from_version: str | None = None
    to_version: str | None = None
    status: str | None = None  # IN_PROGRESS | COMPLETE | FAILED (002); None in 001's record
    function: str | None = None  # the function a bare version number belongs to
    functions: Mapping[str, FunctionChange] = field(default_factory=dict)
    services: tuple[str, ...] = ()
    actor: str | None = None
    reason: str | None = None
    completed_at: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # other attributes, kept verbatim
    # What a data or state action changed (``s3://bucket/key``, ``dynamodb:table``): such a record names
    # no function version, so the lambda-alias-version check must not read its versions as one.
    resource: str | None = None

    def change_for(self, fn: str) -> FunctionChange | None:
        """This record's change to ``fn`` when the record names it (function or functions map)."""
        if fn in self.functions:
            return self.functions[fn]
        if self.function == fn:
            return FunctionChange(self.from_version, self.to_version, self.status)
        return None

    def summary(self) -> dict[str, Any]:
        """JSON-ready form for evidence and reports."""
        return {
            "id": self.record_id,
            "action": self.action,
            "environment": self.environment,
            "timestamp": self.timestamp,
            "status": self.status,
            "function": self.function,
            "functions": {k: vars(v) for k, v in self.functions.items()},
            "services": list(self.services),
            "from_version": self.from_version,
            "to_version": self.to_version,
            "actor": self.actor,
            "reason": self.reason,
            "resource": self.resource,
        }


def is_pksk(table: Table) -> bool:
    """True for 002's PK/SK entity table, False for 001's flat ``deployment_id`` table."""
    return table.range_key is not None


def key_of(table: Table, record: DeploymentRecord) -> dict[str, dict[str, Any]]:
    """The record's primary key in ``table``'s schema."""
    if is_pksk(table):
        assert table.range_key is not None
        kind = PKSK_KINDS.get(record.action, record.action.upper())
        return {table.hash_key.name: {"S": f"{kind}#{record.record_id}"}, table.range_key.name: {"S": METADATA_SK}}
    return {table.hash_key.name: {"S": record.record_id}}


def to_item(table: Table, record: DeploymentRecord) -> dict[str, dict[str, Any]]:
    """The record as an item of ``table`` (001 §6.3.2 flat or 002 §4 PK/SK)."""
    values: dict[str, Any] = {
        "environment": record.environment,
        "action": record.action,
        "from_version": record.from_version,
        "to_version": record.to_version,
        "status": record.status,
        "function": record.function,
        "reason": record.reason,
        "completed_at": record.completed_at,
        "resource": record.resource,
        **dict(record.extra),
    }
    if record.functions:
        values["functions"] = {
            fn: {k: v for k, v in vars(c).items() if v is not None} for fn, c in record.functions.items()
        }
    if record.services:
        values["services"] = ",".join(record.services)  # 002 keeps services comma-separated
    if is_pksk(table):
        id_attr = "rollback_id" if record.action == "rollback" else "deployment_id"
        values.update({id_attr: record.record_id, "initiated_by": record.actor, "initiated_at": record.timestamp})
        values.update({"GSI1PK": f"{GSI_ENV_PREFIX}{record.environment}", "GSI1SK": record.timestamp})
    else:
        values.update({"timestamp": record.timestamp, "actor": record.actor})
    return {**aws.to_item(values), **key_of(table, record)}


KNOWN = {
    "environment",
    "action",
    "from_version",
    "to_version",
    "status",
    "function",
    "functions",
    "services",
    "reason",
    "completed_at",
    "resource",
    "timestamp",
    "actor",
    "initiated_by",
    "initiated_at",
    "rollback_id",
    "deployment_id",
    "GSI1PK",
    "GSI1SK",
}


def from_item(table: Table, item: Mapping[str, Mapping[str, Any]]) -> DeploymentRecord | None:
    """A record from an item of ``table``; None for items that are not deployment records."""
    values = aws.from_item(item)
    hash_value = str(values.get(table.hash_key.name, ""))
    if is_pksk(table):
        kind, sep, record_id = hash_value.partition("#")
        sk = values.get(table.range_key.name) if table.range_key else None
        # 002 §4 entity pattern: <KIND>#<id> / METADATA; ROLLBACK and DEPLOYMENT are the runbook's,
        # other kinds (STATE-RESTORE, PITR-RESTORE, ...) are the harness's own actions.
        if not sep or not kind or sk != METADATA_SK:
            return None
        implied = {"ROLLBACK": "rollback", "DEPLOYMENT": "deploy"}.get(kind, kind.lower())
        action = str(values.get("action") or implied)
        timestamp = values.get("initiated_at") or values.get("timestamp") or values.get("GSI1SK")
        actor = values.get("initiated_by") or values.get("actor")
    else:
        record_id, action = hash_value, str(values.get("action") or "")
        timestamp, actor = values.get("timestamp"), values.get("actor")
    if not action:
        return None
    functions = {
        str(fn): FunctionChange(
            *(
                None if c.get(k) is None else str(c.get(k))
                for k in ("from_version", "to_version", "outcome", "final_version")
            )
        )
        for fn, c in (values.get("functions") or {}).items()
        if isinstance(c, dict)
    }
    key_attrs = {table.hash_key.name} | ({table.range_key.name} if table.range_key else set())
    return DeploymentRecord(
        record_id=record_id,
        action=action,
        environment=str(values.get("environment") or ""),
        timestamp=str(timestamp or ""),
        from_version=_text(values.get("from_version")),
        to_version=_text(values.get("to_version")),
        status=_text(values.get("status")),
        function=_text(values.get("function") or values.get("function_name")),
        functions=functions,
        services=tuple(s.strip() for s in str(values.get("services") or "").split(",") if s.strip()),
        actor=_text(actor),
        reason=_text(values.get("reason")),
        completed_at=_text(values.get("completed_at")),
        resource=_text(values.get("resource")),
        extra={k: v for k, v in values.items() if k not in KNOWN and k not in key_attrs},
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def read_records(client: Any, env: Environment) -> list[DeploymentRecord]:
    """Every record of ``env`` in its deployments table, newest first (empty without such a table)."""
    table = env.deployments_table
    if table is None:
        return []
    records = [r for r in (from_item(table, i) for i in aws.scan_items(client, table.name)) if r is not None]
    mine = [r for r in records if r.environment in ("", env.name)]
    # Newest first by time (not by text: "…:05.120Z" and "…:05Z" do not sort as strings); an action's
    # completion breaks a tie between records started in the same instant.
    return sorted(mine, key=lambda r: (parse_stamp(r.timestamp), parse_stamp(r.completed_at)), reverse=True)


def put_record(client: Any, table: Table, record: DeploymentRecord, *, expect_status: str | None = None) -> None:
    """Write (or overwrite) ``record`` in ``table``.

    ``expect_status``: conditional on what this writer last wrote — ``""`` for a new record (it must
    not exist), else the status the stored record must still have. A record changed by someone else
    fails with ConditionalCheckFailedException instead of being overwritten blindly.
    """
    extra: dict[str, Any] = {}
    if expect_status == "":
        extra = {
            "ConditionExpression": "attribute_not_exists(#k)",
            "ExpressionAttributeNames": {"#k": table.hash_key.name},
        }
    elif expect_status is not None:
        extra = {
            "ConditionExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": expect_status}},
        }
    client.put_item(TableName=table.name, Item=to_item(table, record), **extra)


def amend(
    client: Any, table: Table | None, record: DeploymentRecord, status: str | None = None, **extra: Any
) -> DeploymentRecord:
    """A finished ``record`` rewritten with more attributes (``extra``, read back into ``extra``) and, when given,
    a new ``status``: conditional on the stored record still having the status it was finished with, so a
    record changed by someone else is never overwritten (ConditionalCheckFailedException). No table: nothing is
    written and the amended record is returned."""
    amended = replace(record, status=status or record.status, extra={**dict(record.extra), **extra})
    if table is not None:
        put_record(client, table, amended, expect_status=None if record.status is None else str(record.status))
    return amended


class AuditTrail:
    """One action's audit record: written IN_PROGRESS first, always finished COMPLETE or FAILED."""

    def __init__(self, client: Any, table: Table | None, record: DeploymentRecord, clock: Clock) -> None:
        self.client, self.table, self.clock = client, table, clock
        self.record = replace(record, status=IN_PROGRESS)
        self.written: str | None = None  # the status this trail last stored (its writes are conditional on it)

    def start(self) -> DeploymentRecord:
        """Write the IN_PROGRESS record, conditional on no record with its id (no table: nothing is written)."""
        if self.table is not None:
            put_record(self.client, self.table, self.record, expect_status="")
            self.written = str(self.record.status)
        return self.record

    def finish(self, status: str, **changes: Any) -> DeploymentRecord:
        """Rewrite the record with its final status, completion time and any changed fields, conditional on the
        stored record still having the status this trail last wrote."""
        self.record = replace(self.record, status=status, completed_at=utc_stamp(self.clock.now()), **changes)
        if self.table is not None:
            put_record(self.client, self.table, self.record, expect_status=self.written)
            self.written = status
        return self.record

    def update(self, **changes: Any) -> None:
        """Change fields of the record that ``finish`` will write (e.g. the functions map)."""
        self.record = replace(self.record, **changes)


@contextmanager
def audited(client: Any, table: Table | None, record: DeploymentRecord, clock: Clock) -> Iterator[AuditTrail]:
    """``with audited(...) as trail:`` — COMPLETE on normal exit, FAILED on any exception (KeyboardInterrupt too).

    The body may call ``trail.finish(FAILED)`` itself (a verified failure that raises nothing); the
    record is then left as the body finished it.
    """
    trail = AuditTrail(client, table, record, clock)
    trail.start()
    try:
        yield trail
    except BaseException:
        trail.finish(FAILED)
        raise
    if trail.record.status == IN_PROGRESS:
        trail.finish(COMPLETE)
