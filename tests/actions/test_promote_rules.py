"""Pure rules behind rollback and promotion, with frozen time where time matters (freezegun is safe
here: no AWS call is made): maintenance windows and approvals (001 §2.2, §4.1.2), the decision tables
(000 §2.1, §2.2, §2.4; 004), the monitor's spike rule (001 §6.3.1) and version selection (seed defect 4)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time

from harness.actions import Authority
from harness.actions import decisions as dec
from harness.actions.guards import window_or_emergency_refusal
from harness.actions.lambda_versions import Version, previous_deployed, previous_version
from harness.actions.monitor import monitor_seconds, spike
from harness.actions.promote import next_window_start
from harness.inventory import load_inventory
from harness.safety import approval_refusal, window_refusal

PROD = load_inventory("bbws").environment("prod")
SIT = load_inventory("bbws").environment("sit")


def now() -> datetime:
    return datetime.now(timezone.utc)


@pytest.mark.parametrize(
    "frozen, inside",
    [
        ("2026-11-24 20:00:00", True),  # Tuesday 20:00 UTC opens the window (22:00 SAST)
        ("2026-11-24 19:59:59", False),
        ("2026-11-24 23:59:59", True),
        ("2026-11-25 00:00:00", False),  # the window ends at midnight (exclusive)
        ("2026-11-26 21:30:00", True),  # Thursday
        ("2026-11-28 04:00:00", True),  # Saturday 04:00-08:00
        ("2026-11-28 08:00:00", False),
        ("2026-11-23 21:00:00", False),  # Monday evening: no window
    ],
)
def test_maintenance_window_edges(frozen: str, inside: bool) -> None:
    with freeze_time(frozen):
        assert (window_refusal(PROD, now()) is None) is inside


def test_unprotected_environments_have_no_window() -> None:
    with freeze_time("2026-11-23 21:00:00"):
        assert window_refusal(SIT, now()) is None


@freeze_time("2026-11-23 12:00:00")
def test_emergency_rule_needs_its_approvers_and_an_incident() -> None:
    outside = now()
    assert "outside the maintenance windows" in window_or_emergency_refusal(
        PROD, Authority(approvers=("a", "b"), reason="r"), outside
    )
    missing = window_or_emergency_refusal(
        PROD, Authority(approvers=("Tech Lead", "CTO"), reason="r", emergency=True), outside
    )
    assert missing and "incident ticket" in missing
    one = window_or_emergency_refusal(
        PROD, Authority(approvers=("CTO",), reason="r", emergency=True, incident="INC-1"), outside
    )
    assert one and "2 distinct approvers" in one
    assert (
        window_or_emergency_refusal(
            PROD, Authority(approvers=("Tech Lead", "CTO"), reason="r", emergency=True, incident="INC-1"), outside
        )
        is None
    )


@pytest.mark.parametrize(
    "approvers, reason, ok",
    [
        (("Tech Lead", "Operations Lead"), "CR-1", True),
        (("Tech Lead", "Tech Lead"), "CR-1", False),  # distinct approvers (001 §2.2)
        (("Tech Lead", " tech lead "), "CR-1", False),  # one person: names compare case- and space-insensitively
        (("Tech Lead", "  "), "CR-1", False),
        (("Tech Lead", "Operations Lead"), "", False),  # a reason is required
        ((), "CR-1", False),
    ],
)
def test_approval_edges(approvers: tuple[str, ...], reason: str, ok: bool) -> None:
    rule = PROD.approvals["sit-to-prod"]
    assert (approval_refusal(rule, "sit-to-prod", list(approvers), reason) is None) is ok


@freeze_time("2026-11-25 00:00:00")
def test_next_window_start_is_the_next_opening() -> None:
    assert next_window_start(PROD, now()) == datetime(2026, 11, 26, 20, 0, tzinfo=timezone.utc)  # Thursday
    assert next_window_start(SIT, now()) is None


@pytest.mark.parametrize(
    "rate, level",
    [
        (0.0, "Below Warning"),
        (0.99, "Below Warning"),
        (1.0, "Warning"),
        (4.99, "Warning"),
        (5.0, "Critical"),
        (10.0, "Critical"),
        (10.01, "Emergency"),
    ],
)
def test_error_rate_severity_000_2_1(rate: float, level: str) -> None:
    d = dec.error_rate_severity(rate, SIT.thresholds)
    assert d.level == level and d.table.startswith("000 §2.1")
    assert d.quote().startswith(f'000 §2.1 Error Rate Thresholds: "{level} |')


def test_latency_per_service_000_2_2() -> None:
    th = SIT.thresholds
    assert dec.latency_severity("api", 5.5, th).action == "Rollback if persists >5 min"
    assert dec.latency_severity("api", 3.5, th).level == "API Gateway P95 Warning"
    assert dec.latency_severity("lambda", 26, th).action == "Immediate rollback"
    assert dec.latency_severity("dynamodb", 600, th).action == "Investigate, rollback if writes fail"
    assert dec.latency_severity("dynamodb", 50, th).weight == "none"
    with pytest.raises(ValueError):
        dec.latency_severity("sqs", 1, th)


@pytest.mark.parametrize(
    "users, revenue, level, action",
    [
        (5, "None", "Low", "Monitor, fix forward"),
        (50, "None", "Medium", "Prepare rollback, notify stakeholders"),
        (5, "Moderate", "High", "Initiate rollback"),  # the revenue row can decide
        (500, "Minimal", "High", "Initiate rollback"),
        (5000, "None", "Critical", "Immediate rollback, incident declared"),
    ],
)
def test_impact_matrix_000_2_4(users: int, revenue: str, level: str, action: str) -> None:
    d = dec.impact_decision(users, revenue, SIT.thresholds)
    assert (d.level, d.action) == (level, action)


def test_004_triggers_from_the_propie_inventory() -> None:
    ar = load_inventory("propie").environment("production").auto_rollback
    rows = dec.trigger_decisions(ar, error_rate_5xx_pct=6.0, latency_p99_ms=2500, auth_failures=21, memory_pct=85)
    assert [(d.level, d.action) for d in rows] == [
        ("5XX Error Rate", "Automatic rollback"),
        ("Authentication Failures", "Alert, manual decision"),
    ]
    assert dec.recommended(rows).action == "Automatic rollback"
    assert dec.trigger_decisions(SIT.auto_rollback, error_rate_5xx_pct=50) == []  # bbws gives no 004 thresholds


def test_spike_rule_is_strictly_more_than_the_count_in_the_window() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    window = timedelta(minutes=SIT.auto_rollback.spike_window_minutes)
    limit = SIT.auto_rollback.error_spike_count
    at = lambda m: t0 + timedelta(minutes=m)  # noqa: E731 (minutes after t0)
    assert spike([(at(0), 3), (at(1), 2)], window, limit) is None  # 5 in 2 minutes is not "> 5"
    assert spike([(at(0), 3), (at(1), 3)], window, limit) == (at(0), 6)
    assert spike([(at(0), 3), (at(2), 3)], window, limit) is None  # 2 minutes apart: never in one window


def test_monitor_window_from_the_inventory() -> None:
    assert monitor_seconds(SIT) == 30  # 001 §3.2.1 "Monitor for 30s errors" (DEV -> SIT)
    assert monitor_seconds(PROD) == 300  # 001 §4.3.1 "Verification (5min)"


def test_previous_version_and_previous_deployed_avoid_second_to_last() -> None:
    versions = [Version(str(n), f"1.0.{n}", "") for n in range(1, 6)]
    assert previous_version(versions, "3").number == "2"  # versions[-2] would be 4
    assert previous_version(versions, "1") is None
    assert previous_version(versions, "$LATEST").number == "5"
    assert previous_deployed(["1.0.1", "1.0.2", "1.0.3", "1.0.2"], "1.0.2") == "1.0.1"  # Parameters[-2] would be 1.0.3
    assert previous_deployed(["1.0.1", "1.0.2", "1.0.2"], None) == "1.0.1"  # a redeploy of the same release
    assert previous_deployed(["1.0.1"], "1.0.1") is None
