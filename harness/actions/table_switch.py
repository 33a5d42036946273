"""Switch functions to another table: 000 §6.6 option A / 004 "swap tables", done so traffic follows.

000 §6.6 option A runs ``aws lambda update-function-configuration --environment DYNAMODB_TABLE=...``
on each function. That changes ``$LATEST`` only. Traffic reaches these functions through the alias
(``latest-{env}``, 000 §4.2.3), which points to a *published version*, and a published version's
configuration is immutable: after the runbook's command the alias still serves the old variable and
every request still reads the old table. The runbook's switch switches nothing that serves traffic
(the same mistake as seed defect 3, health-checking ``$LATEST`` instead of ``fn:alias``). 004's
"update the application's environment variables" has the same gap.

So the harness, per function (the inventory's ``dynamodb.tables[].functions``):

1. reads the version V the alias serves, V's configuration and ``$LATEST``'s; refuses when ``$LATEST``
   is not V's code and configuration (publishing would release other code — e.g. after an alias
   rollback ``$LATEST`` still holds the bad release), when the alias routes by weight, or when V has
   no such variable (then it does not read its table from it, and switching it changes nothing);
2. checkpoints V with an alias ``<checkpoint_alias_prefix><ts>`` (000 §4.2.4's pattern);
3. sets ``$LATEST``'s variables to V's with the table variable changed, waits (``function_updated_v2``),
   and publishes that as a new version N with V's code (``CodeSha256`` pinned) and V's Description
   (the release label, which 002 matches on) — or reuses an already published version with exactly
   that code and configuration (switching back finds V itself, so no version is published);
4. moves the alias to N and verifies from the configuration: the alias serves N and N's variable
   names the new table.

On any failure every function already switched goes back to its checkpoint version (and ``$LATEST``
to its previous variables). Switching back is the same action with the original table as target.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable

from botocore.exceptions import ClientError

from harness import aws
from harness.actions import lambda_versions as lv
from harness.actions.audit_record import audit, new_plan
from harness.actions.base import COMPLETE, FAILED, ActionResult, Change, Plan, execute
from harness.actions.guards import Authority, refusal
from harness.records import FunctionChange
from harness.targets.base import TargetLike

RULE = "prod-rollback"
CHECKPOINT_STAMP = "%Y%m%d-%H%M%S"  # 000 §4.2.4 TIMESTAMP=$(date +%Y%m%d-%H%M%S)
# What must be equal between $LATEST and the served version for a publish to release the same function.
SAME_FUNCTION = (
    "CodeSha256",
    "Handler",
    "Runtime",
    "MemorySize",
    "Timeout",
    "Role",
    "Layers",
    "Architectures",
    "PackageType",
)


@dataclass(frozen=True)
class ServedTable:
    """Which table a function's alias reads: the served version, its variables, and ``$LATEST``'s state."""

    function: str
    alias: str
    version: str
    table: str | None  # the variable's value in the served version (None: no such variable)
    variables: dict[str, str]
    description: str
    code_sha: str
    weights: dict[str, float]
    latest_variables: dict[str, str]
    latest_differs: tuple[str, ...]  # fields where $LATEST is not the served version


def _same(config: dict[str, Any]) -> dict[str, Any]:
    out = {k: config.get(k) for k in SAME_FUNCTION}
    out["Layers"] = sorted(layer.get("Arn", "") for layer in (config.get("Layers") or []))
    return out


def served_table(target: TargetLike, function: str, env_var: str) -> ServedTable:
    """Read the alias, the version it serves and ``$LATEST`` of ``function`` (GetAlias, GetFunctionConfiguration)."""
    return table_of(lv.served_state(target.client("lambda"), function, target.env.alias), env_var)


def table_of(state: lv.ServedState, env_var: str) -> ServedTable:
    """Which table ``state``'s served version reads, and where ``$LATEST`` differs from that version (reads nothing)."""
    served, latest = state.served, state.latest
    variables, latest_vars = lv.env_variables(served), lv.env_variables(latest)
    differs = [k for k, v in _same(served).items() if _same(latest)[k] != v]
    if {k: v for k, v in latest_vars.items() if k != env_var} != {k: v for k, v in variables.items() if k != env_var}:
        differs.append("Environment")
    return ServedTable(
        state.function,
        state.alias,
        state.version,
        variables.get(env_var),
        variables,
        served.get("Description") or "",
        served["CodeSha256"],
        state.weights,
        latest_vars,
        tuple(differs),
    )


