"""What a target can rehearse, in one vocabulary (README "Fidelity" table).

Checks, actions, faults and drills declare the capabilities they need; a target declares the ones it
lacks, with the reason. The runner turns "not supported" into SKIP with that reason, so an emulator
gap is never a PASS and never a false FAIL. Real AWS supports everything.
"""

from __future__ import annotations

CAPABILITIES: dict[str, str] = {
    "lambda-invoke": "Invoke runs the code of the version an alias resolves to",
    "lambda-weighted-routing": "a weighted alias splits invocations between versions",
    "lambda-metrics": "invocations publish AWS/Lambda Invocations, Errors and Duration",
    "pitr-restore": "RestoreTableToPointInTime returns the items as they were at the restore time",
    "ecs": "ECS services run their desired count of tasks",
    "percentiles": "CloudWatch percentile statistics (p95, p99)",
    "amplify": "Amplify apps, branches, jobs and domain associations",
    "cloudformation-states": "CloudFormation stack states after failed updates, RollbackStack",
    "api-http": "the environment's HTTP API answers at a URL",
    "alarm-evaluation": "CloudWatch alarms change state from metric data",
    "s3-replication-copy": "S3 replication copies objects to the destination",
    "emulator-faults": "faults injected into the emulator's own state (ECS tasks held down, ...)",
    "clock-control": "the target's clock can be moved (rehearsal time, monitors that do not wait real minutes)",
    "api-quotas": "AWS API rate quotas are enforced (throttling)",
}


class UnknownCapability(KeyError):
    """A check or action asked for a capability outside the vocabulary (a harness bug)."""


def validate(capability: str) -> str:
    """``capability`` if it is in the vocabulary; raises UnknownCapability otherwise."""
    if capability not in CAPABILITIES:
        raise UnknownCapability(f"unknown capability {capability!r}; known: {', '.join(sorted(CAPABILITIES))}")
    return capability
