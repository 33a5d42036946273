"""Alarm row: no CloudWatch alarm with the inventory's prefix is in ALARM (003 §7 "No errors in
CloudWatch", 001 §4.4 step 3 ``describe-alarms --alarm-name-prefix bbws- --state-value ALARM``).

The alarms are listed in every state and filtered here: "none in ALARM" is only said when alarms
with the prefix exist. When none exists nothing is watched, and the row is WARN (the runbook's
command would print nothing either way), never a PASS.
"""

from __future__ import annotations

from collections import Counter

from harness.checks.context import CheckContext, Row
from harness.checks.result import CheckResult, Verdict

MAX_LISTED = 20


def check_alarms(ctx: CheckContext, row: Row) -> CheckResult:
    """DescribeAlarms with the prefix: alarms exist, and none is in ALARM."""
    prefix = ctx.env.alarm_prefix
    expected = f"no alarm named {prefix}* in ALARM"
    cw = ctx.client("cloudwatch")
    pages = cw.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=prefix, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    )
    firing = []
    states: Counter[str] = Counter()
    for p in pages:
        for a in [*p.get("MetricAlarms", []), *p.get("CompositeAlarms", [])]:
            states[str(a.get("StateValue"))] += 1
            if a.get("StateValue") != "ALARM":
                continue
            firing.append(
                {"name": a["AlarmName"], "reason": a.get("StateReason"), "since": str(a.get("StateUpdatedTimestamp"))}
            )
    evidence = {
        "prefix": prefix,
        "in_alarm": firing[:MAX_LISTED],
        "count": len(firing),
        "alarms_by_state": dict(states),
    }
    if firing:
        names = ", ".join(a["name"] for a in firing[:5]) + (" ..." if len(firing) > 5 else "")
        return row.result(expected, f"{len(firing)} in ALARM: {names}", Verdict.FAIL, **evidence)
    if not states:
        evidence["note"] = (
            "DescribeAlarms lists no alarm with this prefix: nothing is watched, so 'none in ALARM' would say nothing"
        )
        return row.result(
            expected, f"no alarm named {prefix}* exists: nothing watched, not measurable", Verdict.WARN, **evidence
        )
    summary = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    return row.result(expected, f"none in ALARM ({summary})", Verdict.PASS, **evidence)
