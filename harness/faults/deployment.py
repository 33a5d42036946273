"""Bad deployments: a bad Lambda version behind the alias, weighted routing to one, a bad release candidate.

A bad deployment is rehearsed the way one happens (000 §1.2 "Critical functionality is broken after
deployment"; 002 "Lambda code bug"): a new version is published from ``$LATEST`` with the bad change, the
alias moves to it, and — as every deployment does (001 §3.2.1 "Record deployment metadata", §6.3.2 step 7)
— a deployment record is written. That record matters: ``lambda-alias-version`` expects what the newest
record that names the function says, so while the fault holds the row *passes* (the alias serves what was
deployed) and only the health rows notice. After a recovery the newest record must be the recovery's; an
external script that writes none leaves the table saying the bad version is deployed, which the undo
closes with a record of its own (and the drill reports).

What makes a version bad: either a package the caller gives (real code, any target), or the rehearsal
app's switch ``HARNESS_FAULT`` (harness/targets/embedded/sample_app/handler.py: ``error`` answers 500,
``raise`` raises, ``slow=S`` sleeps), which only the embedded sample app understands — hence the
``emulator-faults`` capability in that case: on a real account the variable would change nothing and the
drill would report the fault as undetected, not as a broken runbook.

Undo: the alias back on the version it served (a recorded rollback through the harness action, so the
newest record agrees), ``$LATEST`` back to its code and variables (a table switch refuses while ``$LATEST``
differs from the served version, 000 §6.6), and the versions the fault published deleted, with the checkpoint
aliases a recovery took of them (000 §4.2.4): left, the bad version would be "the version before" the next
deployment's, the very target a later "previous" rollback picks. Any other alias on them keeps them.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from harness.actions.guards import Authority
from harness.actions.rollback import RollbackTo, rollback_all
from harness.faults.base import Fault, guard
from harness.faults.versions import FAULT_VARIABLE as FAULT_VARIABLE
from harness.faults.versions import MODES as MODES
from harness.faults.versions import Served as Served
from harness.faults.versions import _set_latest
from harness.faults.versions import describe_mode as describe_mode
from harness.faults.versions import needs_for as needs_for
from harness.faults.versions import publish_bad as publish_bad
from harness.faults.versions import read_served as read_served
from harness.faults.versions import tidy as tidy
from harness.records import COMPLETE, IN_PROGRESS, DeploymentRecord, put_record, read_records, utc_stamp
from harness.targets.base import TargetLike

REF = "000 §1.2 (critical functionality broken after deployment); 002 Rollback Scenarios (Lambda code bug)"
# Records are stamped to the millisecond (harness/records.py utc_stamp) and "the newest record" decides what
# lambda-alias-version expects: a recorded step first lets this much pass on the target's clock, so a
# FixedClock (tests) or two actions in one millisecond never tie.
RECORD_GAP_S = 0.01
DETECTED_BY = (
    "health-endpoint",
)  # a handler that answers 500 is no Lambda Error: error-rate stays green (Lambda metrics)


def _record(
    target: TargetLike, s: Served, version: str, authority: Authority, fault_id: str, *, status: str, what: str
) -> str | None:
    """The deployment record a real deployment writes (001 §3.2.1, §6.3.2 step 7); None without a deployments table."""
    env = target.env
    if env.deployments_table is None:
        return None
    now = target.clock.now()
    record = DeploymentRecord(
        record_id=f"deploy-{fault_id}-{s.function[-24:]}",
        action="deploy",
        environment=env.name,
        timestamp=utc_stamp(now),
        from_version=s.version,
        to_version=version,
        status=status,
        function=s.function,
        actor=authority.who,
        reason=f"game day: {what}",
        completed_at=utc_stamp(now) if status == COMPLETE else None,
        extra={"gameday_fault": fault_id, "method": "game-day fault injection"},
    )
    put_record(target.client("dynamodb"), env.deployments_table, record)
    return record.record_id


def deployment_records(target: TargetLike) -> list[DeploymentRecord]:
    """The environment's deployment records, newest first (one scan of the deployments table; empty without one)."""
    return read_records(target.client("dynamodb"), target.env)


def recorded_version(target: TargetLike, fn: str, records: Sequence[DeploymentRecord] | None = None) -> str | None:
    """The version the newest record naming ``fn`` leaves it on (final, else target version); None without one.

    ``records``: the records already read (newest first), for a loop over functions; else the table is scanned.
    """
    env = target.env
    if env.deployments_table is None:
        return None
    for rec in deployment_records(target) if records is None else records:  # newest first
        change = None if rec.resource else rec.change_for(fn)
        if change is not None:
            return change.final_version or change.to_version
    return None


