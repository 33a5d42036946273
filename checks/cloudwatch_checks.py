"""Alarm row: no CloudWatch alarm with the inventory's prefix is in ALARM (003 §7 "No errors in
CloudWatch", 001 §4.4 step 3 ``describe-alarms --alarm-name-prefix bbws- --state-value ALARM``)."""

from __future__ import annotations

from checks.context import CheckContext, Row
from checks.result import CheckResult, Verdict

MAX_LISTED = 20


def check_alarms(ctx: CheckContext, row: Row) -> CheckResult:
    """DescribeAlarms with the prefix and StateValue=ALARM returns nothing."""
    prefix = ctx.env.alarm_prefix
    expected = f"no alarm named {prefix}* in ALARM"
    cw = ctx.client("cloudwatch")
    pages = cw.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix, StateValue="ALARM", AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    firing = []
    for p in pages:
        for a in [*p.get("MetricAlarms", []), *p.get("CompositeAlarms", [])]:
            # Filter again here: moto 5.2 ignores StateValue when AlarmNamePrefix is given.
            if a.get("StateValue") != "ALARM":
                continue
            firing.append({"name": a["AlarmName"], "reason": a.get("StateReason"), "since": str(a.get("StateUpdatedTimestamp"))})
    evidence = {"prefix": prefix, "in_alarm": firing[:MAX_LISTED], "count": len(firing)}
    if firing:
        names = ", ".join(a["name"] for a in firing[:5]) + (" ..." if len(firing) > 5 else "")
        return row.result(expected, f"{len(firing)} in ALARM: {names}", Verdict.FAIL, **evidence)
    return row.result(expected, "none in ALARM", Verdict.PASS, **evidence)
