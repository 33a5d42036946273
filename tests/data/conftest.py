"""Helpers for the state and data recovery tests: targets on fresh accounts and a "world" to compare
before and after every refusal (a refusal must change nothing)."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import pytest

from harness import aws
from harness.actions import Authority
from harness.data_verify import table_digests

ALLOW = Authority(actor="tests", reason="tests/data")


class Kept:
    """A target that is not disposable (a real account or a shared LocalStack): mutations need --allow-mutation."""

    disposable = False

    def __init__(self, target: Any, **env_changes: Any) -> None:
        self._target = target
        self.env = dataclasses.replace(target.env, **env_changes) if env_changes else target.env
        self.name = "aws"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def world(target: Any) -> dict[str, Any]:
    """Everything an action could change: tables and their items, state versions and locks, functions, backups."""
    ddb, s3, lam = target.client("dynamodb"), target.client("s3"), target.client("lambda")
    env = target.env
    out: dict[str, Any] = {"tables": {}}
    for name in aws.paginate(ddb, "list_tables", "TableNames"):
        pitr = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"][
            "PointInTimeRecoveryDescription"
        ]
        out["tables"][name] = (table_digests(ddb, name, segments=1).items, pitr.get("PointInTimeRecoveryStatus"))
    out["backups"] = sorted(b["BackupName"] for b in aws.paginate(ddb, "list_backups", "BackupSummaries"))
    if env.terraform:
        versions = aws.paginate(s3, "list_object_versions", "Versions", Bucket=env.terraform.state_bucket)
        out["state"] = sorted((v["Key"], v["VersionId"], v["IsLatest"]) for v in versions)
    functions = {fn for t in env.tables for fn in t.functions} | {f.name for f in env.functions}
    out["functions"] = {
        fn: (
            sorted(
                (a["Name"], a["FunctionVersion"]) for a in aws.paginate(lam, "list_aliases", "Aliases", FunctionName=fn)
            ),
            sorted(v["Version"] for v in aws.paginate(lam, "list_versions_by_function", "Versions", FunctionName=fn)),
            lam.get_function_configuration(FunctionName=fn).get("Environment"),
            lam.get_function_concurrency(FunctionName=fn).get("ReservedConcurrentExecutions"),
        )
        for fn in sorted(functions)
    }
    return out


def start_lean(*, functions: bool = False, clock: Any = None) -> Any:
    """A seeded bbws/sit rehearsal on a fresh account with only what these tests read: tables, Terraform state,
    and (``functions=True``) the functions the inventory's tables list (000 §6.6). Seeding all of SIT costs seconds."""
    from harness.clock import FixedClock
    from harness.inventory import load_inventory
    from harness.targets.embedded import EmbeddedTarget
    from tests.fidelity.conftest import fresh_account, isolated

    env = isolated(load_inventory("bbws").environment("sit"), fresh_account())
    readers = {fn for t in env.tables for fn in t.functions}
    tables = env.tables if functions else tuple(dataclasses.replace(t, functions=()) for t in env.tables)
    env = dataclasses.replace(
        env,
        tables=tables,
        functions=tuple(f for f in env.functions if functions and f.name in readers),
        discovery=(),
        buckets=(),
        ecs=None,
        sam_stacks=(),
        cfn_stacks=(),
        api=None,
        ssm_deployed_version=None,
    )
    return EmbeddedTarget(env, clock=clock or FixedClock()).start()


@pytest.fixture
def harness(served: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``harness(*args)`` -> (exit status, stdout, stderr) of ``harness ARGS --env sit --target aws`` in this
    process, against the module's ``served`` rehearsal (its first item: the AWS process environment)."""
    from harness.cli import main

    for name in [k for k in os.environ if k.startswith(("AWS_", "HARNESS_"))]:
        monkeypatch.delenv(name)
    for name, value in served[0].items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--env", "sit", "--target", "aws"])
        out, err = capsys.readouterr()
        return code, out, err

    return run
