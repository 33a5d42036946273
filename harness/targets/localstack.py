"""LocalStack (docker-compose.localstack.yml): endpoints from localstack-client's settings."""

from __future__ import annotations

import os
from typing import Mapping

import boto3

from harness.clock import Clock
from harness.inventory.model import Environment
from harness.targets.base import Target, isolated_session

# What LocalStack community cannot rehearse (docs/architecture.md, README "Fidelity"): scenarios
# that need these skip on this target with the reason. "unverified" rows of the fidelity table are
# listed too: LocalStack cannot run on the machines this was written on, so they are not claimed.
NOT_REHEARSABLE = {
    "pitr-restore": "LocalStack community has no RestoreTableToPointInTime",
    "ecs": "LocalStack community has no ECS",
    "amplify": "Amplify is in LocalStack Pro only",
    "cloudformation-states": "failed-update stack states and RollbackStack are unverified on LocalStack community",
    "lambda-weighted-routing": "weighted alias routing is unverified on LocalStack community",
    "lambda-metrics": "AWS/Lambda metrics from real invocations are unverified on LocalStack community",
    "percentiles": "CloudWatch percentile statistics are unverified on LocalStack community",
    "api-http": "the inventory's API URL is not served by LocalStack (pass --api-base-url)",
    "alarm-evaluation": "alarm evaluation is unverified on LocalStack community",
    "s3-replication-copy": "LocalStack does not copy replicated objects",
    "emulator-faults": "the harness cannot reach into LocalStack's state",
    "clock-control": "LocalStack runs on the wall clock",
    "api-quotas": "LocalStack does not enforce AWS API quotas",
}


class LocalstackTarget(Target):
    """A LocalStack container; each env's account is selected by its 12-digit access key id."""

    name = "localstack"
    max_attempts = 3

    def __init__(self, env: Environment, *, clock: Clock | None = None) -> None:
        super().__init__(env, clock=clock)
        import localstack_client.config as lsconfig

        self._lsconfig = lsconfig

    def _endpoint_url(self, service: str) -> str | None:
        return os.environ.get("AWS_ENDPOINT_URL") or self._lsconfig.get_service_endpoint(service)

    def not_rehearsable(self) -> Mapping[str, str]:
        """LocalStack community's gaps (README fidelity table)."""
        return NOT_REHEARSABLE

    def emulator(self) -> str:
        """LocalStack at its endpoint."""
        return f"LocalStack at {self._endpoint_url('sts')}"

    @property
    def api_base_url(self) -> str | None:
        """None: LocalStack serves API Gateway under its own URLs, never the inventory's hostname."""
        return None

    def _make_session(self) -> boto3.Session:
        # LocalStack maps a 12-digit access key id to that account id; the user's profile is not read.
        return isolated_session(self.env.account, "test", self.env.region)

    def describe(self) -> str:
        return f"{self.env.describe()} target=localstack at {self._endpoint_url('sts')} — not a real account"
