"""ECS tasks down: a service held below its desired count (000 §7.3 "ECS tasks running", §7.4 "ECS tasks").

Reached through the target's own fault handle (``target.extensions.ecs``, harness/targets/embedded/fidelity/
ecs_faults.py): tasks stop and the service is *held* at ``running`` as a container that keeps failing its
health check would be; UpdateService does not cure it. The undo lifts this target's hold and the service
converges to its desired count. Capabilities: ``ecs`` and ``emulator-faults`` (the handle is the
emulator's; on AWS a failing task definition would be the real fault).
"""

from __future__ import annotations

from harness.actions.guards import Authority
from harness.faults.base import Fault, FaultRefused, guard
from harness.targets.base import TargetLike

REASON = "Task failed ELB health checks (game day)"


def _counts(target: TargetLike, cluster: str, service: str) -> dict[str, int]:
    svc = target.client("ecs").describe_services(cluster=cluster, services=[service])["services"]
    if not svc:
        raise FaultRefused(f"ECS service {service} not found in {cluster}")
    return {"desired": int(svc[0].get("desiredCount", 0)), "running": int(svc[0].get("runningCount", 0))}


def tasks_down(target: TargetLike, service: str, authority: Authority, *, running: int = 0) -> Fault:
    """Hold ``service`` at ``running`` tasks (default none); the undo lets it converge to desiredCount."""
    guard(target, authority, needs=("ecs", "emulator-faults"))
    ecs = target.env.ecs
    if ecs is None or service not in ecs.services:
        raise FaultRefused(f"{service!r} is not an ECS service of {target.env.inventory}/{target.env.name}")
    handle = getattr(getattr(target, "extensions", None), "ecs", None)
    if handle is None:
        raise FaultRefused(f"target {target.name} has no ECS fault handle")
    before = _counts(target, ecs.cluster, service)
    now = target.clock.now()
    stopped = handle.lower_running_count(ecs.cluster, service, running, reason=REASON)

    def undo() -> list[str]:
        handle.restore_running_count(ecs.cluster, service)
        return [f"ECS {ecs.cluster}/{service}: hold lifted, running {_counts(target, ecs.cluster, service)['running']}"]

    return Fault(
        "ecs-tasks-down",
        f"ecs:{ecs.cluster}/{service}",
        "000 §7.3 infrastructure verification (ECS tasks running)",
        before=before,
        after={**_counts(target, ecs.cluster, service), "stopped_tasks": len(stopped)},
        injected_at=now,
        undo=undo,
        detected_by=("ecs-tasks",),
        simulated="tasks held down through the emulator's ECS handle",
    )
