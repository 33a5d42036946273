"""Lambda rows: the alias serves a published version (000 §7.1 step 1, §7.4), the alias answers
/health (000 §4.2.5, §7.1 step 2) and the source environment is healthy before promotion (001 §3.1.1).

Health is always invoked on ``fn:alias``: 001 §3.3 and §4.3.1 invoke the unqualified function,
which runs $LATEST, not the version that serves traffic (seed defect 3).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from harness import aws
from harness.checks.context import CheckContext, Row
from harness.checks.functions import for_each_function
from harness.checks.health_body import declared_unhealthy, parse_json
from harness.checks.result import CheckResult, Verdict
from harness.records import DeploymentRecord, read_records

NOT_FOUND = ("ResourceNotFoundException",)
CONTROL_PLANE = "control-plane"  # the client lane of Lambda's shared control-plane quota
# A record in one of these states does not say where the alias stands (an action still running, or
# one that failed: 002 marks FAILED after moving the alias, the harness after restoring it).
UNSETTLED_STATUSES = ("IN_PROGRESS", "FAILED")


# -- expected version ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """The version a function's alias must serve, where that comes from, and the record used."""

    version: str | None  # a version number or a release label; None: unknown
    source: str
    record: dict[str, Any] | None = None


def _version_configuration(ctx: CheckContext, fn: str, version: str) -> dict[str, Any] | None:
    """A published version's configuration (its Description is the release label), or None when
    ``fn`` has no such version: one GetFunction call, cached for the phase.

    GetFunction, not ListVersionsByFunction or GetFunctionConfiguration: it has a quota of its own
    (100 requests per second), while those two share the 15 per second of Lambda's remaining control
    plane with GetAlias, which every function's row needs (Lambda quotas, "API request rate quotas").
    """
    key = f"version:{fn}:{version}"
    if key not in ctx.cache:
        try:
            ctx.cache[key] = ctx.client("lambda").get_function(FunctionName=fn, Qualifier=version)["Configuration"]
        except ClientError as exc:
            if not aws.is_not_found(exc, *NOT_FOUND):
                raise
            ctx.cache[key] = None
    configuration: dict[str, Any] | None = ctx.cache[key]
    return configuration


def _records(ctx: CheckContext) -> list[DeploymentRecord]:
    """Deployment and rollback records of this environment, newest first (001 §6.3.2, 002 §4)."""
    if "records" not in ctx.cache:
        ctx.cache["records"] = read_records(ctx.client("dynamodb"), ctx.env)
    records: list[DeploymentRecord] = ctx.cache["records"]
    return records


def _from_record(ctx: CheckContext, rec: DeploymentRecord, fn: str) -> Expectation | None:
    """What ``rec`` says about ``fn``: an expectation, an "unknown" one, or None (about other functions)."""
    if rec.resource:
        return None  # a state or data action's record (state-restore, pitr-restore, ...): no function version
    source = f"{rec.action} record {rec.record_id} ({rec.timestamp}, {rec.status or 'no status'})"
    change = rec.change_for(fn)
    if change is None:
        if rec.function or rec.functions:
            return None  # names other functions only
        if rec.services and ctx.service_of(fn) not in rec.services:
            return None  # about other services (002 §1 services list)
    settled = (change.outcome if change and change.outcome else rec.status) not in UNSETTLED_STATUSES
    if change is not None and change.final_version:
        return Expectation(change.final_version, source + ", final version", rec.summary())
    version = change.to_version if change is not None else rec.to_version
    if not settled:
        return Expectation(None, f"{source}: the newest record that applies is not settled", rec.summary())
    if not version:
        return Expectation(None, f"{source}: the record names no target version", rec.summary())
    if change is None and str(version).isdigit():
        # 001 §6.3.2's record carries no function name: a bare version number cannot be applied to
        # this function, and an older record must not stand in for it.
        return Expectation(None, f"{source}: version {version} without a function name", rec.summary())
    return Expectation(str(version), source, rec.summary())