def put_back(target: TargetLike, authority: Authority, versions: dict[str, str], why: str) -> list[str]:
    """Aliases back on ``versions`` with the harness's rollback (checkpoint, health, one record); what it did."""
    lam, alias = target.client("lambda"), target.env.alias
    moved = {}
    for fn, version in versions.items():
        a = lam.get_alias(FunctionName=fn, Name=alias)
        if a["FunctionVersion"] != version or (a.get("RoutingConfig") or {}).get("AdditionalVersionWeights"):
            moved[fn] = version
    if not moved:
        return []
    target.clock.sleep(RECORD_GAP_S)
    result = rollback_all(target, dataclasses.replace(authority, reason=why), RollbackTo.each(moved))
    if not result.ok:
        raise RuntimeError(f"putting {', '.join(sorted(moved))} back failed: {result.outcome}: {result.message}")
    return [
        f"{fn}: alias {alias} back on version {v} (rollback record {result.record.record_id if result.record else '-'})"
        for fn, v in sorted(moved.items())
    ]


def _close_record(
    target: TargetLike,
    s: Served,
    authority: Authority,
    fault_id: str,
    records: Sequence[DeploymentRecord] | None = None,
) -> list[str]:
    """When the newest record still names a version the alias no longer serves, write one that names the served
    version."""
    if s.record_id is None:
        return []
    on_record = recorded_version(target, s.function, records)
    if on_record in (None, s.version):
        return []
    target.clock.sleep(RECORD_GAP_S)
    env = target.env
    now = target.clock.now()
    assert env.deployments_table is not None
    put_record(
        target.client("dynamodb"),
        env.deployments_table,
        DeploymentRecord(
            record_id=f"rollback-{fault_id}-undo-{s.function[-24:]}",
            action="rollback",
            environment=env.name,
            timestamp=utc_stamp(now),
            from_version=on_record,
            to_version=s.version,
            status=COMPLETE,
            function=s.function,
            actor=authority.who,
            reason="game-day cleanup: the recovery left no record of the version it restored (001 §6.3.2 step 7)",
            completed_at=utc_stamp(now),
            extra={"gameday_fault": fault_id, "method": "game-day undo"},
        ),
    )
    return [f"{s.function}: the newest record said version {on_record}; closing record written for version {s.version}"]


def _inject(
    target: TargetLike,
    fn: str,
    authority: Authority,
    fault_id: str,
    *,
    mode: str,
    package: bytes | None,
    weight: float | None,
    newer_undeployed: int,
    into: list[Served],
) -> tuple[Served, str]:
    """Publish the bad version and route to it (alias or weight); optionally publish undeployed newer versions.

    ``into`` gets the function's state before anything changes, so a failure half-way is undone too.
    """
    lam, alias = target.client("lambda"), target.env.alias
    s = read_served(target, fn)
    into.append(s)
    bad = publish_bad(target, s, mode, package, fault_id)
    if weight is None:
        lam.update_alias(
            FunctionName=fn,
            Name=alias,
            FunctionVersion=bad,
            RoutingConfig={"AdditionalVersionWeights": {}},
            Description=f"game day {fault_id}: bad deployment",
        )
        s.record_id = _record(
            target, s, bad, authority, fault_id, status=COMPLETE, what=f"bad deployment of {fn} ({describe_mode(mode)})"
        )
    else:
        lam.update_alias(
            FunctionName=fn,
            Name=alias,
            FunctionVersion=s.version,
            RoutingConfig={"AdditionalVersionWeights": {bad: weight}},
            Description=f"game day {fault_id}: canary {weight:.0%} to a bad version",
        )
        # A canary still shifting traffic: its record is not settled (001 §6.3.2), so no version is "expected" yet.
        s.record_id = _record(
            target, s, bad, authority, fault_id, status=IN_PROGRESS, what=f"canary {weight:.0%} to {bad} of {fn}"
        )
    if newer_undeployed:
        # A hotfix build published but not deployed when the incident hit: the alias is no longer on the
        # newest version, which is where "previous = Versions[-2]" goes wrong (000 §4.4, seed defect 4).
        _set_latest(target, fn, dict(s.latest_variables))
        for n in range(newer_undeployed):
            hotfix = lam.publish_version(
                FunctionName=fn, Description=f"{s.label or 'v' + s.version}-hotfix-{n + 1}-not-deployed"
            )["Version"]
            s.published.append(str(hotfix))
    return s, bad


