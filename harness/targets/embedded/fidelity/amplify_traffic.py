"""Users on the rehearsal's site: the CloudWatch datapoints one minute of traffic produces.

On AWS the 004 trigger metrics come from real requests; on the embedded target nothing calls the API,
so the seed (24 h of healthy history) and a drill (``AmplifyHandle.run_traffic``) publish what a
minute of traffic would, under each trigger's own namespace, metric and dimensions from the inventory
(``[auto_rollback.sources]``). The shape is a rehearsal choice, derived from the thresholds so that a
healthy minute is well inside them and a bad release (``harness-bad-release``, see ``amplify_model``)
is well outside the 5XX rate: it fails ``BAD_RELEASE_FACTOR`` times the threshold's share of requests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from harness.inventory.model import Environment, TriggerMetric

REQUESTS_PER_MINUTE = 120
BAD_RELEASE_FACTOR = 4.0  # a bad release fails 4x the 5XX threshold's share (5 % -> 20 %)
# Latency distribution as fractions of the p99 threshold (values) and how often each occurs (counts).
LATENCY_SHAPE = ([0.04, 0.08, 0.15, 0.3], [50.0, 45.0, 24.0, 1.0])


def _dims(trigger: TriggerMetric) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in trigger.dimensions]


def minute(
    env: Environment, at: datetime, *, bad_release: bool = False, minutes: int = 1
) -> dict[str, list[dict[str, Any]]]:
    """``minutes`` of traffic ending at ``at`` as one datapoint per metric: namespace -> MetricData."""
    out: dict[str, list[dict[str, Any]]] = {}
    requests = float(REQUESTS_PER_MINUTE * minutes)

    def put(trigger: TriggerMetric, datum: dict[str, Any]) -> None:
        out.setdefault(trigger.namespace, []).append({"Dimensions": _dims(trigger), "Timestamp": at, **datum})

    rate = env.trigger("error_rate_5xx")
    if rate is not None:
        share = min(1.0, BAD_RELEASE_FACTOR * rate.threshold / 100.0) if bad_release else 0.0
        put(rate, {"MetricName": rate.metric, "Value": round(requests * share), "Unit": "Count"})
        if rate.total_metric:
            put(rate, {"MetricName": rate.total_metric, "Value": requests, "Unit": "Count"})
    latency = env.trigger("latency_p99")
    if latency is not None:
        fractions, weights = LATENCY_SHAPE
        total = sum(weights)
        put(
            latency,
            {
                "MetricName": latency.metric,
                "Values": [round(f * latency.threshold, 1) for f in fractions],
                "Counts": [w * requests / total for w in weights],
                "Unit": "Milliseconds",
            },
        )
    auth = env.trigger("auth_failures")
    if auth is not None:  # a healthy minute: sign-ins succeed (a datapoint of 0, so the row is measured)
        put(auth, {"MetricName": auth.metric, "Value": 0.0, "Unit": "Count"})
    memory = env.trigger("memory")
    if memory is not None:
        put(memory, {"MetricName": memory.metric, "Value": round(memory.threshold / 2, 1), "Unit": "Percent"})
    return out


def publish(cloudwatch: Any, data: dict[str, list[dict[str, Any]]]) -> None:
    """PutMetricData per namespace, in calls of at most 1,000 datapoints."""
    for namespace, items in data.items():
        for start in range(0, len(items), 1000):
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=items[start : start + 1000])
