"""ECS faults on the embedded emulator, reached through one target's handle (``target.extensions.ecs``).

A drill breaks an ECS service the way a real failure does (000 §7.3: "ECS tasks running" fails):
``lower_running_count`` stops tasks and *holds* the service below its desired count, as a container
that keeps failing its health check would; UpdateService does not cure it; ``restore_running_count``
ends it and the service runs ``desiredCount`` tasks again. ``set_running_count`` is not a fault but
a one-off (as if ECS had just started or lost tasks): the next deployment converges back.

Holds are keyed per handle, i.e. per target, not per account. The rule:

- a hold belongs to the handle that placed it: only that handle's ``restore_running_count`` (or its
  ``close()``) lifts it, and ``running_cap`` / ``held`` report only that handle's own holds, so two
  targets on one account neither see nor undo each other's faults;
- while several handles hold one service, it runs ``min(desiredCount, every cap)``: the deepest
  outage wins, as overlapping real failures would; lifting one hold leaves the others in force.

The holds live on moto's service model, so ``reset_account`` forgets them with the service. Every
timestamp (task startedAt/stoppedAt, service events, deployment updatedAt) comes from the handle's
clock, the target's injected one.
"""

from __future__ import annotations

import uuid

from moto.ecs.exceptions import ClusterNotFoundException, ServiceNotFoundException
from moto.ecs.models import EC2ContainerServiceBackend, Service, ecs_backends

from harness.clock import Clock
from harness.targets.embedded.fidelity import ecs_model

HOLDS_ATTR = "_harness_holds"  # on a moto Service: {handle token: the count that handle holds it at}
DEFAULT_REASON = "Task failed ELB health checks"


def _holds(svc: Service) -> dict[str, int]:
    """The service's holds, by handle token (created empty on first use)."""
    holds = svc.__dict__.get(HOLDS_ATTR)
    if holds is None:
        holds = {}
        setattr(svc, HOLDS_ATTR, holds)
    return holds


def effective_cap(svc: Service) -> int | None:
    """The count every live hold together allows (the lowest of them); None when nothing holds ``svc``."""
    holds = svc.__dict__.get(HOLDS_ATTR) or {}
    return min(holds.values()) if holds else None


class EcsHandle:
    """One target's ECS fault handle: its account and region, its clock, and the holds it placed."""

    def __init__(self, account: str, region: str, clock: Clock) -> None:
        self.account, self.region, self.clock = account, region, clock
        self.token = f"hold-{uuid.uuid4()}"
        self._held: dict[str, Service] = {}  # service ARN -> the model this handle holds

    def _backend(self) -> EC2ContainerServiceBackend:
        """moto's ECS backend of this handle's account and region."""
        return ecs_backends[self.account][self.region]

    def _service(self, cluster: str, service: str) -> tuple[EC2ContainerServiceBackend, Service]:
        """(backend, service model); ClusterNotFoundException / ServiceNotFoundException as ECS raises them."""
        backend = self._backend()
        return backend, backend._get_service(cluster, service)

    def set_running_count(self, cluster: str, service: str, running: int) -> list[str]:
        """Make ``service`` report ``running`` tasks now (no hold); returns the stopped task ARNs."""
        with ecs_model.LOCK:
            backend, svc = self._service(cluster, service)
            return ecs_model.reconcile(backend, svc, running, self.clock.now())

    def lower_running_count(self, cluster: str, service: str, running: int, reason: str = DEFAULT_REASON) -> list[str]:
        """Fault: stop tasks down to ``running`` and hold the service there; returns the stopped task ARNs."""
        with ecs_model.LOCK:
            backend, svc = self._service(cluster, service)
            _holds(svc)[self.token] = max(int(running), 0)
            self._held[svc.arn] = svc
            running_now = min(svc.desired_count, min(_holds(svc).values()))
            return ecs_model.reconcile(backend, svc, running_now, self.clock.now(), reason)

    def restore_running_count(self, cluster: str, service: str) -> bool:
        """End this handle's fault: the service converges to ``desiredCount`` (or another handle's hold).

        Returns whether this handle held the service; another handle's hold is left in force.
        """
        with ecs_model.LOCK:
            backend, svc = self._service(cluster, service)
            lifted = _holds(svc).pop(self.token, None) is not None
            self._held.pop(svc.arn, None)
            ecs_model.converge(backend, svc, effective_cap(svc), self.clock.now())
            return lifted

    def running_cap(self, cluster: str, service: str) -> int | None:
        """The count this handle holds ``service`` at (None: this handle holds no fault there)."""
        with ecs_model.LOCK:
            _, svc = self._service(cluster, service)
            return _holds(svc).get(self.token)

    def held(self) -> list[tuple[str, str]]:
        """(cluster, service) of every service this handle holds down."""
        with ecs_model.LOCK:
            return sorted((svc.cluster_name, svc.name) for svc in self._held.values())

    def close(self) -> None:
        """Lift every hold of this handle (the target is going away); services still there converge."""
        with ecs_model.LOCK:
            held, self._held = list(self._held.values()), {}
            for svc in held:
                _holds(svc).pop(self.token, None)
                backend = self._backend()
                try:
                    current = backend._get_service(svc.cluster_name, svc.name)
                except (ClusterNotFoundException, ServiceNotFoundException):
                    continue  # deleted or its account reset: nothing left to restore
                if current is svc:
                    ecs_model.converge(backend, svc, effective_cap(svc), self.clock.now())

    def __repr__(self) -> str:
        return f"EcsHandle(account={self.account}, region={self.region}, holds={self.held()})"
