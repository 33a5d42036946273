"""ECS row: each tenant service runs as many tasks as desired, and more than none (000 §7.3, §7.4).

The runbook names the service ``bbws-wordpress-${TENANT_ID}`` in §7.3 and ``{tenant}-wordpress``
elsewhere; the inventory records the choice. All services are described in batches of 10, the
DescribeServices limit, once per run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from checks.context import CheckContext, Row
from checks.result import CheckResult, Verdict

MAX_SERVICES_PER_CALL = 10  # DescribeServices limit


@dataclass
class EcsReader:
    """Describes every inventory service of the cluster on first use, 10 per call."""

    ctx: Any
    services: dict[str, dict[str, Any]] | None = None
    failures: dict[str, dict[str, Any]] = field(default_factory=dict)
    round_trips: int = 0

    def service(self, name: str) -> dict[str, Any] | None:
        """The service's description, or None when ECS reported it as a failure (missing)."""
        if self.services is None:
            self._load()
        assert self.services is not None
        return self.services.get(name)

    def _load(self) -> None:
        ecs_cfg = self.ctx.env.ecs
        self.services = {}
        names = list(ecs_cfg.services)
        client = self.ctx.client("ecs")
        for i in range(0, len(names), MAX_SERVICES_PER_CALL):
            resp = client.describe_services(cluster=ecs_cfg.cluster, services=names[i : i + MAX_SERVICES_PER_CALL])
            self.round_trips += 1
            for s in resp.get("services", []):
                self.services[s["serviceName"]] = s
            for f in resp.get("failures", []):
                self.failures[f.get("arn", "").rsplit("/", 1)[-1]] = f


def check_ecs_tasks(ctx: CheckContext, row: Row) -> CheckResult:
    """runningCount == desiredCount > 0 and the service ACTIVE (000 §7.3 ``describe-services``)."""
    name = row.item
    cluster = ctx.env.ecs.cluster
    expected = "ACTIVE, running == desired > 0"
    svc = ctx.ecs.service(name)
    if svc is None:
        failure = ctx.ecs.failures.get(name, {})
        return row.result(expected, f"service {name} not found in {cluster}: {failure.get('reason', 'missing')}", Verdict.FAIL, cluster=cluster, failure=failure)
    running, desired, status = svc.get("runningCount", 0), svc.get("desiredCount", 0), svc.get("status")
    evidence = {
        "cluster": cluster,
        "status": status,
        "runningCount": running,
        "desiredCount": desired,
        "pendingCount": svc.get("pendingCount"),
        "deployments": [{k: d.get(k) for k in ("status", "runningCount", "desiredCount", "rolloutState")} for d in svc.get("deployments", [])],
    }
    observed = f"{status}, running {running}/{desired}"
    ok = status == "ACTIVE" and desired > 0 and running == desired
    return row.result(expected, observed, Verdict.PASS if ok else Verdict.FAIL, **evidence)
