"""Changes conditional on what the plan read: the SSM deployed-version parameter (re-read, refused when it moved
since the plan) and audit records (new only; finished only while still in the status this run wrote)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from harness import aws
from harness.actions import Authority
from harness.actions.rollback import apply_rollback, plan_rollback_all
from harness.clock import SystemClock
from harness.records import AuditTrail, DeploymentRecord, read_records
from harness.targets.embedded import EmbeddedTarget
from tests.actions.conftest import start

WHO = Authority(allow_mutation=True, reason="test", actor="tester")


@pytest.fixture(scope="module")
def access() -> Iterator[EmbeddedTarget]:
    """bbws-access/sit (002: PK/SK records, an SSM deployed-version parameter) on a fresh account."""
    target = start("bbws-access", "sit")
    yield target
    target.close()


def test_ssm_moved_since_the_plan_is_refused_and_named(access: EmbeddedTarget) -> None:
    ssm, name = access.client("ssm"), access.env.ssm_deployed_version
    assert name
    plan = plan_rollback_all(access, WHO)
    spec = plan.spec
    assert spec is not None and spec.ssm_label and spec.ssm_version
    ssm.put_parameter(Name=name, Value="9.9.9", Type="String", Overwrite=True)  # someone else, after the plan
    result = apply_rollback(access, plan, WHO)
    assert result.outcome == "FAILED"
    assert (
        f"SSM {name} changed since the plan: was version {spec.ssm_version} ({spec.ssm_current!r}), now version"
        in (result.message)
        and "'9.9.9'); not updated" in result.message
    )
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "9.9.9"  # never overwritten blindly
    assert result.record is not None and result.record.status == "FAILED"


def test_ssm_unchanged_since_the_plan_is_updated(access: EmbeddedTarget) -> None:
    lam = access.client("lambda")
    for f in access.env.functions:
        lam.update_alias(FunctionName=f.name, Name=access.env.alias, FunctionVersion="3")
    ssm, name = access.client("ssm"), access.env.ssm_deployed_version
    plan = plan_rollback_all(access, WHO)
    result = apply_rollback(access, plan, WHO)
    assert result.outcome == "COMPLETE", result.message
    assert plan.spec is not None and ssm.get_parameter(Name=name)["Parameter"]["Value"] == plan.spec.ssm_label


def test_audit_records_are_new_and_finished_only_from_the_status_this_run_wrote(access: EmbeddedTarget) -> None:
    table, ddb = access.env.deployments_table, access.client("dynamodb")
    assert table is not None
    record = DeploymentRecord("conditional-1", "rollback", access.env.name, "2026-01-01T00:00:00.000Z", actor="a")
    trail = AuditTrail(ddb, table, record, SystemClock())
    trail.start()
    with pytest.raises(Exception) as twice:
        AuditTrail(ddb, table, record, SystemClock()).start()  # the same id again: never overwritten
    assert aws.error_code(twice.value) == "ConditionalCheckFailedException"
    other = AuditTrail(ddb, table, replace(record), SystemClock())
    other.written = "IN_PROGRESS"
    other.finish("COMPLETE")  # someone else finished it meanwhile
    with pytest.raises(Exception) as stale:
        trail.finish("FAILED")
    assert aws.error_code(stale.value) == "ConditionalCheckFailedException"
    mine = next(r for r in read_records(ddb, access.env) if r.record_id == "conditional-1")
    assert mine.status == "COMPLETE"  # what the other writer wrote stays
