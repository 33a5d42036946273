"""PITR switched off on a table that requires it (000 §6.2 prerequisites, §6.7 tables requiring PITR).

UpdateContinuousBackups with PointInTimeRecoveryEnabled false. Switching PITR off discards the
restorable history, on AWS and in the rehearsal alike: after the undo the table is restorable only
from the moment PITR came back. Detected by ``dynamodb-pitr`` (FAIL on a required table).
"""

from __future__ import annotations

from typing import Any

from harness.actions.guards import Authority
from harness.actions.pitr import pitr_status
from harness.faults.base import Fault, FaultRefused, guard
from harness.targets.base import TargetLike


def pitr_disabled(target: TargetLike, table: str, authority: Authority) -> Fault:
    """PITR off on ``table``; the undo turns it back on with the recovery period it had."""
    guard(target, authority)
    try:
        target.env.table(table)
    except KeyError as exc:
        raise FaultRefused(str(exc.args[0])) from None
    before = pitr_status(target, table)
    if not before.enabled:
        raise FaultRefused(f"{before.line()}: already off, nothing to break")
    ddb = target.client("dynamodb")
    now = target.clock.now()
    ddb.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )

    def undo() -> list[str]:
        spec: dict[str, Any] = {"PointInTimeRecoveryEnabled": True}
        if before.recovery_days:
            spec["RecoveryPeriodInDays"] = before.recovery_days
        ddb.update_continuous_backups(TableName=table, PointInTimeRecoverySpecification=spec)
        return [
            f"dynamodb:{table}: PITR enabled again (the history before {target.clock.now():%H:%M:%S} UTC is gone, as "
            "on AWS)"
        ]

    return Fault(
        "pitr-disabled",
        f"dynamodb:{table}",
        "000 §6.2 prerequisites; 000 §6.7 tables requiring PITR",
        before={
            "pitr": before.status,
            "earliest": before.earliest.isoformat() if before.earliest else None,
            "recovery_days": before.recovery_days,
        },
        after={"pitr": pitr_status(target, table).status},
        injected_at=now,
        undo=undo,
        detected_by=("dynamodb-pitr",),
        notes=["switching PITR off discards the restorable history (AWS and the rehearsal alike)"],
    )
