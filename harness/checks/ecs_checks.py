"""ECS row: each tenant service runs as many tasks as desired, and more than none (000 §7.3, §7.4).

The runbook names the service ``bbws-wordpress-${TENANT_ID}`` in §7.3 and ``{tenant}-wordpress``
elsewhere; the inventory records the choice. All services are described in batches of 10, the
DescribeServices limit, once per run.
"""

from __future__ import annotations

from harness.checks.context import CheckContext, Row
from harness.checks.result import CheckResult, Verdict


def check_ecs_tasks(ctx: CheckContext, row: Row) -> CheckResult:
    """runningCount == desiredCount > 0 and the service ACTIVE (000 §7.3 ``describe-services``)."""
    name = row.item
    if ctx.env.ecs is None:
        raise LookupError(f"inventory {ctx.env.inventory} has no [ecs]")
    cluster = ctx.env.ecs.cluster
    expected = "ACTIVE, running == desired > 0"
    svc = ctx.ecs.service(name)
    if svc is None:
        failure = ctx.ecs.failures.get(name, {})
        return row.result(
            expected,
            f"service {name} not found in {cluster}: {failure.get('reason', 'missing')}",
            Verdict.FAIL,
            cluster=cluster,
            failure=failure,
        )
    running, desired, status = svc.get("runningCount", 0), svc.get("desiredCount", 0), svc.get("status")
    evidence = {
        "cluster": cluster,
        "status": status,
        "runningCount": running,
        "desiredCount": desired,
        "pendingCount": svc.get("pendingCount"),
        "deployments": [
            {k: d.get(k) for k in ("status", "runningCount", "desiredCount", "rolloutState")}
            for d in svc.get("deployments", [])
        ],
    }
    observed = f"{status}, running {running}/{desired}"
    ok = status == "ACTIVE" and desired > 0 and running == desired
    return row.result(expected, observed, Verdict.PASS if ok else Verdict.FAIL, **evidence)