def expected_version(ctx: CheckContext, fn: str) -> Expectation:
    """The version ``fn``'s alias must serve: --expect-version, else the newest record that applies to
    it (whatever its action), else SSM deployed-version (002 §1), else unknown."""
    if fn in ctx.expect_versions:
        return Expectation(ctx.expect_versions[fn], "--expect-version")
    for rec in _records(ctx):
        found = _from_record(ctx, rec, fn)
        if found is not None:
            return found
    if ctx.env.ssm_deployed_version:
        if "ssm-deployed" not in ctx.cache:
            param = aws.get_or_none(
                ctx.client("ssm").get_parameter, "ParameterNotFound", Name=ctx.env.ssm_deployed_version
            )
            ctx.cache["ssm-deployed"] = param["Parameter"]["Value"] if param else None
        if ctx.cache["ssm-deployed"]:
            return Expectation(ctx.cache["ssm-deployed"], f"SSM {ctx.env.ssm_deployed_version}")
    return Expectation(None, "no --expect-version, record or SSM parameter applies")


# -- lambda-alias-version --------------------------------------------------------------------------


def check_alias_version(ctx: CheckContext, row: Row) -> CheckResult:
    """The env alias points to a published version (not $LATEST), without weighted routing, and to
    the expected version when one is known (000 §7.4 "points to rollback version")."""
    return for_each_function(
        ctx, row, _alias_version, f"alias {ctx.env.alias} on a published version, no weighted routing"
    )


