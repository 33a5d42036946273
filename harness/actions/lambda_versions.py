"""Lambda versions and aliases as the rollback and promotion runbooks read and move them.

Reads (plan time): the alias and the version it serves (000 §4.2.3) with that version's and ``$LATEST``'s
configuration (``served_state``: one place for the three reads), published versions with their
release labels (000 §4.2.1, 002 matches targets by Description), ``backup-*`` aliases (001 §6.2.1),
the SSM deployed-version history (002), functions found by name prefix (002 ListFunctions).
Writes (apply time): a checkpoint alias on the serving version (000 §4.2.4), the alias moved with
any weighted routing cleared (002 ``--routing-config '{}'``), the health invoke through the alias
(000 §4.2.5: ``fn:alias``, never the unqualified function, seed defect 3).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from botocore.exceptions import ClientError

from harness import aws
from harness.errors import HarnessError
from harness.health import health_problem
from harness.inventory.model import Environment

LATEST = "$LATEST"
NOT_FOUND = ("ResourceNotFoundException",)
CONFLICT = ("ResourceConflictException", "ConflictException")  # AWS's code, moto's code
ALIAS_STAMP = "%Y%m%d-%H%M%S"  # 000 §4.2.4 TIMESTAMP=$(date +%Y%m%d-%H%M%S)
# How much of a health payload a report keeps (evidence, not the judgement: that reads all of it).
PAYLOAD_EXCERPT = 300


@dataclass(frozen=True)
class Version:
    """A published version: number, release label (Description) and code hash."""

    number: str
    label: str
    code_sha: str

    def describe(self) -> str:
        """``2 (1.0.2)``."""
        return f"{self.number} ({self.label})" if self.label else self.number


@dataclass(frozen=True)
class HealthProbe:
    """One /health invoke through ``fn:alias`` and its verdict (000 §4.2.5, 001 §6.3.1)."""

    invoked: str
    at: datetime
    executed_version: str | None
    status_code: Any
    function_error: str | None
    problem: str | None  # None: healthy
    payload: str

    @property
    def ok(self) -> bool:
        """True when the answer passes the health rule (harness/health.py)."""
        return self.problem is None

    def line(self) -> str:
        """``fn:alias statusCode 200 (version 2)`` or the problem."""
        if self.ok:
            return f"{self.invoked}: statusCode {self.status_code} (version {self.executed_version})"
        return f"{self.invoked}: {self.problem} (version {self.executed_version})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "invoked": self.invoked,
            "at": self.at.isoformat(),
            "executed_version": self.executed_version,
            "status_code": self.status_code,
            "function_error": self.function_error,
            "problem": self.problem,
            "payload": self.payload,
        }


# -- reads -------------------------------------------------------------------------------------------


def version_key(number: str) -> int:
    """Numeric order of a published version number (``$LATEST`` last)."""
    return int(number) if number.isdigit() else 1 << 62


def published_versions(lam: Any, fn: str) -> list[Version]:
    """Every published version of ``fn`` (not $LATEST), in numeric order (000 §4.2.1)."""
    versions = aws.paginate(lam, "list_versions_by_function", "Versions", FunctionName=fn)
    out = [
        Version(v["Version"], v.get("Description") or "", v.get("CodeSha256") or "")
        for v in versions
        if v["Version"] != LATEST
    ]
    return sorted(out, key=lambda v: version_key(v.number))


def get_alias(lam: Any, fn: str, alias: str) -> dict[str, Any] | None:
    """The alias (``FunctionVersion``, ``RoutingConfig``, ...) or None when the function or alias does not exist."""
    got: dict[str, Any] | None = aws.get_or_none(lam.get_alias, *NOT_FOUND, FunctionName=fn, Name=alias)
    return got


@dataclass(frozen=True)
class ServedState:
    """``fn:alias`` as three reads found it: the alias, the version it serves, and ``$LATEST`` (000 §4.2.3, §6.6)."""

    function: str
    alias: str
    current: dict[str, Any]  # GetAlias
    served: dict[str, Any]  # GetFunctionConfiguration of the version the alias serves
    latest: dict[str, Any]  # GetFunctionConfiguration of $LATEST

    @property
    def version(self) -> str:
        """The version the alias serves."""
        return str(self.current["FunctionVersion"])

    @property
    def weights(self) -> dict[str, float]:
        """The alias's weighted routing (002 ``--routing-config``); empty when it routes to one version."""
        return dict((self.current.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {})


def env_variables(config: Mapping[str, Any]) -> dict[str, str]:
    """A function configuration's environment variables (empty when it has none)."""
    return dict((config.get("Environment") or {}).get("Variables") or {})


def served_state(lam: Any, fn: str, alias: str) -> ServedState:
    """GetAlias, then GetFunctionConfiguration of the version it serves and of ``$LATEST`` (ClientError when either is
    missing).

    The served version's configuration, not ``$LATEST``'s, is what traffic runs (000 §4.2.3, seed defect 3); ``$LATEST``
    is read too because publishing releases it (a table switch refuses while it differs, 000 §6.6).
    """
    current = lam.get_alias(FunctionName=fn, Name=alias)
    served = lam.get_function_configuration(FunctionName=fn, Qualifier=current["FunctionVersion"])
    return ServedState(fn, alias, current, served, lam.get_function_configuration(FunctionName=fn))


def previous_version(versions: list[Version], current: str) -> Version | None:
    """The published version before the one the alias serves, or None.

    Not the second-to-last published version (000 §4.4 ``.[-2]`` and 002's ``Versions[-2]``
    fallback, seed defect 4): after an earlier rollback, or with newer versions published but not
    deployed, that is the wrong target. 002 rollback-service.sh walks to the version before the
    current one, as here. From $LATEST the previous version is the newest published one.
    """
    key = version_key(current)
    earlier = [v for v in versions if version_key(v.number) < key]
    return earlier[-1] if earlier else None


def find_version(versions: list[Version], number: str) -> Version | None:
    """The published version numbered ``number``."""
    return next((v for v in versions if v.number == number), None)


def version_with_label(versions: list[Version], label: str) -> Version | None:
    """The newest published version whose Description is ``label`` (002 ``Versions[?Description==...]``)."""
    matching = [v for v in versions if v.label == label]
    return matching[-1] if matching else None


def aliases_with_prefix(lam: Any, fn: str, prefix: str) -> list[dict[str, Any]]:
    """``fn``'s aliases whose name starts with ``prefix``, oldest name first (001 §6.2.1 ``starts_with(Name,
    `backup-`)``)."""
    found = [a for a in aws.paginate(lam, "list_aliases", "Aliases", FunctionName=fn) if a["Name"].startswith(prefix)]
    return sorted(found, key=lambda a: a["Name"])


def ssm_history(ssm: Any, name: str) -> list[str]:
    """The parameter's values, oldest first (002 ``get-parameter-history``; SSM keeps the last 100)."""
    return [str(p.get("Value")) for p in aws.paginate(ssm, "get_parameter_history", "Parameters", Name=name)]


def previous_deployed(history: list[str], current: str | None) -> str | None:
    """The value deployed before the current one first appeared in ``history``, or None.

    002 takes ``Parameters[-2]``: after a rollback (which writes the target back into the
    parameter) that is the release just rolled back from, and after a redeploy of the same release
    it is the current one — seed defect 4 again. The release before the current one's first
    appearance is what "the previous deployed version" means in either case.
    """
    if not history:
        return None
    current = history[-1] if current is None else current
    if current not in history:
        return history[-1]
    first = history.index(current)
    return history[first - 1] if first > 0 else None


def discover(lam: Any, prefixes: Iterable[str]) -> dict[str, list[str]]:
    """Functions whose name starts with each prefix (002 ``list-functions`` + ``starts_with``), one listing."""
    wanted = list(prefixes)
    if not wanted:
        return {}
    names = sorted(f["FunctionName"] for f in aws.paginate(lam, "list_functions", "Functions"))
    return {p: [n for n in names if n.startswith(p)] for p in wanted}


def service_functions(env: Environment, service: str | None, lam: Any) -> list[tuple[str, str]]:
    """(function, service) pairs of the inventory (or of one ``service``), discovery prefixes resolved."""
    named = [(f.name, f.service) for f in env.functions if service in (None, f.service)]
    prefixes = [d for d in env.discovery if service in (None, d.service)]
    found = discover(lam, [d.prefix for d in prefixes]) if prefixes else {}
    for d in prefixes:
        named += [(n, d.service) for n in found.get(d.prefix, []) if n not in {m for m, _ in named}]
    return named


def services(env: Environment) -> list[str]:
    """The inventory's service names, in inventory order."""
    names = [f.service for f in env.functions] + [d.service for d in env.discovery]
    return list(dict.fromkeys(names))


def service_of(env: Environment, fn: str) -> str | None:
    """The service ``fn`` belongs to (named, or by discovery prefix), or None when the inventory lacks it."""
    for f in env.functions:
        if f.name == fn:
            return f.service
    for d in env.discovery:
        if fn.startswith(d.prefix):
            return d.service
    return None


def stamp(at: datetime) -> str:
    """``20260125-103045``: the runbooks' alias timestamp, in UTC."""
    return at.astimezone(timezone.utc).strftime(ALIAS_STAMP)


# -- writes ------------------------------------------------------------------------------------------


def create_alias(lam: Any, fn: str, name: str, version: str, description: str) -> str:
    """Create alias ``name`` on ``version``; returns the name used (see :func:`create_alias_once`)."""
    return create_alias_once(lam, fn, name, version, description)[0]


def create_alias_once(lam: Any, fn: str, name: str, version: str, description: str) -> tuple[str, bool]:
    """Create alias ``name`` on ``version``; returns the name used and whether this call created it.

    Two actions within one second would name the same alias (the runbook's timestamp has second
    resolution): an existing alias on the same version already is that checkpoint and is kept; one
    on another version gets a numbered sibling (``name-2``), never an overwrite.
    """
    candidate, n = name, 1
    while True:
        try:
            lam.create_alias(FunctionName=fn, Name=candidate, FunctionVersion=version, Description=description)
            return candidate, True
        except ClientError as exc:
            if aws.error_code(exc) not in CONFLICT:
                raise
            existing = get_alias(lam, fn, candidate)
            if existing is not None and existing.get("FunctionVersion") == version:
                return candidate, False
            n += 1
            candidate = f"{name}-{n}"


PRECONDITION_FAILED = "PreconditionFailedException"  # UpdateAlias with a RevisionId that is no longer current


class AliasMoved(Exception):
    """The alias changed after the plan read it (a stale RevisionId): the plan's move would be blind."""

    def __init__(self, fn: str, alias: str, planned: str | None, now: dict[str, Any] | None) -> None:
        self.function, self.alias, self.planned = fn, alias, planned
        self.now = str(now["FunctionVersion"]) if now else None
        self.now_routing = dict(((now or {}).get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {})
        super().__init__(fn, alias)

    def __str__(self) -> str:
        routing = f" with routing {self.now_routing}" if self.now_routing else ""
        return f"alias {self.alias} moved since the plan: was {self.planned}, now {self.now}{routing}"


def point_alias(
    lam: Any, fn: str, alias: str, version: str, description: str, *, revision_id: str | None = None
) -> dict[str, Any]:
    """Move ``alias`` to ``version`` with any weighted routing cleared (002 ``--routing-config '{}'``).

    With ``revision_id`` (the alias's RevisionId as the plan read it) the move is conditional: AWS
    answers PreconditionFailedException when the alias changed since, raised here as AliasMoved with
    what it serves now. Never retried: the operator decides from a fresh plan.
    """
    extra = {"RevisionId": revision_id} if revision_id else {}
    try:
        moved: dict[str, Any] = lam.update_alias(
            FunctionName=fn,
            Name=alias,
            FunctionVersion=version,
            Description=description,
            RoutingConfig={"AdditionalVersionWeights": {}},
            **extra,
        )
        return moved
    except ClientError as exc:
        if aws.error_code(exc) != PRECONDITION_FAILED:
            raise
        raise AliasMoved(fn, alias, None, get_alias(lam, fn, alias)) from None


def invoke_health(
    lam: Any, fn: str, alias: str, payload: Mapping[str, Any], want_status: int, at: datetime
) -> HealthProbe:
    """Invoke ``fn:alias`` with the runbook's /health payload and judge the answer (000 §4.2.5).

    ``fn:alias`` rather than ``Qualifier=``: moto server ignores the qualifier on Invoke, and the
    unqualified function would run $LATEST (001 §3.3, seed defect 3).
    """
    qualified = f"{fn}:{alias}"
    resp = lam.invoke(FunctionName=qualified, Payload=json.dumps(payload).encode())
    raw = resp["Payload"].read().decode("utf-8", "replace")
    problem = health_problem(resp.get("FunctionError"), None, raw, want_status)
    ok, doc = (True, json.loads(raw)) if raw.strip().startswith("{") else (False, None)
    status = doc.get("statusCode") if ok and isinstance(doc, dict) else None
    return HealthProbe(
        qualified, at, resp.get("ExecutedVersion"), status, resp.get("FunctionError"), problem, raw[:PAYLOAD_EXCERPT]
    )


def function_code(target: Any, fn: str, qualifier: str, location: str | None) -> bytes:
    """A version's deployment package: the target's own handle where it has one, else the presigned URL.

    On AWS ``GetFunction``'s ``Code.Location`` is a presigned S3 URL (001 §3.2.1 "Download Lambda
    package"); the embedded emulator's answers a plain GET too (``fidelity/lambda_code_location.py``, as
    ``harness serve`` clients use it), but the in-process target reads the zip through its handle (no HTTP hop).
    """
    reader = getattr(target, "function_code", None)
    if callable(reader):
        return bytes(reader(fn, qualifier))
    if not location:
        raise HarnessError(f"{fn}:{qualifier} has no downloadable code location")
    import requests  # only a real promotion downloads

    resp = requests.get(location, timeout=60)
    if resp.status_code != 200:
        raise HarnessError(f"downloading {fn}:{qualifier}'s package failed: HTTP {resp.status_code}")
    return resp.content
