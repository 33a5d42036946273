"""LocalStack (docker-compose.localstack.yml): endpoints from localstack-client's settings."""

from __future__ import annotations

import os

import boto3

from harness.inventory.model import Environment
from harness.targets.base import Target

# What LocalStack community cannot rehearse (ARCHITECTURE.md "Emulator facts"): scenarios that
# need these skip on this target with the reason.
NOT_REHEARSABLE = {
    "dynamodb-pitr-restore": "LocalStack community has no RestoreTableToPointInTime",
    "ecs": "LocalStack community has no ECS",
    "amplify": "LocalStack community has no Amplify",
}


class LocalstackTarget(Target):
    """A LocalStack container; each env's account is selected by its 12-digit access key id."""

    name = "localstack"
    max_attempts = 3

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        import localstack_client.config as lsconfig

        self._lsconfig = lsconfig

    def _endpoint_url(self, service: str) -> str | None:
        return os.environ.get("AWS_ENDPOINT_URL") or self._lsconfig.get_service_endpoint(service)

    def _make_session(self) -> boto3.Session:
        # LocalStack maps a 12-digit access key id to that account id.
        return boto3.Session(
            aws_access_key_id=self.env.account,
            aws_secret_access_key="test",
            region_name=self.env.region,
        )

    def describe(self) -> str:
        return f"{self.env.describe()} target=localstack at {self._endpoint_url('sts')} — not a real account"
