"""Lambda rows: the alias serves a published version (000 §7.1 step 1, §7.4), the alias answers
/health (000 §4.2.5, §7.1 step 2) and the source environment is healthy before promotion (001 §3.1.1).

Health is always invoked on ``fn:alias``: 001 §3.3 and §4.3.1 invoke the unqualified function,
which runs $LATEST, not the version that serves traffic (seed defect 3).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from checks.context import CheckContext, Row
from checks.functions import for_each_function
from checks.result import CheckResult, Verdict

NOT_FOUND = ("ResourceNotFoundException",)
# Statuses of a rollback record that do not describe what is live (002 §1 writes FAILED on failure).
DISCARDED_RECORD_STATUSES = ("FAILED",)


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


# -- expected version ------------------------------------------------------------------------------


def _published_versions(ctx: CheckContext, fn: str) -> dict[str, dict[str, Any]]:
    key = f"versions:{fn}"
    if key not in ctx.cache:
        pages = ctx.client("lambda").get_paginator("list_versions_by_function").paginate(FunctionName=fn)
        ctx.cache[key] = {v["Version"]: v for p in pages for v in p["Versions"] if v["Version"] != "$LATEST"}
    return ctx.cache[key]


def _rollback_records(ctx: CheckContext) -> list[dict[str, Any]]:
    """Rollback records of this environment, newest first (001 §6.3.2 step 7, 002 §1 PK ROLLBACK#...)."""
    table = ctx.env.deployments_table
    if table is None:
        return []
    if "rollback-records" not in ctx.cache:
        pages = ctx.client("dynamodb").get_paginator("scan").paginate(TableName=table.name)
        records = []
        for page in pages:
            for item in page["Items"]:
                rec = {k: next(iter(v.values())) for k, v in item.items()}
                is_rollback = rec.get("action") == "rollback" or str(rec.get("PK", "")).startswith("ROLLBACK#")
                if not is_rollback or rec.get("environment", ctx.env.name) != ctx.env.name:
                    continue
                if rec.get("status") in DISCARDED_RECORD_STATUSES:
                    continue
                records.append(rec)
        records.sort(key=lambda r: str(r.get("timestamp") or r.get("initiated_at") or ""), reverse=True)
        ctx.cache["rollback-records"] = records
    return ctx.cache["rollback-records"]


def _record_applies(ctx: CheckContext, rec: dict[str, Any], fn: str) -> bool:
    named = rec.get("function") or rec.get("function_name")
    if named:
        return named == fn
    services = [s.strip() for s in str(rec.get("services", "")).split(",") if s.strip()]
    if services and ctx.service_of(fn) not in services:
        return False
    # A bare version number is only meaningful for one function: 001 §6.3.2's record carries no
    # function name, so its to_version cannot be applied to the others.
    return not str(rec.get("to_version", "")).isdigit()


def expected_version(ctx: CheckContext, fn: str) -> tuple[str | None, str]:
    """(version number or release label, where it came from): --expect-version, rollback record, SSM."""
    if fn in ctx.expect_versions:
        return ctx.expect_versions[fn], "--expect-version"
    for rec in _rollback_records(ctx):
        if _record_applies(ctx, rec, fn) and rec.get("to_version"):
            rid = rec.get("deployment_id") or rec.get("rollback_id") or rec.get("PK")
            return str(rec["to_version"]), f"rollback record {rid}"
    if ctx.env.ssm_deployed_version:
        if "ssm-deployed" not in ctx.cache:
            try:
                ctx.cache["ssm-deployed"] = ctx.client("ssm").get_parameter(Name=ctx.env.ssm_deployed_version)["Parameter"]["Value"]
            except ClientError as exc:
                if _code(exc) != "ParameterNotFound":
                    raise
                ctx.cache["ssm-deployed"] = None
        if ctx.cache["ssm-deployed"]:
            return ctx.cache["ssm-deployed"], f"SSM {ctx.env.ssm_deployed_version}"
    return None, "none known"


# -- lambda-alias-version --------------------------------------------------------------------------


def check_alias_version(ctx: CheckContext, row: Row) -> CheckResult:
    """The env alias points to a published version (not $LATEST), without weighted routing, and to
    the expected version when one is known (000 §7.4 "points to rollback version")."""
    return for_each_function(ctx, row, _alias_version, f"alias {ctx.env.alias} on a published version, no weighted routing")


def _alias_version(ctx: CheckContext, row: Row, fn: str) -> CheckResult:
    alias = ctx.env.alias
    want, source = expected_version(ctx, fn)
    expected = f"alias {alias} on a published version, not $LATEST, no weighted routing"
    expected += f", version {want} (from {source})" if want else " (no expected version known)"
    try:
        a = ctx.client("lambda").get_alias(FunctionName=fn, Name=alias)
    except ClientError as exc:
        if _code(exc) in NOT_FOUND:
            return row.result(expected, f"{fn}: alias {alias} not found", Verdict.FAIL, function=fn, error=str(exc))
        raise
    version = a["FunctionVersion"]
    weights = (a.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    evidence: dict[str, Any] = {"function": fn, "alias": alias, "function_version": version, "routing": weights, "expected_version": want, "expected_source": source}
    problems = []
    description = None
    if version == "$LATEST":
        problems.append("points to $LATEST")
    else:
        published = _published_versions(ctx, fn)
        if version not in published:
            problems.append(f"version {version} is not a published version ({', '.join(published) or 'none'})")
        else:
            description = published[version].get("Description") or ""
            evidence["version_description"] = description
    if weights:
        problems.append(f"weighted routing left over: {weights}")
    if want and not problems:
        matches = want == version if want.isdigit() else want == description
        if not matches:
            problems.append(f"expected {'version' if want.isdigit() else 'release'} {want} ({source})")
    label = f" ({description})" if description else ""
    observed = f"version {version}{label}" + (f", routing {weights}" if weights else "")
    if problems:
        return row.result(expected, f"{observed}: {'; '.join(problems)}", Verdict.FAIL, **evidence)
    return row.result(expected, observed, Verdict.PASS, **evidence)


# -- health-endpoint / source-health ---------------------------------------------------------------


def invoke_health(ctx: CheckContext, fn: str) -> dict[str, Any]:
    """Invoke ``fn:alias`` with the runbook's health payload; the parsed outcome (000 §4.2.5)."""
    qualified = f"{fn}:{ctx.env.alias}"
    resp = ctx.client("lambda").invoke(FunctionName=qualified, Payload=json.dumps(ctx.env.health_payload).encode())
    raw = resp["Payload"].read().decode("utf-8", "replace")
    out: dict[str, Any] = {
        "invoked": qualified,
        "executed_version": resp.get("ExecutedVersion"),
        "function_error": resp.get("FunctionError"),
        "payload": raw[:2000],
    }
    try:
        doc = json.loads(raw) if raw else None
    except ValueError:
        doc = None
    out["status_code"] = doc.get("statusCode") if isinstance(doc, dict) else None
    return out


def _health_outcome(ctx: CheckContext, row: Row, fn: str, expected: str, extra: dict[str, Any] | None = None) -> CheckResult:
    want = ctx.env.auto_rollback.health_status
    try:
        h = invoke_health(ctx, fn)
    except ClientError as exc:
        if _code(exc) in NOT_FOUND:
            return row.result(expected, f"{fn}:{ctx.env.alias} not found", Verdict.FAIL, function=fn, error=str(exc), **(extra or {}))
        raise
    evidence = {"function": fn, **h, **(extra or {})}
    if h["function_error"]:
        return row.result(expected, f"{h['invoked']}: function error {h['function_error']}: {h['payload'][:200]}", Verdict.FAIL, **evidence)
    if h["status_code"] != want:
        return row.result(expected, f"{h['invoked']}: statusCode {h['status_code']} (payload {h['payload'][:200]})", Verdict.FAIL, **evidence)
    return row.result(expected, f"{h['invoked']}: statusCode {h['status_code']} (version {h['executed_version']})", Verdict.PASS, **evidence)


def check_health_endpoint(ctx: CheckContext, row: Row) -> CheckResult:
    """Invoking ``fn:alias`` with the /health payload returns statusCode 200 (000 §7.1 step 2)."""
    want = ctx.env.auto_rollback.health_status
    expected = f"invoke {{fn}}:{ctx.env.alias} with {ctx.env.health_payload.get('path', 'health')} payload -> statusCode {want}"
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
        if _code(exc) in NOT_FOUND:
            return row.result(expected, f"{fn}:{ctx.env.alias} not found", Verdict.FAIL, function=fn, error=str(exc))
        raise
    state = {"State": cfg.get("State"), "LastUpdateStatus": cfg.get("LastUpdateStatus"), "CodeSha256": cfg.get("CodeSha256"), "Version": cfg.get("Version")}
    if state["State"] != "Active" or state["LastUpdateStatus"] not in (None, "Successful"):
        return row.result(expected, f"State {state['State']}, last update {state['LastUpdateStatus']}", Verdict.FAIL, function=fn, configuration=state)
    return _health_outcome(ctx, row, fn, expected, {"configuration": state})
