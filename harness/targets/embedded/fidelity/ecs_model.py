"""ECS service tasks on moto's models: a service's running count is the number of RUNNING tasks it owns.

moto never starts a service's tasks (docs/architecture.md, "Emulator facts"): a service reports whatever
``runningCount`` it was created with and ListTasks knows nothing of it. :func:`reconcile` starts or
stops the service's tasks until the wanted number run and sets every count from them, so
DescribeServices, ListTasks and DescribeTasks agree (000 §7.3/§7.4 read all three).

Service tasks belong to the service as ECS's scheduler's do (ECS Developer Guide, "Service scheduler
concepts"): ``group`` is ``service:<name>``, ``startedBy`` the deployment id, and a stopped task stays
describable as STOPPED with its ``stoppedReason``. Every timestamp is the ``now`` the caller passes
(the target's injected clock), never the wall clock.
"""

from __future__ import annotations

import copy
import threading
from datetime import datetime

from moto.ecs.models import EC2ContainerServiceBackend, Service, Task
from moto.moto_api._internal import mock_random

SCALE_IN_REASON = "Scaling activity initiated by (deployment {deployment})"
# The server's request threads (CreateService, StopTask, ...) and a drill's fault handle change the
# same service models: one lock makes "read the holds, then reconcile" atomic.
LOCK = threading.RLock()


class ServiceTask(Task):
    """A task the service scheduler started: its status changes only when the harness changes it.

    moto's ``Task`` walks RUNNING -> DEACTIVATING -> ... -> STOPPED a step per DescribeTasks call;
    a service's healthy task must stay RUNNING however often it is described.
    """

    @property
    def status(self) -> str | None:
        """The task's lastStatus, unchanged by reads."""
        return self._status

    @status.setter
    def status(self, value: str) -> None:
        self._status = value


def service_tasks(backend: EC2ContainerServiceBackend, svc: Service, status: str | None = "RUNNING") -> list[Task]:
    """The tasks ``svc`` owns, optionally only those whose lastStatus is ``status``."""
    tasks = backend.tasks.get(svc.cluster_name, {}).values()
    return [t for t in tasks if t.group == f"service:{svc.name}" and (status is None or t.last_status == status)]


def _deployment_id(svc: Service) -> str:
    """The PRIMARY deployment's id, which ECS puts in a service task's startedBy."""
    primary = next((d for d in svc.deployments if d.get("status") == "PRIMARY"), None)
    return str(primary["id"]) if primary else f"ecs-svc/{mock_random.randint(0, 32**12)}"


def _start_task(backend: EC2ContainerServiceBackend, svc: Service, now: datetime) -> Task:
    """Start one RUNNING task for ``svc`` as its scheduler would, created and started at ``now``."""
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
    stamp(task, created_at=now, started_at=now)
    backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
    return task


def _stop_task(task: Task, reason: str, now: datetime) -> None:
    """Mark ``task`` STOPPED with ``reason`` at ``now`` (it stays describable)."""
    task.last_status = "STOPPED"
    task.desired_status = "STOPPED"
    task.stopped_reason = reason
    stamp(task, stopping_at=now, stopped_at=now)


def stamp(task: Task, **times: datetime) -> None:
    """Set task timestamps moto's ``Task`` does not model (``created_at`` ...); its response_object
    serialises every attribute, so DescribeTasks shows them as ``createdAt`` ..."""
    task.__dict__.update(times)


def _event(svc: Service, message: str, now: datetime) -> None:
    """Add a service event, newest first, as DescribeServices shows them."""
    svc.events.insert(
        0, {"id": str(mock_random.uuid4()), "createdAt": now, "message": f"(service {svc.name}) {message}"}
    )


def reconcile(
    backend: EC2ContainerServiceBackend, svc: Service, running: int, now: datetime, reason: str | None = None
) -> list[str]:
    """Start or stop ``svc``'s tasks until exactly ``running`` are RUNNING; returns the stopped task ARNs."""
    running = max(int(running), 0)
    live = service_tasks(backend, svc)
    started: list[Task] = []
    stopped: list[Task] = []
    while len(live) < running:
        task = _start_task(backend, svc, now)
        live.append(task)
        started.append(task)
    while len(live) > running:
        task = live.pop()
        _stop_task(task, reason or SCALE_IN_REASON.format(deployment=_deployment_id(svc)), now)
        stopped.append(task)
    if started:
        _event(svc, f"has started {len(started)} tasks: {', '.join(f'(task {t.id})' for t in started)}.", now)
    if stopped:
        _event(svc, f"has stopped {len(stopped)} running tasks: {', '.join(f'(task {t.id})' for t in stopped)}.", now)
    _set_counts(backend, svc, running, now)
    return [t.task_arn for t in stopped]


def _set_counts(backend: EC2ContainerServiceBackend, svc: Service, running: int, now: datetime) -> None:
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
            deployment["updatedAt"] = now


def converge(backend: EC2ContainerServiceBackend, svc: Service, cap: int | None, now: datetime) -> list[str]:
    """What ECS's scheduler does: run ``desiredCount`` tasks, or ``cap`` while a fault holds it lower."""
    target = svc.desired_count if cap is None else min(svc.desired_count, cap)
    return reconcile(backend, svc, target, now)