def _reusable(lam: Any, served: ServedTable, served_config: dict[str, Any], wanted: dict[str, str]) -> str | None:
    """A published version with the served version's code and configuration (``served_config``, as read) and exactly
    ``wanted`` variables."""
    base = _same(served_config)
    found = None
    for v in aws.paginate(lam, "list_versions_by_function", "Versions", FunctionName=served.function):
        if v["Version"] == "$LATEST":
            continue
        if _same(v) == base and lv.env_variables(v) == wanted:
            found = v["Version"] if found is None or int(v["Version"]) > int(found) else found
    return found


def _checkpoint_name(target: TargetLike, function: str, taken: set[str]) -> str:
    """``rollback-checkpoint-<ts>`` (000 §4.2.4), with ``-2``, ``-3`` ... when that name exists."""
    stamp = target.clock.now().strftime(CHECKPOINT_STAMP)
    base = f"{target.env.checkpoint_alias_prefix}{stamp}"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def plan_table_switch(
    target: TargetLike, table: str, to_table: str, *, authority: Authority, functions: Iterable[str] | None = None
) -> Plan:
    """Decide, reading only, how each function's alias moves to a version reading ``to_table``."""
    env = target.env
    plan = new_plan(
        "table-switch",
        target,
        authority,
        ("lambda-alias-version", "health-endpoint", "dynamodb-table-active", "dynamodb-reads"),
    )
    try:
        spec = env.table(table)
    except KeyError as exc:
        plan.refusal = str(exc.args[0])
        return plan
    names = tuple(functions) if functions is not None else spec.functions
    if not names:
        plan.refusal = (
            f"the inventory lists no functions for {table} (dynamodb.tables[].functions): nothing to switch (000 §6.6)"
        )
        return plan
    why = refusal(target, authority, rule=RULE)
    if why:
        plan.refusal = why
        return plan
    ddb = target.client("dynamodb")
    described = aws.get_or_none(ddb.describe_table, TableName=to_table)
    if described is None:
        plan.refusal = f"table {to_table} does not exist: nothing to switch to"
        return plan
    if described["Table"]["TableStatus"] != "ACTIVE":
        plan.refusal = f"table {to_table} is {described['Table']['TableStatus']}, not ACTIVE: not switched to"
        return plan
    pitr = ddb.describe_continuous_backups(TableName=to_table)["ContinuousBackupsDescription"].get(
        "PointInTimeRecoveryDescription", {}
    )
    if (
        to_table != table
        and pitr.get("PointInTimeRecoveryStatus") != "ENABLED"
        and spec.pitr in ("required", "recommended")
    ):
        plan.notes.append(
            f"{to_table} has PITR {pitr.get('PointInTimeRecoveryStatus', 'DISABLED')} (a restore does not carry it; "
            f"{table} is 'pitr {spec.pitr}', 000 §6.7): re-apply it (restore-table --reapply) before it serves for long"
        )
    lam = target.client("lambda")
    moves: list[dict[str, Any]] = []
    for fn in names:
        try:
            state = lv.served_state(lam, fn, env.alias)
        except ClientError as exc:
            if not aws.is_not_found(exc):
                raise
            plan.refusal = f"{fn}: {aws.error_message(exc)} (inventory dynamodb.tables[].functions names it)"
            return plan
        served = table_of(state, spec.env_var)
        problem = None
        if served.weights:
            problem = f"alias {served.alias} routes by weight {served.weights}: finish or undo that deployment first"
        elif served.table is None:
            problem = (
                f"version {served.version} has no {spec.env_var} variable: it does not read its table from it, "
                "so switching it changes nothing (inventory dynamodb.tables[].env_var?)"
            )
        elif served.table != to_table and served.latest_differs:
            problem = (
                f"$LATEST differs from version {served.version} that {served.alias} serves "
                f"({', '.join(served.latest_differs)}): "
                f"publishing would release other code or configuration; redeploy version {served.version} to $LATEST "
                "first"
            )
        if problem:
            plan.refusal = f"{fn}: {problem}"
            return plan
        if served.table == to_table:
            plan.notes.append(f"{fn}: {served.alias} (version {served.version}) already reads {to_table}")
            continue
        wanted = {**served.variables, spec.env_var: to_table}
        reuse = _reusable(
            lam, served, state.served, wanted
        )  # the served configuration as read above, not a second read
        taken = {a["Name"] for a in aws.paginate(lam, "list_aliases", "Aliases", FunctionName=fn)}
        checkpoint = _checkpoint_name(target, fn, taken)
        moves.append({"served": asdict(served), "wanted": wanted, "reuse": reuse, "checkpoint": checkpoint})
        plan.changes.append(
            Change(
                f"lambda:{fn}:alias/{checkpoint}",
                "FunctionVersion",
                None,
                served.version,
                "create",
                "checkpoint of the served version (000 §4.2.4)",
            )
        )
        if served.latest_variables.get(spec.env_var) != to_table:
            plan.changes.append(
                Change(
                    f"lambda:{fn}:$LATEST",
                    f"Environment.{spec.env_var}",
                    served.latest_variables.get(spec.env_var),
                    to_table,
                    "update",
                    "000 §6.6 option A (alone it changes no served version)",
                )
            )
        if reuse is None:
            plan.changes.append(
                Change(
                    f"lambda:{fn}",
                    "version",
                    None,
                    f"new version: code of {served.version}, {spec.env_var}={to_table}",
                    "create",
                    "a published version's configuration is immutable",
                )
            )
        plan.changes.append(
            Change(
                f"lambda:{fn}:alias/{served.alias}",
                "FunctionVersion",
                served.version,
                reuse or "the new version",
                "update",
                f"traffic reads {to_table}",
            )
        )
    plan.details.update(table=table, to_table=to_table, env_var=spec.env_var, moves=moves)
    if not moves:
        plan.notes.append("every function already reads the target table: no change")
    return plan


