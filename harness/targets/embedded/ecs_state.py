"""ECS running counts in the embedded emulator, with the tasks that make them up.

moto never starts a service's tasks (ARCHITECTURE.md, "Emulator facts"): a service reports whatever
``runningCount`` it was created with and ListTasks knows nothing of it. Here a service's running
count is the number of RUNNING tasks it owns, so DescribeServices, ListTasks and DescribeTasks agree:

- ``set_running_count`` starts or stops service tasks until ``running`` are RUNNING (the seed uses it);
- ``lower_running_count`` is a fault: it stops tasks and *holds* the service below its desired count
  (as with a container that keeps failing its health check), until ``restore_running_count``.

Service tasks belong to the service as ECS's scheduler's do (ECS Developer Guide, "Service scheduler
concepts"): ``group`` is ``service:<name>``, ``startedBy`` the deployment id, and a stopped task stays
describable as STOPPED with its ``stoppedReason``.
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any

from moto.ecs.models import EC2ContainerServiceBackend, Service, Task, ecs_backends
from moto.moto_api._internal import mock_random

HOLD_ATTR = "_harness_running_cap"
SCALE_IN_REASON = "Scaling activity initiated by (deployment {deployment})"


class ServiceTask(Task):
    """A task the service scheduler started: its status changes only when the harness changes it.

    moto's ``Task`` walks RUNNING -> DEACTIVATING -> ... -> STOPPED a step per DescribeTasks call;
    a service's healthy task must stay RUNNING however often it is described.
    """

    @property  # type: ignore[override]
    def status(self) -> str | None:
        """The task's lastStatus, unchanged by reads."""
        return self._status

    @status.setter
    def status(self, value: str) -> None:
        self._status = value


def _service(backend: EC2ContainerServiceBackend, cluster: str, service: str) -> Service:
    """The service model (ServiceNotFoundException as ECS raises it)."""
    return backend._get_service(cluster, service)


def service_tasks(backend: EC2ContainerServiceBackend, svc: Service, status: str | None = "RUNNING") -> list[Task]:
    """The tasks ``svc`` owns, optionally only those whose lastStatus is ``status``."""
    tasks = backend.tasks.get(svc.cluster_name, {}).values()
    return [t for t in tasks if t.group == f"service:{svc.name}" and (status is None or t.last_status == status)]


def _deployment_id(svc: Service) -> str:
    """The PRIMARY deployment's id, which ECS puts in a service task's startedBy."""
    primary = next((d for d in svc.deployments if d.get("status") == "PRIMARY"), None)
    return primary["id"] if primary else f"ecs-svc/{mock_random.randint(0, 32**12)}"


def _start_task(backend: EC2ContainerServiceBackend, svc: Service) -> Task:
    """Start one RUNNING task for ``svc`` as its scheduler would."""
    cluster = backend._get_cluster(svc.cluster_name)
    task_definition = backend.describe_task_definition(svc.task_definition) if svc.task_definition else None
    if task_definition is None:
        raise ValueError(f"service {svc.name} has no task definition: ECS cannot start its tasks")
    if task_definition.network_mode == "awsvpc" and not svc.network_configuration:
        # A service without network configuration cannot have awsvpc tasks in AWS either; moto needs
        # one to fake an ENI, so describe the task without it rather than failing the fault.
        task_definition = copy.copy(task_definition)
        task_definition.network_mode = "bridge"
    task = ServiceTask(
        cluster=cluster,
        task_definition=task_definition,
        container_instance_arn=None,
        resource_requirements=backend._calculate_task_resource_requirements(task_definition),
        backend=backend,
        group=f"service:{svc.name}",
        launch_type=svc.launch_type or "",
        started_by=_deployment_id(svc),
        networking_configuration=svc.network_configuration or None,
        platform_version=svc.platform_version,
    )
    task.started_at = datetime.now(timezone.utc)
    backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
    return task


