"""ECS running counts in the embedded emulator (moto never starts tasks: ARCHITECTURE.md)."""

from __future__ import annotations

from moto.ecs.models import ecs_backends


def set_running_count(account: str, region: str, cluster: str, service: str, running: int) -> None:
    """Make ``service`` report ``running`` tasks, as if ECS had started or lost them."""
    backend = ecs_backends[account][region]
    svc = backend.services[f"{cluster}:{service}"]
    svc.running_count = running
    svc.pending_count = max(svc.desired_count - running, 0)
    for deployment in svc.deployments:
        if deployment.get("status") == "PRIMARY":
            deployment["runningCount"] = running
            deployment["pendingCount"] = svc.pending_count
            deployment["rolloutState"] = "COMPLETED" if running >= svc.desired_count else "IN_PROGRESS"