def apply_table_switch(target: TargetLike, plan: Plan) -> ActionResult:
    """Checkpoint, publish (or reuse) and move each alias; verify from the configuration; undo all on failure."""
    lam = target.client("lambda")
    var, to_table = plan.details["env_var"], plan.details["to_table"]
    result = ActionResult(plan, COMPLETE)
    moves = plan.details["moves"]
    changes = {fn["served"]["function"]: FunctionChange(fn["served"]["version"], fn["reuse"]) for fn in moves}
    done: list[dict[str, Any]] = []
    extra = {"table": plan.details["table"], "to_table": to_table, "env_var": var}
    with audit(target, plan, resource=None, functions=changes, extra=extra) as trail:
        try:
            for move in moves:
                fn, served = move["served"]["function"], move["served"]
                lam.create_alias(
                    FunctionName=fn,
                    Name=move["checkpoint"],
                    FunctionVersion=served["version"],
                    Description=f"checkpoint before table switch to {to_table} (000 §4.2.4, §6.6)",
                )
                done.append(move)
                version = _publish_or_reuse(target, move, var)
                lam.update_alias(FunctionName=fn, Name=served["alias"], FunctionVersion=version)
                _verify(target, fn, served["alias"], version, var, to_table)
                move["to_version"] = version
                changes[fn] = FunctionChange(served["version"], version, COMPLETE, version)
                now = target.clock.now()
                result.log(
                    now,
                    f"{fn}: {served['alias']} {served['version']} -> {version}, {var}={to_table} (verified from the "
                    "configuration)",
                )
        except BaseException:
            for move in done:
                fn = move["served"]["function"]
                changes[fn] = FunctionChange(
                    move["served"]["version"], move.get("to_version"), FAILED, move["served"]["version"]
                )
            trail.update(functions=dict(changes))
            _undo(target, done, var, result)
            raise
        trail.update(functions=dict(changes))
    for c in plan.changes:
        result.changed(target.clock.now(), c)
    result.record = trail.record
    result.message = (
        f"{len(moves)} function(s) now read {to_table} through {target.env.alias}" if moves else "no change"
    )
    result.evidence["functions"] = {
        m["served"]["function"]: {"from": m["served"]["version"], "to": m.get("to_version")} for m in moves
    }
    return result


