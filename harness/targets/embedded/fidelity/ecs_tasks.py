"""ECS services that run their tasks (moto's services never start any).

With the extension, for a served account: CreateService and UpdateService converge the service to
``desiredCount`` RUNNING tasks (fewer while a fault placed through a target's ``EcsHandle`` holds it,
see ``ecs_faults``), StopTask on a service task makes the scheduler start a replacement (ECS
Developer Guide, "Service scheduler concepts"), and ListTasks filters by ``serviceName`` and defaults
to ``desiredStatus RUNNING`` (ECS API reference, ListTasks: "The default status filter is RUNNING").
Task and event times come from the served account's clock (the target's injected one).
"""

from __future__ import annotations

from typing import Any

from moto.ecs.models import EC2ContainerServiceBackend, Service

from harness.targets.embedded.fidelity import ecs_model, registry
from harness.targets.embedded.fidelity.ecs_faults import effective_cap
from harness.targets.embedded.fidelity.registry import AccountContext


def _converge(backend: EC2ContainerServiceBackend, svc: Service, ctx: AccountContext) -> None:
    """Run the service's desired tasks (or what its holds allow), stamped with the account's clock."""
    with ecs_model.LOCK:
        ecs_model.converge(backend, svc, effective_cap(svc), ctx.clock.now())


def _create_service(original: Any) -> Any:
    def create_service(self: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> Any:
        svc = original(self, *args, **kwargs)
        ctx = registry.context(self.account_id)
        if ctx is not None and svc.task_definition:
            _converge(self, svc, ctx)
        return svc

    create_service.__doc__ = "CreateService, then start desiredCount tasks (fidelity extension)."
    return create_service


def _update_service(original: Any) -> Any:
    def update_service(self: EC2ContainerServiceBackend, service_properties: dict[str, Any]) -> Any:
        ctx = registry.context(self.account_id)
        if ctx is None:
            return original(self, service_properties)
        svc = self._get_service(
            service_properties.get("cluster", "default"), service_properties["service"].split("/")[-1]
        )
        running, pending = svc.running_count, svc.pending_count
        svc = original(self, service_properties)
        # moto sets runningCount = desiredCount outright; undo its bookkeeping and converge with tasks.
        cluster = self._get_cluster(svc.cluster_name)
        self.update_cluster_resources(cluster, running - svc.running_count, task_state="RUNNING")
        self.update_cluster_resources(cluster, pending - svc.pending_count, task_state="PENDING")
        svc.running_count, svc.pending_count = running, pending
        if svc.task_definition:
            _converge(self, svc, ctx)
        return svc

    update_service.__doc__ = "UpdateService, converging tasks to the desired count (fidelity extension)."
    return update_service


def _stop_task(original: Any) -> Any:
    def stop_task(self: EC2ContainerServiceBackend, cluster_str: str, task_str: str, reason: str) -> Any:
        task = original(self, cluster_str, task_str, reason)
        ctx = registry.context(self.account_id)
        if ctx is not None and str(task.group).startswith("service:"):
            task.stopping_at = task.stopped_at = ctx.clock.now()
            svc = self._get_service(cluster_str, task.group.split(":", 1)[1])
            _converge(self, svc, ctx)  # the scheduler replaces a stopped service task
        return task

    stop_task.__doc__ = "StopTask; the service scheduler starts a replacement (fidelity extension)."
    return stop_task


def _list_tasks(original: Any) -> Any:
    def list_tasks(
        self: EC2ContainerServiceBackend,
        cluster_str: str | None = None,
        container_instance: str | None = None,
        family: str | None = None,
        started_by: str | None = None,
        service_name: str | None = None,
        desiredStatus: str | None = None,
    ) -> Any:
        if registry.context(self.account_id) is None:
            return original(self, cluster_str, container_instance, family, started_by, service_name, desiredStatus)
        tasks = original(self, cluster_str, container_instance, family, started_by, None, desiredStatus or "RUNNING")
        if service_name:
            name = service_name.split("/")[-1]
            tasks = [t for t in tasks if t.group == f"service:{name}"]
        return tasks

    list_tasks.__doc__ = "ListTasks with serviceName and the RUNNING default filter (fidelity extension)."
    return list_tasks


PATCHES: tuple[registry.Patch, ...] = (
    (EC2ContainerServiceBackend, "create_service", _create_service),
    (EC2ContainerServiceBackend, "update_service", _update_service),
    (EC2ContainerServiceBackend, "stop_task", _stop_task),
    (EC2ContainerServiceBackend, "list_tasks", _list_tasks),
)


def install() -> None:
    """Patch moto's ECS service and task paths (once per process)."""
    registry.patch_all(PATCHES)