def bad_deployment(
    target: TargetLike,
    functions: Sequence[str],
    authority: Authority,
    *,
    mode: str = "error",
    package: bytes | None = None,
    newer_undeployed: int = 0,
) -> Fault:
    """Every function of ``functions`` deployed a bad version (alias moved, deployment record written); one undo."""
    guard(target, authority, needs=needs_for(package))
    # Each function once: a second injection would record the first bad version as "served", and the undo (one
    # put_back target and one records scan per fault) relies on one state per function.
    functions = list(dict.fromkeys(functions))
    if not functions:
        raise ValueError("bad_deployment needs at least one function")
    describe_mode(mode)
    now = target.clock.now()
    fault = Fault(
        "bad-deployment" if len(functions) > 1 else "bad-lambda-version",
        f"lambda:{functions[0]}:alias/{target.env.alias}"
        if len(functions) == 1
        else f"lambda:{len(functions)} functions:alias/{target.env.alias}",
        REF,
        {},
        {},
        now,
        undo=lambda: [],
        detected_by=DETECTED_BY,
    )
    states: list[Served] = []
    try:
        for fn in functions:
            s, bad = _inject(
                target,
                fn,
                authority,
                fault.id,
                mode=mode,
                package=package,
                weight=None,
                newer_undeployed=newer_undeployed,
                into=states,
            )
            fault.before[fn] = {"version": s.version, "label": s.label, "routing": s.routing}
            fault.after[fn] = {"version": bad, "mode": mode, "record": s.record_id, "undeployed_newer": s.published[1:]}
    except Exception:
        _undo_all(target, authority, states, fault.id)  # a half-made fault is taken back at once
        raise
    fault.undo = lambda: _undo_all(target, authority, states, fault.id)
    fault.notes.append(
        f"the bad version {describe_mode(mode)}"
        + ("" if package else f" ({FAULT_VARIABLE}={mode}, the rehearsal app's switch)")
    )
    if newer_undeployed:
        fault.notes.append(
            f"{newer_undeployed} newer version(s) published but not deployed: the alias is not on the newest version "
            "(seed defect 4)"
        )
    return fault


def expected_after(fault: Fault) -> dict[str, str]:
    """Where each alias must stand once the fault is recovered: the version it served before the fault."""
    return {
        fn: str(before["version"])
        for fn, before in fault.before.items()
        if isinstance(before, dict) and "version" in before
    }


def _undo_all(target: TargetLike, authority: Authority, states: Sequence[Served], fault_id: str) -> list[str]:
    done = put_back(target, authority, {s.function: s.version for s in states}, f"game-day cleanup of {fault_id}")
    # One scan for every function, after put_back's record: a closing record names only its own function, and each
    # function has one state (a fault injects a function once), so no later iteration needs what an earlier one wrote.
    records = deployment_records(target) if any(s.record_id for s in states) else []
    for s in states:
        done += _close_record(target, s, authority, fault_id, records)
        done += tidy(target, s)
    return done


def weighted_routing(
    target: TargetLike,
    fn: str,
    authority: Authority,
    *,
    weight: float,
    mode: str = "error",
    package: bytes | None = None,
) -> Fault:
    """The alias splits traffic: ``weight`` to a bad version (a canary gone wrong); the record is IN_PROGRESS."""
    guard(target, authority, needs=needs_for(package) + ("lambda-weighted-routing",))
    if not 0 < weight < 1:
        raise ValueError(f"weight must be between 0 and 1, got {weight}")
    now = target.clock.now()
    fault = Fault(
        "weighted-routing",
        f"lambda:{fn}:alias/{target.env.alias}",
        REF + "; 002 --routing-config reset",
        {},
        {},
        now,
        undo=lambda: [],
        detected_by=("lambda-alias-version",),
    )
    states: list[Served] = []
    try:
        s, bad = _inject(
            target, fn, authority, fault.id, mode=mode, package=package, weight=weight, newer_undeployed=0, into=states
        )
    except Exception:
        _undo_all(target, authority, states, fault.id)
        raise
    fault.before[fn] = {"version": s.version, "routing": s.routing}
    fault.after[fn] = {"version": s.version, "routing": {bad: weight}, "bad_version": bad, "record": s.record_id}
    fault.undo = lambda: _undo_all(target, authority, [s], fault.id)
    fault.notes.append(
        f"{weight:.0%} of invocations run version {bad}, which {describe_mode(mode)}; health rows fail only when the "
        "draw hits it"
    )
    return fault


def bad_release(
    target: TargetLike, fn: str, authority: Authority, *, mode: str = "raise", package: bytes | None = None
) -> Fault:
    """A bad release candidate published in ``fn``'s environment, not deployed there (a promotion carries it on)."""
    guard(target, authority, needs=needs_for(package))
    describe_mode(mode)
    now = target.clock.now()
    fault = Fault(
        "bad-release",
        f"lambda:{fn}",
        "001 §6.3.1 (automatic rollback after a bad promotion); 002 Lambda code bug",
        {},
        {},
        now,
        undo=lambda: [],
        detected_by=("health-endpoint",),
    )
    s = read_served(target, fn)
    bad = publish_bad(target, s, mode, package, fault.id)
    fault.before[fn] = {"version": s.version, "label": s.label}
    fault.after[fn] = {"release": bad, "mode": mode}
    fault.undo = lambda: tidy(target, s)
    fault.notes.append(f"version {bad} {describe_mode(mode)}; the alias still serves {s.version} in {target.env.name}")
    return fault


def published_version(fault: Fault, fn: str) -> str:
    """The bad version or release a fault published for ``fn``."""
    after: dict[str, Any] = fault.after[fn]
    return str(after.get("release") or after.get("bad_version") or after["version"])
