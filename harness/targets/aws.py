"""The real AWS accounts: the env's profile (or the default chain), optional role assumption."""

from __future__ import annotations

import os

import boto3

from harness.clock import Clock
from harness.inventory.model import Environment
from harness.targets.base import Target


class AwsTarget(Target):
    """Real AWS (or whatever ``AWS_ENDPOINT_URL`` points at, as every AWS SDK honours it)."""

    name = "aws"
    is_real_account = True

    def __init__(
        self, env: Environment, *, assume_role: bool = False, profile: str | None = None, clock: Clock | None = None
    ) -> None:
        super().__init__(env, clock=clock)
        self.assume_role = assume_role
        self.profile = profile

    def _base_session(self) -> boto3.Session:
        profile = self.profile or os.environ.get("AWS_PROFILE")
        if profile is None and self.env.profile and self.env.profile in boto3.Session().available_profiles:
            profile = self.env.profile
        return boto3.Session(profile_name=profile, region_name=self.env.region)

    def _make_session(self) -> boto3.Session:
        base = self._base_session()
        if not (self.assume_role and self.env.role):
            return base
        arn = f"arn:aws:iam::{self.env.account}:role/{self.env.role}"
        creds = base.client("sts").assume_role(RoleArn=arn, RoleSessionName="runbook-harness")["Credentials"]
        return boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=self.env.region,
        )

    def not_rehearsable(self) -> dict[str, str]:
        """Real AWS rehearses everything but moving its clock."""
        return {
            "clock-control": "real AWS runs on the wall clock (SigV4 signs with it)",
            "emulator-faults": "real AWS has no emulator state",
        }

    def emulator(self) -> str:
        """``endpoint <url>`` when AWS_ENDPOINT_URL redirects the SDK, else real AWS."""
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        return f"endpoint {endpoint}" if endpoint else "none (real AWS)"

    def describe(self) -> str:
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            # An endpoint may be `harness serve` or LocalStack: never call it a real account, never a rehearsal.
            return (
                f"{self.env.describe()} target=aws via AWS_ENDPOINT_URL={endpoint} — the account behind that endpoint"
            )
        return f"{self.env.describe()} target=aws — REAL ACCOUNT"