def _publish_or_reuse(target: TargetLike, move: dict[str, Any], var: str) -> str:
    lam = target.client("lambda")
    served = move["served"]
    fn = served["function"]
    if served["latest_variables"] != move["wanted"]:
        lam.update_function_configuration(FunctionName=fn, Environment={"Variables": move["wanted"]})
        aws.wait(lam, "function_updated_v2", target.waiter_config, FunctionName=fn)
    if move["reuse"]:
        return str(move["reuse"])
    published = lam.publish_version(FunctionName=fn, CodeSha256=served["code_sha"], Description=served["description"])
    aws.wait(lam, "published_version_active", target.waiter_config, FunctionName=fn, Qualifier=published["Version"])
    return str(published["Version"])


def _verify(target: TargetLike, fn: str, alias: str, version: str, var: str, to_table: str) -> None:
    lam = target.client("lambda")
    now_serving = lam.get_alias(FunctionName=fn, Name=alias)["FunctionVersion"]
    value = (
        (lam.get_function_configuration(FunctionName=fn, Qualifier=version).get("Environment") or {}).get("Variables")
        or {}
    ).get(var)
    if now_serving != version or value != to_table:
        raise RuntimeError(
            f"{fn}: after the switch {alias} serves {now_serving} with {var}={value}, expected {version} with "
            f"{to_table}"
        )


def _undo(target: TargetLike, done: list[dict[str, Any]], var: str, result: ActionResult) -> None:
    """Every function touched goes back to its checkpoint version and previous ``$LATEST`` variables."""
    lam = target.client("lambda")
    for move in reversed(done):
        served = move["served"]
        fn = served["function"]
        lam.update_alias(FunctionName=fn, Name=served["alias"], FunctionVersion=served["version"])
        lam.update_function_configuration(FunctionName=fn, Environment={"Variables": served["latest_variables"]})
        aws.wait(lam, "function_updated_v2", target.waiter_config, FunctionName=fn)
        result.log(target.clock.now(), f"undone: {fn} {served['alias']} back on checkpoint version {served['version']}")


def switch_table(
    target: TargetLike,
    table: str,
    to_table: str,
    *,
    authority: Authority,
    functions: Iterable[str] | None = None,
    dry_run: bool = False,
) -> ActionResult:
    """Plan and (unless refused or a dry run) switch the table's functions to ``to_table``."""
    return execute(
        lambda: plan_table_switch(target, table, to_table, authority=authority, functions=functions),
        lambda p: apply_table_switch(target, p),
        dry_run=dry_run,
    )


def tables_served(target: TargetLike) -> dict[str, str]:
    """function -> table its alias reads, for every function the inventory lists on a table."""
    out: dict[str, str] = {}
    for spec in target.env.tables:
        for fn in spec.functions:
            try:
                served = served_table(target, fn, spec.env_var)
            except ClientError as exc:
                if aws.is_not_found(exc):
                    continue  # a function the inventory names but this account lacks reads nothing
                raise
            if served.table:
                out[fn] = served.table
    return out
