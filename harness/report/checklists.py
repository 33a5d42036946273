"""The 001 §7 checklists, filled in: §7.3 rollback, §7.1 DEV -> SIT, §7.2 SIT -> PROD.

A box is ticked only when this run shows it done: by the action's own result (checkpoint alias,
alias moved, health through ``fn:alias``, the audit record) or by a checklist row that passed on a
fresh context afterwards. A box the harness cannot verify (release notes, post-mortem, customer
feedback) stays empty and says so; a failed one stays empty and says what failed.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from harness.actions.base import COMPLETE, SKIPPED, ActionResult
from harness.actions.guards import Authority
from harness.inventory.model import Environment
from harness.report.incident import plan_facts
from harness.report.timeline import utc

MANUAL = "not verified by the harness (manual)"
Rows = Sequence[Mapping[str, Any]]


def box(done: bool | None, text: str, evidence: str = "") -> str:
    """``- [x] text — evidence``; a failure or an unverified item stays unticked and says why."""
    if done is True:
        return f"- [x] {text}" + (f" — {evidence}" if evidence else "")
    if done is False:
        return f"- [ ] {text} — FAILED: {evidence}"
    return f"- [ ] {text} — {evidence or MANUAL}"


# 001 §7.3 "Post-Mortem": nothing the harness can verify.
POST_MORTEM = (
    "### Post-Mortem",
    "",
    box(None, "Root cause identified"),
    box(None, "Fix developed and tested in DEV"),
    box(None, "Post-mortem document created"),
    box(None, "Prevention measures documented"),
    "",
)


def rows_state(rows: Rows, slugs: Iterable[str], resources: Iterable[str] | None = None) -> tuple[bool | None, str]:
    """(True, 'N rows PASS') when every matching row passed (WARN passes), (False, first failure), (None, 'not run')."""
    wanted, names = set(slugs), set(resources) if resources is not None else None
    chosen = [r for r in rows if r.get("slug") in wanted and (names is None or r.get("resource") in names)]
    if not chosen:
        return None, f"not run ({', '.join(sorted(wanted))})"
    bad = [r for r in chosen if str(r.get("verdict")).lower() in ("fail", "error")]
    if bad:
        return False, f"{bad[0].get('slug')} {bad[0].get('resource')}: {bad[0].get('observed')}"
    if all(str(r.get("verdict")).lower() == "skip" for r in chosen):
        return None, f"skipped: {chosen[0].get('observed')}"
    warned = [r for r in chosen if str(r.get("verdict")).lower() == "warn"]
    note = f" ({len(warned)} WARN: {warned[0].get('observed')})" if warned else ""
    return True, f"{', '.join(sorted({str(r.get('slug')) for r in chosen}))}: {len(chosen)} row(s) passed{note}"


def _leaves(result: ActionResult) -> list[ActionResult]:
    return [result] if not result.children else [leaf for c in result.children for leaf in _leaves(c)]


def _moved(result: ActionResult) -> list[ActionResult]:
    return [leaf for leaf in _leaves(result) if leaf.outcome != SKIPPED and leaf.applied]


def _approved(env: Environment, authority: Authority, rule: str) -> str:
    if authority.approvers:
        return ", ".join(authority.approvers) + f" ({rule} rule)"
    return f"not required ({env.name} is not protected)" if not env.protected else "none given"


def rollback_checklist(
    result: ActionResult,
    env: Environment,
    *,
    rows: Rows = (),
    authority: Authority | None = None,
    incident_report: str | None = None,
) -> str:
    """001 §7.3 for a rollback (one function or a batch)."""
    authority = authority or Authority()
    leaves, moved = _leaves(result), _moved(result)
    fns = [str(plan_facts(leaf.plan).get("function")) for leaf in moved]
    first = result.timeline[0].at if result.timeline else result.plan.planned_at
    current = ", ".join(
        f"{plan_facts(leaf.plan).get('function')}: {plan_facts(leaf.plan).get('from')}" for leaf in leaves
    )
    targets = ", ".join(
        f"{plan_facts(leaf.plan).get('function')}: {plan_facts(leaf.plan).get('to')}"
        for leaf in leaves
        if plan_facts(leaf.plan).get("to")
    )
    checkpoints = sorted({str(leaf.evidence.get("checkpoint")) for leaf in moved if leaf.evidence.get("checkpoint")})
    lines = [
        "## Rollback Checklist",
        "",
        f"**Date/Time**: {utc(first, '%Y-%m-%d %H:%M:%S')} UTC",
        f"**Environment**: {env.name.upper()}",
        f"**Service**: {_service_label(plan_facts(result.plan))}",
        f"**Current Version**: {current}",
        f"**Rollback Target Version**: {targets or '-'} ({plan_facts(result.plan).get('rule', '')})",
        f"**Incident Ticket**: {authority.incident or '-'}",
        f"**Outcome**: {result.outcome}" + (f" — {result.message}" if result.message else ""),
        "",
        "### Pre-Rollback",
        "",
        box(
            True if incident_report else None,
            "Incident documented",
            f"000 §8 report: {incident_report}" if incident_report else "",
        ),
        box(
            bool(checkpoints) if moved else None,
            "Current state backed up (incident alias created)",
            ", ".join(checkpoints) or "no function moved",
        ),
        box(bool(targets) or None, "Rollback target version identified", targets),
        box(True, "Rollback approved by", _approved(env, authority, "prod-rollback")),
        "",
        *_rollback_execution(result, env, rows, fns, moved),
        *POST_MORTEM,
        "### Sign-off",
        "",
        f"**Rollback Executor**: {authority.who}",
        f"**Approver**: {', '.join(authority.approvers) or '-'}",
        f"**Date/Time**: {utc(result.timeline[-1].at if result.timeline else first, '%Y-%m-%d %H:%M:%S')} UTC",
        "",
    ]
    return "\n".join(lines)


def _rollback_execution(
    result: ActionResult, env: Environment, rows: Rows, fns: list[str], moved: list[ActionResult]
) -> list[str]:
    """001 §7.3 "Rollback Execution" and "Post-Rollback Verification"."""
    healthy = [
        leaf
        for leaf in moved
        if (leaf.evidence.get("health") or {}).get("problem") is None and leaf.evidence.get("health")
    ]
    record = result.record
    return [
        "### Rollback Execution",
        "",
        box(True if moved else None, "Rollback command executed", f"{result.plan.action} ({len(moved)} function(s))"),
        box(
            all(leaf.outcome == COMPLETE for leaf in moved) if moved else None,
            "Lambda alias updated",
            "; ".join(
                f"{plan_facts(leaf.plan).get('function')}: {env.alias} -> {leaf.evidence.get('final_version')}"
                for leaf in moved
            ),
        ),
        box(
            len(healthy) == len(moved) if moved else None,
            "Health check verified",
            "; ".join(
                f"{_health(leaf).get('invoked')}: {_health(leaf).get('problem') or _health(leaf).get('status_code')}"
                for leaf in moved
            ),
        ),
        "",
        "### Post-Rollback Verification",
        "",
        _row_box(rows, "Health endpoint returns 200", ["health-endpoint"], fns),
        _row_box(rows, "No new errors in CloudWatch", ["error-rate", "log-errors"], fns),
        _row_box(rows, "API responses correct", ["api-health", "api-responses"], None),
        box(
            _settled(record),
            "DynamoDB rollback record created",
            f"{record.record_id} in {env.deployments_table.name if env.deployments_table else '-'}: {record.status}"
            if record
            else "no deployments table in the inventory",
        ),
        "",
    ]


def _settled(record: object) -> bool | None:
    """A record was written and finished (COMPLETE, or FAILED saying what failed); None when none was written."""
    status = getattr(record, "status", None)
    return None if record is None else status in (COMPLETE, "FAILED")


def _row_box(rows: Rows, text: str, slugs: list[str], resources: list[str] | None) -> str:
    done, evidence = rows_state(rows, slugs, resources)
    return box(done, text, evidence)


def promotion_checklist(
    result: ActionResult,
    source: Environment,
    dest: Environment,
    *,
    gate_rows: Rows = (),
    rows: Rows = (),
    authority: Authority | None = None,
) -> str:
    """001 §7.2 when the destination is protected (SIT -> PROD), else 001 §7.1 (DEV -> SIT)."""
    authority = authority or Authority()
    leaves = _leaves(result)
    promoted = [leaf for leaf in leaves if leaf.plan.action == "promote"]
    versions = ", ".join(
        sorted(
            {
                f"{plan_facts(leaf.plan).get('function')}:{plan_facts(leaf.plan).get('source_version')} "
                f"({plan_facts(leaf.plan).get('label')})"
                for leaf in promoted
                if plan_facts(leaf.plan).get("source_version")
            }
        )
    )
    first = result.timeline[0].at if result.timeline else result.plan.planned_at
    rule = f"{source.name}-to-{dest.name}"
    services = sorted({str(plan_facts(leaf.plan).get("service")) for leaf in promoted})
    prod = dest.protected
    head = [
        f"## {source.name.upper()} to {dest.name.upper()} Promotion Checklist",
        "",
        f"**Date**: {utc(first, '%Y-%m-%d %H:%M:%S')} UTC",
        f"**Promoter**: {authority.who}",
        f"**Service(s)**: {', '.join(services) or '-'}",
        f"**{source.name.upper()} Version**: {versions or '-'}",
    ]
    if prod:
        head.append(f"**Change Request Ticket**: {authority.incident or '-'}")
    head.append(f"**Outcome**: {result.outcome}" + (f" — {result.message}" if result.message else ""))
    pre = _promotion_pre(source, dest, authority, promoted, gate_rows)
    execution = _promotion_execution(result, dest, promoted)
    post = _promotion_post(rows, dest, promoted)
    sign = ["", "### Sign-off", "", f"**Promoter Signature**: {authority.who}"]
    if prod:
        sign += [
            f"**{role} Signature**: {name}"
            for role, name in zip(
                dest.approvals[rule].roles if rule in dest.approvals else [], authority.approvers, strict=False
            )
        ]
    sign += [f"**Date/Time**: {utc(result.timeline[-1].at if result.timeline else first, '%Y-%m-%d %H:%M:%S')} UTC", ""]
    return "\n".join(head + pre + execution + post + sign)


def _promotion_pre(
    source: Environment, dest: Environment, authority: Authority, promoted: list[ActionResult], gate_rows: Rows
) -> list[str]:
    """001 §7.2 "Pre-Promotion Checks" and "Approvals" (protected destination), else 001 §7.1's pre-promotion list."""
    rule, prod = f"{source.name}-to-{dest.name}", dest.protected
    gate_errors, gate_throttles = rows_state(gate_rows, ["source-errors"]), rows_state(gate_rows, ["source-throttles"])
    gate_health = rows_state(gate_rows, ["source-health"])
    gate = dest.gates.get(source.name) or source.gates.get(source.name)
    lookback = f"{gate.lookback_hours} h" if gate else "the gate's lookback"
    pre = ["", "### Pre-Promotion Checks", ""]
    if prod:
        window = next(
            (str(plan_facts(leaf.plan)["window"]) for leaf in promoted if plan_facts(leaf.plan).get("window")), ""
        )
        pre += [
            box(gate_errors[0], f"{source.name.upper()} stable for {lookback}", gate_errors[1]),
            box(
                gate_errors[0],
                f"{source.name.upper()} error count within the gate in the last {lookback}",
                gate_errors[1],
            ),
            box(
                gate_throttles[0], f"{source.name.upper()} throttle count = 0 in the last {lookback}", gate_throttles[1]
            ),
            box(None, f"All integration tests pass in {source.name.upper()}"),
            box(None, "Security scan re-run passed"),
            box(bool(window) or None, "Maintenance window confirmed", window),
            box(True, "Rollback plan documented", "automatic rollback to the backup alias on a 001 §6.3.1 trigger"),
            box(None, "Change request approved"),
            "",
            "### Approvals",
            "",
            *[
                box(True, f"{role} approval", name)
                # fewer approvers than roles leaves the other boxes out (the gate refused such a run already)
                for role, name in zip(
                    dest.approvals[rule].roles if rule in dest.approvals else [], authority.approvers, strict=False
                )
            ],
        ]
    else:
        pre += [
            box(None, "All unit tests pass (80%+ coverage)"),
            box(None, "Code linting passed (ruff, black)"),
            box(None, "Type checking passed (mypy)"),
            box(None, "Security scan passed (bandit)"),
            box(None, f"Integration tests pass in {source.name.upper()}"),
            box(gate_errors[0], f"{source.name.upper()} error rate within the gate ({lookback})", gate_errors[1]),
            box(gate_throttles[0], f"{source.name.upper()} throttle rate = 0", gate_throttles[1]),
            box(gate_health[0], f"{source.name.upper()} Lambda health check returns 200", gate_health[1]),
            box(None, "Release notes documented"),
            box(bool(authority.approvers) or None, "Dev Lead approval obtained", _approved(dest, authority, rule)),
        ]
    return pre


