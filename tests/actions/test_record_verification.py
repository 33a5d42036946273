"""The post-rollback verification's verdict in the audit record (harness/records.py ``amend``,
harness/cli/rollback.py ``record_verification``): written only over the record this run finished; when it
cannot be written, the record keeps its status and the report says both."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace

import pytest

from harness import aws
from harness.actions import Authority
from harness.actions.rollback import apply_rollback, plan_rollback
from harness.cli.rollback import record_verification
from harness.records import FAILED, amend, put_record, read_records
from harness.report import incident_facts, render_incident
from harness.targets.embedded import EmbeddedTarget
from tests.actions.conftest import start

WHO = Authority(allow_mutation=True, reason="test", actor="tester")
FN = "bbws-site-management-sit"
FAILING_ROW = {"slug": "log-errors", "resource": FN, "verdict": "fail", "observed": "ERROR boom", "expected": "none"}


@pytest.fixture
def sit() -> Iterator[EmbeddedTarget]:
    """A seeded bbws/sit of the test's own (each test rolls one function back)."""
    target = start("bbws", "sit")
    yield target
    target.close()


def stored(target: EmbeddedTarget, record_id: str):  # noqa: ANN201 (a DeploymentRecord)
    """The record as the deployments table holds it."""
    return next(r for r in read_records(target.client("dynamodb"), target.env) if r.record_id == record_id)


def test_a_failing_verification_finishes_the_record_failed_with_its_verdict(sit: EmbeddedTarget) -> None:
    result = apply_rollback(sit, plan_rollback(sit, FN, WHO), WHO)
    assert result.record is not None and result.record.status == "COMPLETE"
    passing = {**FAILING_ROW, "slug": "lambda-alias-version", "verdict": "pass"}
    out = io.StringIO()
    record_verification(sit, result, [passing, FAILING_ROW], out)
    record = stored(sit, result.record.record_id)
    assert record == result.record and record.status == "FAILED", (record, out.getvalue())
    assert record.extra["verification"] == {"verdict": "FAIL", "rows": 2, "failing": 1, "failed": [f"log-errors {FN}"]}
    assert record.functions[FN].final_version == "2" and not out.getvalue()


def test_a_record_changed_by_someone_else_is_not_amended_and_the_report_says_both(sit: EmbeddedTarget) -> None:
    result = apply_rollback(sit, plan_rollback(sit, FN, WHO), WHO)
    assert result.record is not None
    table, ddb = sit.env.deployments_table, sit.client("dynamodb")
    assert table is not None
    put_record(ddb, table, replace(result.record, status="IN_PROGRESS"))  # someone else rewrote it meanwhile
    with pytest.raises(Exception) as stale:
        amend(ddb, table, result.record, FAILED, verification={"verdict": "FAIL"})
    assert aws.error_code(stale.value) == "ConditionalCheckFailedException"  # never written over blindly
    out = io.StringIO()
    result.outcome, result.message = FAILED, "1 rolled back; post-rollback checklist rows failed"
    record_verification(sit, result, [FAILING_ROW], out)
    assert f"audit record {result.record.record_id}: the verification was not recorded" in out.getvalue()
    assert stored(sit, result.record.record_id).status == "IN_PROGRESS"  # theirs stays
    assert "verification" not in stored(sit, result.record.record_id).extra
    assert result.record.status == "COMPLETE"  # the record this run knows of: not what it failed to write
    report = render_incident(incident_facts(result, sit.env, rows=[FAILING_ROW], authority=WHO, method="test"))
    assert "the action's own steps COMPLETE; this report's outcome is FAILED" in report, report
