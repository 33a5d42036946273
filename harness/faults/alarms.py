"""An alarm put into ALARM (003 §7 "No alarms firing"; 004 "Alert Team", the SNS alarm path).

SetAlarmState, which the emulator honours. Always labelled simulated: moto never evaluates alarms
(capability ``alarm-evaluation`` missing: the state is set, not reached from metrics), and on AWS an
alarm set by hand returns to its evaluated state at its next period. The undo sets the state it had.
Detected by ``cloudwatch-alarms``.
"""

from __future__ import annotations

from harness.actions.guards import Authority
from harness.faults.base import Fault, FaultRefused, guard
from harness.targets.base import TargetLike


def alarm_firing(target: TargetLike, authority: Authority, *, alarm: str | None = None) -> Fault:
    """``alarm`` (default: the first named with the inventory's alarm prefix) in ALARM; the undo restores its state."""
    guard(target, authority)
    cw = target.client("cloudwatch")
    prefix = target.env.alarm_prefix
    alarms = cw.describe_alarms(**({"AlarmNames": [alarm]} if alarm else {"AlarmNamePrefix": prefix}))["MetricAlarms"]
    if not alarms:
        raise FaultRefused(f"no alarm {alarm or prefix + '*'} in {target.env.inventory}/{target.env.name}")
    found = alarms[0]
    name, state = found["AlarmName"], found.get("StateValue", "OK")
    now = target.clock.now()
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="game day: alarm set by hand (simulated)")

    def undo() -> list[str]:
        cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason="game day over: state restored")
        return [f"alarm {name}: back to {state}"]

    simulated = (
        "moto never evaluates alarms: the state is set by SetAlarmState, not reached from metrics"
        if not target.supports("alarm-evaluation")
        else "SetAlarmState: AWS re-evaluates the alarm at its next period"
    )
    return Fault(
        "alarm-firing",
        f"cloudwatch:alarm/{name}",
        "003 §7 no alarms firing; 004 Alert Team (SNS)",
        before={"state": state},
        after={"state": "ALARM"},
        injected_at=now,
        undo=undo,
        detected_by=("cloudwatch-alarms",),
        simulated=simulated,
    )