def _promotion_execution(result: ActionResult, dest: Environment, promoted: list[ActionResult]) -> list[str]:
    """001 §7.1/§7.2 "Promotion Execution": the run, the gates, the backup alias, the alias move, the monitor."""
    prod = dest.protected
    monitors = [leaf.evidence.get("monitor") for leaf in promoted if leaf.evidence.get("monitor")]
    fired = [leaf for leaf in promoted if leaf.evidence.get("trigger")]
    backups = sorted({str(plan_facts(leaf.plan).get("backup_alias")) for leaf in promoted if leaf.applied})
    applied = [leaf for leaf in promoted if leaf.applied]
    deployed = (
        all(
            any(
                c.attribute == "FunctionVersion" and c.resource.endswith(f"alias/{dest.alias}") for _, c in leaf.applied
            )
            for leaf in applied
        )
        if applied
        else None
    )
    monitor_ok = (not fired) if monitors else None
    monitor_text = (
        "; ".join(leaf.message for leaf in fired)
        if fired
        else f"{len(monitors)} monitor(s), no 001 §6.3.1 trigger fired"
    )
    execution = [
        "",
        "### Promotion Execution",
        "",
        box(True, "Promotion run", f"harness {result.plan.action} ({len(promoted)} function(s))"),
        box(
            not result.plan.refused,
            "Pre-flight checks passed",
            plan_facts(result.plan).get("gates") or "gates passed by the caller",
        ),
    ]
    if prod:
        execution += [box(bool(backups) or None, "Backup alias created", ", ".join(backups))]
    execution += [
        box(
            deployed,
            "Deployment completed successfully",
            "; ".join(
                f"{plan_facts(leaf.plan).get('dest_function')}: {dest.alias} -> {c.after}"
                for leaf in applied
                for _, c in leaf.applied
                if c.attribute == "FunctionVersion"
                and c.resource.endswith(f"alias/{dest.alias}")
                and c.before is not None
            ),
        ),
        box(
            monitor_ok,
            f"{'5-minute error monitoring passed' if prod else 'Post-deployment verification passed'}",
            monitor_text,
        ),
    ]
    return execution


