"""Targets: where a scenario's AWS calls go (embedded emulator, LocalStack, real AWS)."""

from __future__ import annotations

from harness.errors import TargetError
from harness.inventory.model import Environment
from harness.targets.base import Target, forget_user_aws_profile

TARGETS = ("embedded", "localstack", "aws")


def make_target(name: str, env: Environment, **options: object) -> Target:
    """The target called ``name`` for ``env`` (not started)."""
    if name in ("embedded", "localstack"):
        forget_user_aws_profile()  # before moto is imported: a rehearsal reads no user AWS configuration
    if name == "embedded":
        from harness.targets.embedded import EmbeddedTarget

        return EmbeddedTarget(env, **options)  # type: ignore[arg-type]
    if name == "localstack":
        from harness.targets.localstack import LocalstackTarget

        return LocalstackTarget(env, **options)  # type: ignore[arg-type]
    if name == "aws":
        from harness.targets.aws import AwsTarget

        return AwsTarget(env, **options)  # type: ignore[arg-type]
    raise TargetError(f"unknown target {name!r}; valid: {', '.join(TARGETS)}")


__all__ = ["TARGETS", "Target", "make_target"]
