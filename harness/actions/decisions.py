"""Rollback decision tables as pure functions, every threshold from the inventory.

- 000 §2.1 error-rate severity (``thresholds.error_rate_*_pct``);
- 000 §2.2 latency per service: API Gateway, Lambda, DynamoDB (``thresholds.*_p95_*``);
- 000 §2.4 impact matrix: affected users and revenue impact (``thresholds.impact_users_*``);
- 004 automated rollback triggers: 5XX rate, p99 latency, auth failures, memory (``auto_rollback``).

Each returns a :class:`Decision` that quotes the runbook's row, so reports say which row applied.
No AWS call, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from harness.inventory.schema import AutoRollbackSpec, Thresholds

# How strongly each recommended action pushes toward a rollback (for picking the decisive one).
RANK = {"none": 0, "monitor": 1, "alert": 2, "prepare": 3, "rollback": 4, "immediate": 5}
REVENUE_LEVELS = ("None", "Minimal", "Moderate", "Significant")  # 000 §2.4 Revenue Impact column
IMPACT_LEVELS = ("Low", "Medium", "High", "Critical")


@dataclass(frozen=True)
class Decision:
    """One decision-table row that applies: the table, the row, what was measured, the action."""

    table: str  # "000 §2.1 Error Rate Thresholds"
    level: str  # "Emergency"
    criterion: str  # ">10%"
    action: str  # "Immediate rollback required"
    measured: str  # "12.5 %"
    weight: str = "none"  # a RANK key

    def quote(self) -> str:
        """``000 §2.1 Error Rate Thresholds: "Emergency | >10% | Immediate rollback required" (measured 12.5 %)``."""
        return f'{self.table}: "{self.level} | {self.criterion} | {self.action}" (measured {self.measured})'

    @property
    def rollback(self) -> bool:
        """True when the row calls for a rollback."""
        return RANK[self.weight] >= RANK["rollback"]


def _pct(value: float) -> str:
    return f"{value:g}"


def error_rate_severity(rate_pct: float, th: Thresholds) -> Decision:
    """000 §2.1: Warning 1-5 %, Critical 5-10 %, Emergency >10 %."""
    table, measured = "000 §2.1 Error Rate Thresholds", f"{rate_pct:.2f} %"
    if rate_pct > th.error_rate_emergency_pct:
        return Decision(
            table,
            "Emergency",
            f">{_pct(th.error_rate_emergency_pct)}%",
            "Immediate rollback required",
            measured,
            "immediate",
        )
    if rate_pct >= th.error_rate_critical_pct:
        return Decision(
            table,
            "Critical",
            f"{_pct(th.error_rate_critical_pct)}-{_pct(th.error_rate_emergency_pct)}%",
            "Initiate rollback discussion",
            measured,
            "prepare",
        )
    if rate_pct >= th.error_rate_warning_pct:
        return Decision(
            table,
            "Warning",
            f"{_pct(th.error_rate_warning_pct)}-{_pct(th.error_rate_critical_pct)}%",
            "Monitor closely, prepare rollback",
            measured,
            "monitor",
        )
    return Decision(
        table, "Below Warning", f"<{_pct(th.error_rate_warning_pct)}%", "No rollback criterion met", measured, "none"
    )


# 000 §2.2: service -> (row label, warning, critical, unit, action when critical)
def _latency_rows(th: Thresholds) -> dict[str, tuple[str, float, float, str, str, str]]:
    return {
        "api": (
            "API Gateway",
            th.api_p95_warning_s,
            th.api_p95_critical_s,
            "s",
            "Rollback if persists >5 min",
            "rollback",
        ),
        "lambda": ("Lambda", th.lambda_p95_warning_s, th.lambda_p95_critical_s, "s", "Immediate rollback", "immediate"),
        "dynamodb": (
            "DynamoDB",
            th.dynamodb_p95_warning_ms,
            th.dynamodb_p95_critical_ms,
            "ms",
            "Investigate, rollback if writes fail",
            "prepare",
        ),
    }


def latency_severity(service: str, p95: float, th: Thresholds) -> Decision:
    """000 §2.2 for ``service`` (api | lambda | dynamodb); ``p95`` in that row's unit (s, or ms for DynamoDB)."""
    rows = _latency_rows(th)
    if service not in rows:
        raise ValueError(f"000 §2.2 has no latency row for {service!r}; rows: {', '.join(rows)}")
    label, warn, crit, unit, action, weight = rows[service]
    table, measured = f"000 §2.2 Latency Thresholds ({label})", f"p95 {p95:g} {unit}"
    if p95 > crit:
        return Decision(table, f"{label} P95 Critical", f">{crit:g}{unit}", action, measured, weight)
    if p95 > warn:
        return Decision(
            table,
            f"{label} P95 Warning",
            f">{warn:g}{unit}",
            f"Warning: watch ({action} once critical)",
            measured,
            "monitor",
        )
    return Decision(
        table, f"{label} P95 below Warning", f"<={warn:g}{unit}", "No rollback criterion met", measured, "none"
    )