def _promotion_post(rows: Rows, dest: Environment, promoted: list[ActionResult]) -> list[str]:
    """001 §7.1/§7.2 "Post-Promotion Verification" (and, for a protected destination, the 24 h monitoring)."""
    prod = dest.protected
    fns = [str(plan_facts(leaf.plan).get("dest_function")) for leaf in promoted]
    records = [leaf.record for leaf in promoted if leaf.record]
    post = [
        "",
        "### Post-Promotion Verification",
        "",
        _row_box(rows, f"{dest.name.upper()} Lambda health check returns 200", ["health-endpoint"], fns),
        box(None, f"{dest.name.upper()} smoke tests pass"),
        _row_box(rows, "No errors in CloudWatch (5-min window)", ["error-rate", "log-errors"], fns),
        _row_box(rows, "API Gateway returns expected responses", ["api-health", "api-responses"], None),
        box(
            all(_settled(r) for r in records) if records else None,
            "DynamoDB deployment record created",
            ", ".join(f"{r.record_id}: {r.status}" for r in records) or "no record written",
        ),
    ]
    if prod:
        post.insert(4, box(None, "CloudFront distribution healthy"))
        post.append(_row_box(rows, "CloudWatch alarms not triggered", ["cloudwatch-alarms"], None))
        post += [
            "",
            "### Post-Promotion Monitoring (24h)",
            "",
            *(box(None, f"{h} check: No errors") for h in ("1-hour", "4-hour", "12-hour", "24-hour")),
            box(None, "Customer feedback: No issues reported"),
        ]
    return post


def _service_label(details: Mapping[str, Any]) -> str:
    """The services, scope or function a rollback plan names (000 §8 "Service")."""
    return str(", ".join(details.get("services") or []) or details.get("scope") or details.get("function"))


def _health(leaf: Any) -> dict[str, Any]:
    """A moved function's health evidence (empty when none was read)."""
    return dict(leaf.evidence.get("health") or {})
