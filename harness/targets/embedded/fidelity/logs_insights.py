"""CloudWatch Logs Insights queries over many log groups (moto parses ``fields``, ``sort`` and ``limit``
only: a ``filter`` is ignored and every event of the groups comes back, which would read as a match).

StartQuery takes up to 50 log groups in one query (CloudWatch Logs API reference, StartQuery:
"You can include up to 50 log groups"), so a checklist reads the error lines of 50 functions in one
call instead of 50 FilterLogEvents calls, whose quota is 5 per second per account. For the accounts the
extensions serve, StartQuery runs the query language's subset the harness uses, as AWS documents it
(CloudWatch Logs User Guide, "CloudWatch Logs Insights language query syntax"):

- ``fields f1, f2``: the fields each result carries, plus ``@ptr`` (always present);
- ``filter <field> like "text"`` (case-sensitive substring), ``like /regex/`` and ``not like``;
- ``sort <field> asc|desc`` (default: ``@timestamp desc``), ``limit n`` (default 10,000 results);
- ``@timestamp`` as ``YYYY-MM-DD HH:MM:SS.mmm`` (UTC), ``@log`` as ``account-id:log-group-name``;
- startTime and endTime are epoch seconds, both inclusive (the end second in full);
- more than 50 log groups: ``InvalidParameterException``; a command outside the subset is refused with
  ``MalformedQueryException`` rather than answered wrongly.

A query takes time on the target's clock (API reference, GetQueryResults: status ``Scheduled``,
``Running``, ``Complete``, ...): ``Scheduled`` for ``SCHEDULED_S``, then ``Running`` (no results yet)
until ``RUNNING_S`` after StartQuery, then ``Complete`` with its results; a client polls until then.
StopQuery (moto has none: HTTP 500) cancels a query not yet complete (``Cancelled``, ``success: true``);
"if the query has already ended, the operation returns an error indicating that the specified query is
not running" (API reference, StopQuery): ``InvalidParameterException`` 400, the only 400 it lists that fits.
GetQueryResults and StopQuery of an unknown id answer
``ResourceNotFoundException`` (moto: HTTP 500).
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timezone
from typing import Any

from moto.logs.exceptions import InvalidParameterException, LogsClientError, ResourceNotFoundException
from moto.logs.models import LogsBackend
from moto.logs.responses import LogsResponse

from harness.targets.embedded.fidelity import registry

MAX_LOG_GROUPS = 50  # StartQuery: "You can include up to 50 log groups"
# Assumed durations (AWS publishes none; small queries over a few groups take seconds on AWS): long enough
# that a client which reads results once, without polling, sees no results, as it would on AWS.
SCHEDULED_S = 0.5
RUNNING_S = 2.0
CANCELLED_ATTR = "_harness_cancelled"
DEFAULT_LIMIT = 10_000  # "If you omit limit, the query will return as many as 10,000 log events"
FILTER_RE = re.compile(
    r"^(?P<field>@?\w+)\s+(?P<neg>not\s+)?like\s+(?:\"(?P<text>(?:[^\"\\]|\\.)*)\"|/(?P<regex>.*)/)$"
)


class MalformedQueryException(LogsClientError):
    """The query uses syntax the emulation does not implement (AWS's code for an unparsable query)."""

    def __init__(self, message: str) -> None:
        super().__init__("MalformedQueryException", message)


def split_commands(query: str) -> list[str]:
    """The query's commands, split on ``|`` outside quotes and regular expressions."""
    out, current, quote = [], "", ""
    for ch in query:
        if quote:
            current += ch
            if ch == quote:
                quote = ""
        elif ch in "\"'/":
            quote, current = ch, current + ch
        elif ch == "|":
            out.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        out.append(current.strip())
    return out


def timestamp_text(millis: int) -> str:
    """``@timestamp`` as Insights shows it: ``2026-01-25 22:00:00.123`` (UTC)."""
    at = datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
    return at.strftime("%Y-%m-%d %H:%M:%S.") + f"{millis % 1000:03d}"


def run(account: str, groups: list[Any], start_s: int, end_s: int, query: str) -> list[dict[str, str]]:
    """The results of ``query`` over ``groups`` in [start_s, end_s] (seconds, inclusive)."""
    fields: list[str] = []
    filters: list[tuple[str, bool, str | None, re.Pattern[str] | None]] = []
    sort_field, descending, limit = "@timestamp", True, DEFAULT_LIMIT
    for command in split_commands(query):
        verb, _, rest = command.partition(" ")
        rest = rest.strip()
        if verb == "fields":
            fields += [f.strip() for f in rest.split(",") if f.strip()]
        elif verb == "filter":
            match = FILTER_RE.match(rest)
            if not match:
                raise MalformedQueryException(
                    f"filter expression not emulated by the harness's embedded target: {rest!r}"
                )
            text = match.group("text")
            regex = re.compile(match.group("regex")) if match.group("regex") is not None else None
            filters.append(
                (
                    match.group("field"),
                    bool(match.group("neg")),
                    None if text is None else text.replace('\\"', '"'),
                    regex,
                )
            )
        elif verb == "sort":
            parts = rest.split()
            sort_field, descending = parts[0], not (len(parts) > 1 and parts[1].lower() == "asc")
        elif verb == "limit":
            limit = int(rest)
        else:
            raise MalformedQueryException(f"query command {verb!r} not emulated by the harness's embedded target")
    first_ms, last_ms = start_s * 1000, end_s * 1000 + 999
    matched: list[dict[str, Any]] = []
    for group in groups:
        for stream in group.streams.values():
            for event in stream.events:
                if not first_ms <= event.timestamp <= last_ms:
                    continue
                values = {
                    "@timestamp": event.timestamp,
                    "@message": event.message,
                    "@logStream": stream.log_stream_name,
                    "@log": f"{account}:{group.name}",
                    "@ptr": str(event.event_id),
                }
                if all(_matches(str(values.get(f, "")), neg, text, regex) for f, neg, text, regex in filters):
                    matched.append(values)
    matched.sort(key=lambda v: v.get(sort_field, ""), reverse=descending)
    wanted = fields or ["@timestamp", "@message"]
    out = []
    for values in matched[:limit]:
        row = {f: (timestamp_text(values[f]) if f == "@timestamp" else str(values[f])) for f in wanted if f in values}
        row["@ptr"] = values["@ptr"]
        out.append(row)
    return out


def _matches(value: str, negated: bool, text: str | None, regex: re.Pattern[str] | None) -> bool:
    found = (text in value) if text is not None else bool(regex and regex.search(value))
    return found != negated


def _backend_start_query(original: Any) -> Any:
    def start_query(
        self: LogsBackend, log_group_names: list[str], start_time: int, end_time: int, query_string: str
    ) -> Any:  # the query id moto's StartQuery gives (its own pass always runs)
        ctx = registry.context(self.account_id)
        if ctx is None:
            return original(self, log_group_names, start_time, end_time, query_string)
        if len(log_group_names or []) > MAX_LOG_GROUPS:
            raise InvalidParameterException(
                f"logGroupNames: up to {MAX_LOG_GROUPS} log groups per query, got {len(log_group_names)}"
            )
        results = None
        if all(
            name in self.groups for name in log_group_names
        ):  # else moto raises ResourceNotFoundException, as AWS does
            results = run(
                self.account_id, [self.groups[n] for n in log_group_names], start_time, end_time, query_string
            )
        query_id = original(
            self, log_group_names, start_time, end_time, "fields @ptr | limit 1"
        )  # moto's own pass, kept cheap
        query = self.queries[query_id]
        query.query, query.results = query_string, results or []
        return query_id

    start_query.__doc__ = "StartQuery with filter/fields/sort/limit over up to 50 log groups (fidelity extension)."
    return start_query


def query_status(ctx: registry.AccountContext, query: Any) -> str:
    """A query's status at the target clock's now (module docstring)."""
    if getattr(query, CANCELLED_ATTR, False):
        return "Cancelled"
    now = ctx.clock.now().astimezone(timezone.utc).replace(tzinfo=None)
    elapsed = (now - query.create_time).total_seconds()
    return "Scheduled" if elapsed < SCHEDULED_S else "Running" if elapsed < RUNNING_S else "Complete"


def _known(backend: LogsBackend, query_id: str) -> Any:
    if query_id not in backend.queries:
        raise ResourceNotFoundException(f"Query does not exist: {query_id}")
    return backend.queries[query_id]


def _backend_get_query_results(original: Any) -> Any:
    def get_query_results(self: LogsBackend, query_id: str) -> Any:
        ctx = registry.context(self.account_id)
        if ctx is None:
            return original(self, query_id)
        view = copy.copy(_known(self, query_id))
        view.status = query_status(ctx, view)
        if view.status != "Complete":
            view.results = []
        return view

    get_query_results.__doc__ = "GetQueryResults: Scheduled, Running, then Complete on the target's clock (fidelity)."
    return get_query_results


def stop_query(self: LogsResponse) -> str:
    """StopQuery (CloudWatch Logs API reference): cancel a query that is not complete yet; an ended one is refused."""
    backend = self.logs_backend
    ctx = registry.context(backend.account_id)
    query_id = self._get_param("queryId")
    if ctx is None:
        raise InvalidParameterException("StopQuery is not emulated for this account")
    query = _known(backend, query_id)
    status = query_status(ctx, query)
    if status not in ("Scheduled", "Running"):
        raise InvalidParameterException(f"Query {query_id} is not running (it is {status}).")
    setattr(query, CANCELLED_ATTR, True)
    return json.dumps({"success": True})


PATCHES: tuple[registry.Patch, ...] = (
    (LogsBackend, "start_query", _backend_start_query),
    (LogsBackend, "get_query_results", _backend_get_query_results),
)
# Operations moto does not define at all, added to its response class (acting only for served accounts).
ADDED = ((LogsResponse, "stop_query", stop_query),)


def install() -> None:
    """Patch moto's Logs Insights StartQuery and GetQueryResults, add StopQuery (once per process)."""
    registry.patch_all(PATCHES)
    for owner, name, fn in ADDED:
        if name in owner.__dict__ and owner.__dict__[name] is not fn:
            raise AttributeError(f"{owner.__name__} now defines '{name}' itself: re-check logs_insights")
        setattr(owner, name, fn)