def _stop_task(task: Task, reason: str) -> None:
    """Mark ``task`` STOPPED with ``reason`` (it stays describable)."""
    task.last_status = "STOPPED"
    task.desired_status = "STOPPED"
    task.stopped_reason = reason
    task.stopped_at = datetime.now(timezone.utc)


def _event(svc: Service, message: str) -> None:
    """Add a service event, newest first, as DescribeServices shows them."""
    svc.events.insert(0, {"id": str(mock_random.uuid4()), "createdAt": datetime.now(timezone.utc), "message": f"(service {svc.name}) {message}"})


def reconcile(backend: EC2ContainerServiceBackend, svc: Service, running: int, reason: str | None = None) -> None:
    """Start or stop ``svc``'s tasks until exactly ``running`` are RUNNING; update every count."""
    running = max(int(running), 0)
    live = service_tasks(backend, svc)
    started, stopped = [], []
    while len(live) < running:
        task = _start_task(backend, svc)
        live.append(task)
        started.append(task.id)
    while len(live) > running:
        task = live.pop()
        _stop_task(task, reason or SCALE_IN_REASON.format(deployment=_deployment_id(svc)))
        stopped.append(task.id)
    if started:
        _event(svc, f"has started {len(started)} tasks: {', '.join(f'(task {t})' for t in started)}.")
    if stopped:
        _event(svc, f"has stopped {len(stopped)} running tasks: {', '.join(f'(task {t})' for t in stopped)}.")
    _set_counts(backend, svc, running)


def _set_counts(backend: EC2ContainerServiceBackend, svc: Service, running: int) -> None:
    """Set the service's, its PRIMARY deployment's and the cluster's counts."""
    cluster = backend._get_cluster(svc.cluster_name)
    pending = max(svc.desired_count - running, 0)
    backend.update_cluster_resources(cluster, running - svc.running_count, task_state="RUNNING")
    backend.update_cluster_resources(cluster, pending - svc.pending_count, task_state="PENDING")
    svc.running_count, svc.pending_count = running, pending
    for deployment in svc.deployments:
        if deployment.get("status") == "PRIMARY":
            deployment["desiredCount"] = svc.desired_count
            deployment["runningCount"] = running
            deployment["pendingCount"] = pending
            deployment["rolloutState"] = "COMPLETED" if running >= svc.desired_count else "IN_PROGRESS"
            deployment["updatedAt"] = datetime.now(timezone.utc)


def converge(backend: EC2ContainerServiceBackend, svc: Service) -> None:
    """What ECS's scheduler does: run ``desiredCount`` tasks, or fewer while a fault holds it down."""
    cap = getattr(svc, HOLD_ATTR, None)
    target = svc.desired_count if cap is None else min(svc.desired_count, cap)
    reconcile(backend, svc, target)


def set_running_count(account: str, region: str, cluster: str, service: str, running: int) -> None:
    """Make ``service`` report ``running`` tasks, as if ECS had started or lost them."""
    backend = ecs_backends[account][region]
    reconcile(backend, _service(backend, cluster, service), running)


def lower_running_count(account: str, region: str, cluster: str, service: str, running: int, reason: str = "Task failed ELB health checks") -> list[str]:
    """Fault: stop tasks down to ``running`` and keep the service there; returns the stopped task ARNs."""
    backend = ecs_backends[account][region]
    svc = _service(backend, cluster, service)
    before = {t.task_arn for t in service_tasks(backend, svc)}
    setattr(svc, HOLD_ATTR, max(int(running), 0))
    reconcile(backend, svc, min(svc.desired_count, int(running)), reason=reason)
    return sorted(before - {t.task_arn for t in service_tasks(backend, svc)})


def restore_running_count(account: str, region: str, cluster: str, service: str) -> None:
    """End the fault: the service runs ``desiredCount`` tasks again."""
    backend = ecs_backends[account][region]
    svc = _service(backend, cluster, service)
    setattr(svc, HOLD_ATTR, None)
    converge(backend, svc)


def running_cap(svc: Service) -> Any:
    """The count a fault holds ``svc`` at (None: no fault)."""
    return getattr(svc, HOLD_ATTR, None)