def impact_decision(affected_users: int, revenue: str, th: Thresholds) -> Decision:
    """000 §2.4: the higher of the users row and the revenue row decides."""
    if revenue not in REVENUE_LEVELS:
        raise ValueError(f"000 §2.4 revenue impact is one of {', '.join(REVENUE_LEVELS)}; got {revenue!r}")
    by_users = (
        3
        if affected_users > th.impact_users_critical
        else 2
        if affected_users >= th.impact_users_high
        else (1 if affected_users >= th.impact_users_medium else 0)
    )
    level = max(by_users, REVENUE_LEVELS.index(revenue))
    users = (
        f"<{th.impact_users_medium}",
        f"{th.impact_users_medium}-{th.impact_users_high}",
        f"{th.impact_users_high}-{th.impact_users_critical}",
        f">{th.impact_users_critical}",
    )[level]
    action, weight = (
        ("Monitor, fix forward", "none"),
        ("Prepare rollback, notify stakeholders", "prepare"),
        ("Initiate rollback", "rollback"),
        ("Immediate rollback, incident declared", "immediate"),
    )[level]
    return Decision(
        "000 §2.4 Rollback Decision Matrix",
        IMPACT_LEVELS[level],
        f"{users} users, revenue {REVENUE_LEVELS[level]}",
        action,
        f"{affected_users} users, revenue {revenue}",
        weight,
    )


def trigger_decisions(
    ar: AutoRollbackSpec,
    *,
    error_rate_5xx_pct: float | None = None,
    latency_p99_ms: float | None = None,
    auth_failures: int | None = None,
    memory_pct: float | None = None,
) -> list[Decision]:
    """004 "Automated Rollback Triggers": each measured value over its inventory threshold, with its action.

    A metric the inventory gives no threshold for, or that was not measured, yields no row.
    """
    window = f"{ar.monitor_minutes} minutes"
    table = "004 Automated Rollback Triggers"
    out = []
    for measured, limit, name, unit, action, weight in (
        (error_rate_5xx_pct, ar.error_rate_5xx_pct, "5XX Error Rate", "%", "Automatic rollback", "rollback"),
        (latency_p99_ms, ar.latency_p99_ms, "Latency (p99)", "ms", "Alert, manual decision", "alert"),
        (auth_failures, ar.auth_failures, "Authentication Failures", "", "Alert, manual decision", "alert"),
        (memory_pct, ar.memory_pct, "Memory Usage", "%", "Alert, manual decision", "alert"),
    ):
        if measured is None or limit is None or not measured > limit:
            continue
        out.append(Decision(table, name, f">{limit:g}{unit} over {window}", action, f"{measured:g}{unit}", weight))
    return out


def recommended(decisions: Iterable[Decision]) -> Decision | None:
    """The decisive row: the one recommending the strongest action (first of equals)."""
    best: Decision | None = None
    for d in decisions:
        if best is None or RANK[d.weight] > RANK[best.weight]:
            best = d
    return best
