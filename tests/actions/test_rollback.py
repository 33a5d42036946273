"""Lambda alias rollback (000 §4.2): every target rule, the checkpoint, the record, health through the
alias, the post-rollback rows on a fresh context; unhealthy targets, interruptions and refusals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness.actions import COMPLETE, FAILED, REFUSED, Authority
from harness.actions import lambda_versions as lv
from harness.actions import rollback as rb
from harness.actions.rollback import RollbackTo, rollback
from harness.checks.catalogue import rows_for
from harness.checks.context import CheckContext
from harness.checks.result import Verdict
from harness.checks.runner import run_row
from harness.pytest_plugin.actions import Rollbacks, restore_aliases
from harness.records import IN_PROGRESS, read_records
from harness.report import incident_facts, render_incident, rollback_checklist
from harness.targets.embedded import EmbeddedTarget
from tests.actions.conftest import REHEARSAL, KeptTarget, alias_version, make_bad_version, peer, snapshot, tick


def verify(target: Any, slugs: tuple[str, ...], resources: list[str], expect: dict[str, str]) -> list:
    """Checklist rows on a fresh context (as the plugin does after an action)."""
    ctx = CheckContext.for_target(target, expect_versions=expect, api_base_url=target.api_base_url)
    return [run_row(ctx, p) for p in rows_for(target.env, None, slugs) if p.row.resource in resources]


def newest_record(target: Any, fn: str):
    """The newest record naming ``fn``."""
    return next(
        r
        for r in read_records(target.client("dynamodb"), target.env)
        if r.change_for(fn) is not None and r.action == "rollback"
    )


RULES = {
    # rule: (function of bbws/sit, how to build it, the version it must land on)
    "previous": ("bbws-tenant-instance-management-sit", lambda: RollbackTo.previous(), "2"),
    "version": ("bbws-site-management-sit", lambda: RollbackTo.version("1"), "1"),
    "label": ("sit-bbws-sites-service", lambda: RollbackTo.label("1.0.1"), "1"),
    "backup-alias": ("sit-bbws-templates-service", lambda: RollbackTo.backup(), "2"),
}


@pytest.mark.parametrize("rule", list(RULES))
def test_rule_moves_alias_checkpoint_record_health_rows(rule: str, sit: EmbeddedTarget) -> None:
    fn, make, want = RULES[rule]
    before = alias_version(sit, fn)
    tick(sit)
    result = rollback(sit, fn, REHEARSAL, make())

    assert result.outcome == COMPLETE, result.message
    assert alias_version(sit, fn) == want
    child = result.children[0]
    checkpoint = sit.client("lambda").get_alias(FunctionName=fn, Name=child.evidence["checkpoint"])
    assert (
        child.evidence["checkpoint"].startswith(sit.env.checkpoint_alias_prefix)
        and checkpoint["FunctionVersion"] == before
    )
    record = newest_record(sit, fn)
    assert record.status == COMPLETE and record.change_for(fn).final_version == want
    assert (
        child.evidence["health"]["status_code"] == sit.env.auto_rollback.health_status
        and child.evidence["health"]["invoked"] == f"{fn}:{sit.env.alias}"
    )
    probe = lv.invoke_health(
        sit.client("lambda"),
        fn,
        sit.env.alias,
        sit.env.health_payload,
        sit.env.auto_rollback.health_status,
        sit.clock.now(),
    )
    assert probe.ok and probe.executed_version == want
    api = list(sit.env.api.paths) if sit.env.api else []
    rows = verify(sit, result.plan.verified_by, [fn, *api], rb.final_versions(result))
    assert rows and all(r.ok for r in rows), [r.message() for r in rows if not r.ok]
    assert {r.slug for r in rows} >= {"lambda-alias-version", "health-endpoint", "error-rate", "log-errors"}


def test_previous_is_the_version_before_the_serving_one_not_second_to_last(sit: EmbeddedTarget) -> None:
    """Seed defect 4: with a newer version published but not deployed, and after an earlier rollback."""
    fn = "sit-bbws-plugins-service"
    lam = sit.client("lambda")
    newer = make_bad_version(
        sit, fn, fault="error"
    )  # published, never deployed: versions[-2] is now the serving version
    assert [v.number for v in lv.published_versions(lam, fn)][-2] == alias_version(sit, fn) == "3"
    tick(sit)
    first = rollback(sit, fn, REHEARSAL)
    assert first.outcome == COMPLETE and alias_version(sit, fn) == "2"
    tick(sit)
    second = rollback(sit, fn, REHEARSAL)  # run twice: from 2, the previous is 1 (000 §4.4's .[-2] would pick 3 again)
    assert second.outcome == COMPLETE and alias_version(sit, fn) == "1"
    assert newer not in (first.children[0].plan.details["to"], second.children[0].plan.details["to"])


def test_unhealthy_target_ends_on_the_checkpoint_failed_with_a_fail_row(sit: EmbeddedTarget) -> None:
    fn = "sit-bbws-async-processor"
    bad = make_bad_version(sit, fn)
    before = alias_version(sit, fn)
    tick(sit)
    result = rollback(sit, fn, REHEARSAL, RollbackTo.version(bad))

    assert result.outcome == FAILED and "unhealthy" in result.message
    assert alias_version(sit, fn) == before
    record = newest_record(sit, fn)
    assert record.status == FAILED and record.change_for(fn).final_version == before
    report = render_incident(incident_facts(result, sit.env, authority=REHEARSAL))
    assert "| `action-health` | sit-bbws-async-processor |" in report and "**FAIL**" in report
    checklist = rollback_checklist(result, sit.env, authority=REHEARSAL)
    assert "- [ ] Health check verified — FAILED:" in checklist
    rows = verify(sit, ("lambda-alias-version", "health-endpoint"), [fn], rb.final_versions(result))
    assert all(r.verdict is Verdict.PASS for r in rows), [r.message() for r in rows]  # back on the checkpoint, healthy


@pytest.fixture
def interrupt(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[BaseException]]:
    """Make the alias verification (between the update and the record's completion) raise what the test puts in."""
    raised: list[BaseException] = []

    def explode(*_: Any, **__: Any) -> str:
        raise raised[0]

    monkeypatch.setattr(rb, "_verify_alias", explode)
    yield raised


def test_exception_after_alias_update_leaves_record_failed_and_checkpoint_restored(
    sit: EmbeddedTarget, interrupt: list
) -> None:
    fn = "bbws-ecs-event-handler-sit"
    before = alias_version(sit, fn)
    interrupt.append(RuntimeError("injected between alias update and record completion"))
    tick(sit)
    result = rollback(sit, fn, REHEARSAL)
    assert result.outcome == FAILED and "injected" in result.message
    record = newest_record(sit, fn)
    assert record.status == FAILED != IN_PROGRESS and record.change_for(fn).final_version == before
    assert alias_version(sit, fn) == before


def test_keyboard_interrupt_after_alias_update_leaves_record_failed(sit: EmbeddedTarget, interrupt: list) -> None:
    fn = "bbws-ecs-event-handler-sit"
    interrupt.append(KeyboardInterrupt())
    tick(sit)
    with pytest.raises(KeyboardInterrupt):
        rollback(sit, fn, REHEARSAL)
    assert newest_record(sit, fn).status == FAILED


# -- refusals change nothing ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prod(sit: EmbeddedTarget) -> Iterator[EmbeddedTarget]:
    """bbws/prod (protected) as a peer of the module's SIT."""
    target = peer(sit, "bbws", "prod")
    yield target
    target.close()


FN = "bbws-tenant-instance-management-sit"


@pytest.mark.parametrize(
    "case",
    [
        "no-mutation-permission",
        "missing-approvers",
        "unknown-version",
        "unknown-label",
        "unknown-function",
        "unknown-backup",
        "all-unknown-version",
        "unknown-service",
    ],
)
def test_refusal_changes_nothing(case: str, sit: EmbeddedTarget, prod: EmbeddedTarget) -> None:
    where: Any = sit
    call = lambda: rollback(where, FN, REHEARSAL)  # noqa: E731 (one call per case, chosen below)
    if case == "no-mutation-permission":
        where = KeptTarget(sit)
    elif case == "missing-approvers":
        where = prod
        call = lambda: rollback(  # noqa: E731 (one call per case, chosen in the table above)
            prod, "bbws-tenant-instance-management-prod", Authority(reason="x", approvers=("only one",))
        )
    elif case == "unknown-version":
        call = lambda: rollback(sit, FN, REHEARSAL, RollbackTo.version("99"))  # noqa: E731 (one call per case)
    elif case == "unknown-label":
        call = lambda: rollback(sit, FN, REHEARSAL, RollbackTo.label("9.9.9"))  # noqa: E731 (one call per case)
    elif case == "unknown-function":
        call = lambda: rollback(sit, "no-such-function", REHEARSAL)  # noqa: E731 (one call per case)
    elif case == "unknown-backup":
        call = lambda: rollback(sit, FN, REHEARSAL, RollbackTo.backup("backup-19700101-000000"))  # noqa: E731 (one call per case)
    elif case == "all-unknown-version":
        call = lambda: rb.rollback_all(sit, REHEARSAL, RollbackTo.version("99"))  # noqa: E731 (one call per case)
    elif case == "unknown-service":
        call = lambda: rb.rollback_all(sit, REHEARSAL, service="no-such-service")  # noqa: E731 (one call per case)
    before = snapshot(where)
    result = call()
    assert result.outcome == REFUSED, result.message
    assert "\n" not in result.message and result.message
    assert snapshot(where) == before


def test_refusal_messages_say_what_is_wrong(sit: EmbeddedTarget, prod: EmbeddedTarget) -> None:
    assert "needs --allow-mutation" in rollback(KeptTarget(sit), FN, REHEARSAL).message
    assert (
        "2 distinct approvers" in rollback(prod, "bbws-tenant-instance-management-prod", Authority(reason="x")).message
    )
    assert "version 99 is not a published version" in rollback(sit, FN, REHEARSAL, RollbackTo.version("99")).message
    assert "unknown function 'nope'" in rollback(sit, "nope", REHEARSAL).message


def test_protected_rollback_with_approvals_uses_incident_alias(prod: EmbeddedTarget) -> None:
    fn = "bbws-site-management-prod"
    who = Authority(reason="INC-1 5xx", approvers=("Engineering Lead", "Product Owner"), incident="INC-1")
    tick(prod)
    result = rollback(prod, fn, who)
    assert result.outcome == COMPLETE, result.message
    assert result.children[0].evidence["checkpoint"].startswith(prod.env.incident_alias_prefix)  # 001 §6.3.2 step 4
    assert (
        result.record.extra["incident"] == "INC-1"
        and result.record.extra["approved_by"] == "Engineering Lead,Product Owner"
    )


def test_dry_run_changes_nothing(sit: EmbeddedTarget) -> None:
    before = snapshot(sit)
    result = rollback(sit, FN, REHEARSAL, dry_run=True)
    assert result.outcome == "DRY_RUN" and result.plan.changes
    assert snapshot(sit) == before


def test_plan_lists_every_change_and_the_defect_notes(sit: EmbeddedTarget) -> None:
    plan = rb.plan_rollback(sit, FN, REHEARSAL)
    kinds = [(c.kind, c.attribute) for c in plan.changes]
    assert kinds == [("create", "FunctionVersion"), ("update", "FunctionVersion"), ("write", "record")]
    assert any("seed defect 4" in n for n in plan.notes) and any("seed defect 3" in n for n in plan.notes)


# -- the scenarios' rollback fixture (plugins/actions.py) --------------------------------------------


def test_rollback_fixture_teardown_restores_an_alias_left_with_weighted_routing(sit: EmbeddedTarget) -> None:
    """A scenario that leaves the alias on its version but routing by weight: the teardown clears it (002
    ``--routing-config '{}'``)."""
    lam, alias = sit.client("lambda"), sit.env.alias
    before = alias_version(sit, FN)
    runs = Rollbacks(
        sit, REHEARSAL, lambda call, on=None: call()
    )  # the fixture's object; its finalizer is runs.restore
    moved = runs(FN)
    assert moved.outcome == COMPLETE and alias_version(sit, FN) != before
    left = alias_version(sit, FN)
    lam.update_alias(
        FunctionName=FN, Name=alias, FunctionVersion=before, RoutingConfig={"AdditionalVersionWeights": {left: 0.2}}
    )

    done = runs.restore()

    current = lam.get_alias(FunctionName=FN, Name=alias)
    assert current["FunctionVersion"] == before and not (current.get("RoutingConfig") or {}).get(
        "AdditionalVersionWeights"
    ), current
    assert done and f"back on version {before}" in done[0]
    assert newest_record(sit, FN).change_for(FN).final_version == before  # the newest record agrees
    rows = verify(sit, ("lambda-alias-version",), [FN], {})
    assert rows and all(r.verdict is Verdict.PASS for r in rows), [r.message() for r in rows]
    assert runs.restore() == []  # already back: nothing moved, nothing recorded


def test_a_failed_restore_errors_the_teardown_naming_the_function(sit: EmbeddedTarget) -> None:
    fn = "sit-bbws-async-processor"
    bad = make_bad_version(sit, fn)
    before = alias_version(sit, fn)
    with pytest.raises(pytest.fail.Exception, match=f"rollback fixture teardown: putting {fn} back failed"):
        restore_aliases(sit, REHEARSAL, {fn: bad})  # an unhealthy "original": the restore's rollback fails
    assert alias_version(sit, fn) == before  # the failed rollback ended on its checkpoint
