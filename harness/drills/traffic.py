"""Healthy traffic after a recovery, so the 000 §7.4 window rows have something to measure.

The verification window (``thresholds.verification_window_minutes``, 000 §7.1 "the last 5 minutes") still
holds the fault's errors right after a recovery: the windowed rows (error rate, latency p95, log errors)
can only be green once a whole window has passed with traffic through the recovered aliases. The settle
phase therefore lets that window pass on the target's clock (a rehearsal's clock jumps; on AWS it really
waits) and sends one health request through every function's alias, as users would, so the rows read
real invocations (and the read-only checklists later in the session do too) instead of an idle window.
"""

from __future__ import annotations

from typing import Sequence

from harness.actions import lambda_versions as lv
from harness.targets.base import TargetLike

# CloudWatch rounds a window's StartTime down to the minute (checks/metrics.py): one more minute makes
# sure the fault's datapoints are out of the window the metric rows read.
ROUNDING_S = 60.0


def window_s(target: TargetLike) -> float:
    """How long the settle phase waits: the verification window plus CloudWatch's minute rounding."""
    return target.env.thresholds.verification_window_minutes * 60.0 + ROUNDING_S


def healthy_traffic(target: TargetLike, functions: Sequence[str]) -> list[lv.HealthProbe]:
    """One /health request through each function's alias (000 §4.2.5 payload); the probes, judged."""
    env, lam = target.env, target.client("lambda")
    if not target.supports("lambda-invoke"):
        return []
    return [
        lv.invoke_health(lam, fn, env.alias, env.health_payload, env.auto_rollback.health_status, target.clock.now())
        for fn in functions
    ]


def every_function(target: TargetLike) -> list[str]:
    """Every function of the inventory (names and discovered), in inventory order."""
    return [fn for fn, _ in lv.service_functions(target.env, None, target.client("lambda"))]


def let_window_pass(target: TargetLike, functions: Sequence[str] | None = None) -> list[lv.HealthProbe]:
    """Let the verification window pass on the target's clock, then send healthy traffic (every function by default)."""
    target.clock.sleep(window_s(target))
    return healthy_traffic(target, list(functions) if functions is not None else every_function(target))
