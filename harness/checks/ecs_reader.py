"""The phase's batched ECS read: every inventory service of the cluster, 10 per DescribeServices call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
