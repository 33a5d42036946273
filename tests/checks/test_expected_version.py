"""``lambda-alias-version``'s expected version from the deployments table (001 §6.3.2, 002 §4):
the newest record that applies to the function decides, whatever its action; a newest record that cannot be
applied (a bare version number without a function name) never lets an older one stand in; with nothing that
applies, the row says "expected version unknown". The record used is in the evidence."""

from __future__ import annotations

from harness.checks.result import Verdict
from harness.records import DeploymentRecord, FunctionChange
from tests.checks.test_truthful import FN, _lambda, run_slug, stub_ctx

SLUG = "lambda-alias-version"  # the fake alias serves published version 3 (tests/checks/test_truthful.py::_lambda)


def row_with(*records: DeploymentRecord):  # type: ignore[no-untyped-def]
    """The row for FN when the deployments table holds ``records`` (newest first)."""
    ctx = stub_ctx(**{"lambda": _lambda()})
    ctx.cache["records"] = list(records)
    return run_slug(ctx, SLUG, FN)


def rollback_to(version: str, at: str, record_id: str = "rb-1") -> DeploymentRecord:
    return DeploymentRecord(
        record_id,
        "rollback",
        "sit",
        at,
        status="COMPLETE",
        functions={FN: FunctionChange("4", version, "COMPLETE", version)},
    )


def deploy(version: str, at: str, record_id: str = "dep-1") -> DeploymentRecord:
    return DeploymentRecord(
        record_id, "deploy", "sit", at, from_version="2", to_version=version, status="COMPLETE", function=FN
    )


def test_a_deployment_after_a_rollback_supersedes_it() -> None:
    """Rollback to 2, then a deployment of 3: the alias on 3 passes; one on 3 with a newer deployment of 4 fails."""
    ok = row_with(deploy("3", "2026-11-24T10:05:00.000Z"), rollback_to("2", "2026-11-24T10:00:00.000Z"))
    assert ok.verdict is Verdict.PASS and "version 3 (from deploy record dep-1" in ok.expected, ok.message()
    assert ok.evidence["record"]["id"] == "dep-1"
    newer = row_with(deploy("4", "2026-11-24T10:10:00.000Z", "dep-2"), deploy("3", "2026-11-24T10:05:00.000Z"))
    assert newer.verdict is Verdict.FAIL and "expected version 4 (deploy record dep-2" in newer.observed, (
        newer.message()
    )


def test_a_rollback_after_a_deployment_decides_with_its_final_version() -> None:
    """The newest record is the rollback: its final version (3) decides, not the older deployment's 4."""
    res = row_with(rollback_to("3", "2026-11-24T10:10:00.000Z"), deploy("4", "2026-11-24T10:05:00.000Z"))
    assert res.verdict is Verdict.PASS and res.evidence["record"]["id"] == "rb-1", res.message()


def test_records_about_other_functions_are_passed_over() -> None:
    """A newer record naming only another function does not apply: the older one for FN decides (and FAILs here)."""
    other = DeploymentRecord(
        "dep-other",
        "deploy",
        "sit",
        "2026-11-24T10:10:00.000Z",
        to_version="9",
        status="COMPLETE",
        function="another-function",
    )
    res = row_with(other, deploy("5", "2026-11-24T10:05:00.000Z"))
    assert res.verdict is Verdict.FAIL and "expected version 5 (deploy record dep-1" in res.observed, res.message()


def test_a_newest_bare_version_record_never_falls_through_to_an_older_one() -> None:
    """001 §6.3.2's record names a version number but no function: it cannot be applied to FN, and the older record
    (which would FAIL the alias on 3) must not stand in for it. Observed says why the expectation is unknown."""
    bare = DeploymentRecord("bare-1", "deploy", "sit", "2026-11-24T10:10:00.000Z", to_version="7", status="COMPLETE")
    res = row_with(bare, deploy("5", "2026-11-24T10:05:00.000Z"))
    assert res.verdict is Verdict.PASS, res.message()
    assert "expected version unknown" in res.observed and "version 7 without a function name" in res.observed, (
        res.observed
    )
    assert res.evidence["record"]["id"] == "bare-1"


def test_nothing_applies_says_expected_version_unknown() -> None:
    res = row_with()
    assert (
        res.verdict is Verdict.PASS
        and res.observed == "version 3; expected version unknown (no --expect-version, record or SSM parameter applies)"
    )
    assert "(expected version unknown)" in res.expected


def test_an_unsettled_newest_record_makes_the_expectation_unknown() -> None:
    """A rollback still IN_PROGRESS is the newest that applies: no older record stands in for it."""
    running = DeploymentRecord(
        "rb-run",
        "rollback",
        "sit",
        "2026-11-24T10:10:00.000Z",
        status="IN_PROGRESS",
        functions={FN: FunctionChange("3", "2")},
    )
    res = row_with(running, deploy("5", "2026-11-24T10:05:00.000Z"))
    assert "the newest record that applies is not settled" in res.observed and res.verdict is Verdict.PASS, (
        res.message()
    )