def _alias_version(ctx: CheckContext, row: Row, fn: str) -> CheckResult:
    alias = ctx.env.alias
    expectation = expected_version(ctx, fn)
    want, source = expectation.version, expectation.source
    expected = f"alias {alias} on a published version, not $LATEST, no weighted routing"
    expected += f", version {want} (from {source})" if want else " (expected version unknown)"
    try:
        # Its own client: GetAlias draws on Lambda's remaining control plane, 15 requests per second across
        # all its APIs, whose throttles must not slow GetFunction (100/s) or Invoke (Lambda quotas).
        a = ctx.lane_client("lambda", CONTROL_PLANE).get_alias(FunctionName=fn, Name=alias)
    except ClientError as exc:
        if aws.is_not_found(exc, *NOT_FOUND):
            return row.result(expected, f"{fn}: alias {alias} not found", Verdict.FAIL, function=fn, error=str(exc))
        raise
    version = a["FunctionVersion"]
    weights = (a.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    evidence: dict[str, Any] = {
        "function": fn,
        "alias": alias,
        "function_version": version,
        "routing": weights,
        "expected_version": want,
        "expected_source": source,
        "record": expectation.record,
    }
    problems = []
    description = None
    if version == "$LATEST":
        problems.append("points to $LATEST")
    elif want and not want.isdigit():
        # A release label is a version's Description (002 matches rollback targets by it): read that version
        # only then. An alias names a published version or $LATEST (CreateAlias/UpdateAlias refuse others),
        # so a number needs no read of its own.
        configuration = _version_configuration(ctx, fn, version)
        if configuration is None:
            problems.append(f"version {version} is not a published version of {fn}")
        else:
            description = configuration.get("Description") or ""
            evidence["version_description"] = description
    if weights:
        problems.append(f"weighted routing left over: {weights}")
    if want and not problems:
        matches = want == version if want.isdigit() else want == description
        if not matches:
            problems.append(f"expected {'version' if want.isdigit() else 'release'} {want} ({source})")
    label = f" ({description})" if description else ""
    observed = f"version {version}{label}" + (f", routing {weights}" if weights else "")
    if not want:
        observed += f"; expected version unknown ({source})"
    if problems:
        return row.result(expected, f"{observed}: {'; '.join(problems)}", Verdict.FAIL, **evidence)
    return row.result(expected, observed, Verdict.PASS, **evidence)


# -- health-endpoint / source-health ---------------------------------------------------------------


def invoke_health(ctx: CheckContext, fn: str) -> dict[str, Any]:
    """Invoke ``fn:alias`` with the runbook's health payload; the parsed outcome (000 §4.2.5)."""
    qualified = f"{fn}:{ctx.env.alias}"
    resp = ctx.client("lambda").invoke(FunctionName=qualified, Payload=json.dumps(ctx.env.health_payload).encode())
    raw = resp["Payload"].read().decode("utf-8", "replace")
    is_json, doc = parse_json(raw) if raw else (False, None)
    return {
        "invoked": qualified,
        "executed_version": resp.get("ExecutedVersion"),
        "function_error": resp.get("FunctionError"),
        "payload": raw[:2000],
        "status_code": doc.get("statusCode") if isinstance(doc, dict) else None,
        # judged on the whole payload, never on the truncated evidence text
        "declared_unhealthy": declared_unhealthy(doc) if is_json else None,
    }


def _health_outcome(
    ctx: CheckContext, row: Row, fn: str, expected: str, extra: dict[str, Any] | None = None
) -> CheckResult:
    want = ctx.env.auto_rollback.health_status
    try:
        h = invoke_health(ctx, fn)
    except ClientError as exc:
        if aws.is_not_found(exc, *NOT_FOUND):
            return row.result(
                expected, f"{fn}:{ctx.env.alias} not found", Verdict.FAIL, function=fn, error=str(exc), **(extra or {})
            )
        raise
    evidence = {"function": fn, **h, **(extra or {})}
    if h["function_error"]:
        return row.result(
            expected,
            f"{h['invoked']}: function error {h['function_error']}: {h['payload'][:200]}",
            Verdict.FAIL,
            **evidence,
        )
    if h["status_code"] != want:
        return row.result(
            expected,
            f"{h['invoked']}: statusCode {h['status_code']} (payload {h['payload'][:200]})",
            Verdict.FAIL,
            **evidence,
        )
    if h["declared_unhealthy"]:
        # 000 §7.2 reads .status: a 200 whose body says "unhealthy" is a failing health check.
        return row.result(
            expected,
            f"{h['invoked']}: statusCode {h['status_code']} but {h['declared_unhealthy']} (payload "
            f"{h['payload'][:200]})",
            Verdict.FAIL,
            **evidence,
        )
    return row.result(
        expected,
        f"{h['invoked']}: statusCode {h['status_code']} (version {h['executed_version']})",
        Verdict.PASS,
        **evidence,
    )


def check_health_endpoint(ctx: CheckContext, row: Row) -> CheckResult:
    """Invoking ``fn:alias`` with the /health payload returns statusCode 200 (000 §7.1 step 2)."""
    want = ctx.env.auto_rollback.health_status
    expected = (
        f"invoke {{fn}}:{ctx.env.alias} with {ctx.env.health_payload.get('path', 'health')} payload -> "
        f"statusCode {want}, body declares no failing status"
    )
    return for_each_function(ctx, row, lambda c, r, fn: _health_outcome(c, r, fn, expected.format(fn=fn)), expected)


def check_source_health(ctx: CheckContext, row: Row) -> CheckResult:
    """Source function is Active and its alias answers /health with 200 (001 §3.1.1, §7.1)."""
    return for_each_function(ctx, row, _source_health, "")


def _source_health(ctx: CheckContext, row: Row, fn: str) -> CheckResult:
    want = ctx.env.auto_rollback.health_status
    expected = f"{fn}:{ctx.env.alias} State Active, last update Successful, /health statusCode {want}"
    try:
        cfg = ctx.client("lambda").get_function(FunctionName=fn, Qualifier=ctx.env.alias)["Configuration"]
    except ClientError as exc:
        if aws.is_not_found(exc, *NOT_FOUND):
            return row.result(expected, f"{fn}:{ctx.env.alias} not found", Verdict.FAIL, function=fn, error=str(exc))
        raise
    state = {
        "State": cfg.get("State"),
        "LastUpdateStatus": cfg.get("LastUpdateStatus"),
        "CodeSha256": cfg.get("CodeSha256"),
        "Version": cfg.get("Version"),
    }
    if state["State"] != "Active" or state["LastUpdateStatus"] not in (None, "Successful"):
        return row.result(
            expected,
            f"State {state['State']}, last update {state['LastUpdateStatus']}",
            Verdict.FAIL,
            function=fn,
            configuration=state,
        )
    return _health_outcome(ctx, row, fn, expected, {"configuration": state})
