"""Promotion DEV -> SIT (001 §3.2.1) and SIT -> PROD (001 §4): copy, publish, monitor, automatic rollback
(001 §6.3.1) with the trigger named, refusals that change nothing, and the stack order (001 §5.1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from harness.actions import COMPLETE, FAILED, REFUSED, SKIPPED, Authority
from harness.actions import lambda_versions as lv
from harness.actions import monitor as mon
from harness.actions import promote as pr
from harness.clock import FixedClock
from harness.records import read_records
from harness.report import incident_facts, promotion_checklist, render_incident
from harness.targets.embedded import EmbeddedTarget
from tests.actions.conftest import KeptTarget, alias_version, in_window, make_bad_version, peer, snapshot, start, tick
from tests.actions.test_rollback import verify

LEADS = Authority(approvers=("Tech Lead", "Operations Lead"), reason="CR-123 release", actor="tests")
DEV_LEAD = Authority(approvers=("Dev Lead",), reason="release", actor="tests")


@pytest.fixture(scope="module")
def envs() -> Iterator[dict[str, EmbeddedTarget]]:
    """bbws dev, sit, prod on one emulator, each in its own fresh account; PROD on a clock inside a window."""
    sit = start("bbws", "sit")
    dev = peer(sit, "bbws", "dev")
    prod = peer(sit, "bbws", "prod", clock=FixedClock(in_window()))
    yield {"dev": dev, "sit": sit, "prod": prod}
    for t in (prod, dev, sit):
        t.close()


def test_dev_to_sit_copies_publishes_moves_monitors_30s(envs: dict[str, EmbeddedTarget]) -> None:
    dev, sit = envs["dev"], envs["sit"]
    fn, dst = "dev-bbws-sites-service", "sit-bbws-sites-service"
    source_sha = next(v.code_sha for v in lv.published_versions(dev.client("lambda"), fn) if v.number == "2")
    before = alias_version(sit, dst)
    tick(sit)
    result = pr.promote(dev, sit, DEV_LEAD, function=fn, version="2", gates=(True, "rows passed"))

    assert result.outcome == COMPLETE, result.message
    new = result.evidence["new_version"]
    lam = sit.client("lambda")
    published = lv.find_version(lv.published_versions(lam, dst), new)
    assert alias_version(sit, dst) == new and published.label == "1.0.2" and published.code_sha == source_sha
    planned = pr.spec_of(result.plan).backup_alias
    backup = lam.get_alias(FunctionName=dst, Name=planned)
    assert backup["FunctionVersion"] == before and planned.startswith(sit.env.backup_alias_prefix)
    variables = lam.get_function_configuration(FunctionName=dst, Qualifier=new)["Environment"]["Variables"]
    assert variables["HARNESS_ENV"] == sit.env.name  # the destination's own settings stay (DEV's would point at DEV)
    assert result.evidence["monitor"]["window_s"] == 30 and not result.evidence["monitor"]["triggers"]  # 001 §3.2.1
    record = next(r for r in read_records(sit.client("dynamodb"), sit.env) if r.action == "promote")
    assert record.status == COMPLETE and record.change_for(dst).final_version == new
    rows = verify(sit, result.plan.verified_by, [dst], pr.final_versions(result))
    assert rows and all(r.ok for r in rows), [r.message() for r in rows if not r.ok]
    checklist = promotion_checklist(result, dev.env, sit.env, authority=DEV_LEAD)
    assert (
        checklist.startswith("## DEV to SIT Promotion Checklist")
        and "- [x] Dev Lead approval obtained — Dev Lead" in checklist
    )


def test_sit_to_prod_bad_version_rolls_back_automatically(envs: dict[str, EmbeddedTarget]) -> None:
    sit, prod = envs["sit"], envs["prod"]
    fn, dst = "bbws-ecs-event-handler-sit", "bbws-ecs-event-handler-prod"
    bad = make_bad_version(sit, fn)
    before = alias_version(prod, dst)
    tick(prod)
    result = pr.promote(sit, prod, LEADS, function=fn, version=bad, gates=True)

    assert result.outcome == FAILED
    trigger = result.evidence["trigger"]
    assert trigger["name"] == "health" and "Immediate rollback" in trigger["quote"]
    monitor = result.evidence["monitor"]
    fired_at = datetime.fromisoformat(trigger["at"])
    assert fired_at < datetime.fromisoformat(monitor["started"]) + timedelta(
        seconds=monitor["window_s"]
    )  # inside the window
    assert alias_version(prod, dst) == before == result.evidence["final_version"]
    record = next(
        r for r in read_records(prod.client("dynamodb"), prod.env) if r.action == "promote" and r.function == dst
    )
    assert (
        record.status == FAILED
        and record.extra["auto_rollback_trigger"] == "health"
        and record.change_for(dst).final_version == before
    )
    report = render_incident(incident_facts(result, prod.env, authority=LEADS))
    assert '001 §6.3.1: "Health check failure | Status != 200 | Immediate rollback"' in report and "P1" in report
    rows = verify(prod, ("lambda-alias-version", "health-endpoint"), [dst], pr.final_versions(result))
    assert all(r.ok for r in rows), [r.message() for r in rows]


@pytest.mark.parametrize("metric, count, trigger", [("Errors", 3, "error-spike"), ("Throttles", 6, "throttle-spike")])
def test_spike_triggers_roll_back_after_the_window(
    metric: str, count: int, trigger: str, envs: dict[str, EmbeddedTarget], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Traffic through the alias errs (or is throttled) while /health stays 200: the spike trigger fires (001
    §6.3.1)."""
    sit, prod = envs["sit"], envs["prod"]
    fn = "bbws-tenant-instance-management-sit" if trigger == "error-spike" else "sit-bbws-templates-service"
    dst = pr.counterpart(sit.env, prod.env, fn)
    probe = lv.invoke_health

    def probe_with_traffic(lam: Any, name: str, alias: str, *args: Any) -> Any:
        dims = [{"Name": "FunctionName", "Value": name}, {"Name": "Resource", "Value": f"{name}:{alias}"}]
        prod.client("cloudwatch").put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": dims,
                    "Timestamp": prod.clock.now(),
                    "Value": float(count),
                    "Unit": "Count",
                }
            ],
        )
        return probe(lam, name, alias, *args)

    monkeypatch.setattr(mon.lv, "invoke_health", probe_with_traffic)
    before = alias_version(prod, dst)
    tick(prod)
    result = pr.promote(sit, prod, LEADS, function=fn, version="2", gates=True)
    assert result.outcome == FAILED and result.evidence["trigger"]["name"] == trigger, result.message
    assert "Rollback after 5-min window" in result.evidence["trigger"]["quote"]
    monitor = result.evidence["monitor"]
    span = datetime.fromisoformat(monitor["ended"]) - datetime.fromisoformat(monitor["started"])
    assert span.total_seconds() >= monitor["window_s"]  # ran to the end of the window before rolling back
    assert alias_version(prod, dst) == before


# -- refusals change nothing ------------------------------------------------------------------------

FN = "bbws-tenant-instance-management-sit"


@pytest.mark.parametrize(
    "case",
    [
        "one-approver",
        "no-reason",
        "outside-window",
        "gates-failed",
        "not-next-env",
        "no-mutation-permission",
        "unknown-version",
        "unknown-function",
        "emergency-without-incident",
    ],
)
def test_refusal_changes_nothing(case: str, envs: dict[str, EmbeddedTarget]) -> None:
    dev, sit, prod = envs["dev"], envs["sit"], envs["prod"]
    clock: FixedClock = prod.clock  # type: ignore[assignment]
    inside = clock.at
    source, dest, who, gates, kw = sit, prod, LEADS, (True, "ok"), {}
    if case == "one-approver":
        who = Authority(approvers=("Tech Lead", "Tech Lead"), reason="x")
    elif case == "no-reason":
        who = Authority(approvers=("Tech Lead", "Operations Lead"))
    elif case == "outside-window":
        clock.at = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)  # a Monday noon
    elif case == "gates-failed":
        gates = (False, "source-errors bbws-...: 7 errors")
    elif case == "not-next-env":
        source = dev
        kw = {"function": "bbws-tenant-instance-management-dev"}
    elif case == "no-mutation-permission":
        dest = KeptTarget(prod)
    elif case == "unknown-version":
        kw = {"version": "99"}
    elif case == "unknown-function":
        kw = {"function": "nope"}
    elif case == "emergency-without-incident":
        clock.at = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
        who = Authority(approvers=("Tech Lead", "CTO"), reason="hotfix", emergency=True)
    try:
        before = (snapshot(prod), snapshot(sit))
        result = pr.promote(source, dest, who, **{"function": FN, "gates": gates, **kw})
        assert result.outcome == REFUSED, result.message
        assert result.message and "\n" not in result.message
        assert (snapshot(prod), snapshot(sit)) == before
    finally:
        clock.at = inside


def test_emergency_rule_outside_the_window(envs: dict[str, EmbeddedTarget]) -> None:
    """Outside the window only under the emergency rule: Tech Lead + CTO and an incident ticket (001 §4.1.2)."""
    sit, prod = envs["sit"], envs["prod"]
    clock: FixedClock = prod.clock  # type: ignore[assignment]
    inside = clock.at
    clock.at = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    try:
        who = Authority(approvers=("Tech Lead", "CTO"), reason="hotfix", emergency=True, incident="INC-7")
        plan = pr.plan_promote(sit, prod, who, function=FN, gates=True)
        assert not plan.refused, plan.refusal
        assert str(pr.spec_of(plan).window).startswith("emergency rule (001 §4.1.2): incident INC-7")
        outside = pr.plan_promote(sit, prod, LEADS, function=FN, gates=True)
        assert outside.refused and "outside the maintenance windows" in outside.refusal
    finally:
        clock.at = inside


def test_gate_callable_is_evaluated_at_plan_time(envs: dict[str, EmbeddedTarget]) -> None:
    calls: list[int] = []
    plan = pr.plan_promote(
        envs["sit"], envs["prod"], LEADS, function=FN, gates=lambda: calls.append(1) or (False, "source-health FAIL")
    )
    assert calls == [1] and plan.refused and "gates failed on sit (001 §2.1): source-health FAIL" in plan.refusal


# -- the stack (001 §5.1) ---------------------------------------------------------------------------


def test_stack_follows_the_order_and_stops_at_the_first_failed_phase(envs: dict[str, EmbeddedTarget]) -> None:
    dev, sit = envs["dev"], envs["sit"]
    order = pr.stack_order(dev.env)
    assert order[:3] == [
        "tenant-instance-management",
        "ecs-event-handler",
        "site-management",
    ]  # 001 §5.1, from the inventory
    second = next(f.name for f in dev.env.functions if f.service == order[1])
    lam = dev.client("lambda")
    served = alias_version(dev, second)
    bad = make_bad_version(dev, second)
    lam.update_alias(FunctionName=second, Name=dev.env.alias, FunctionVersion=bad)  # DEV's alias serves a bad release
    hook_calls: list[str] = []
    try:
        tick(sit)
        result = pr.promote_stack(dev, sit, DEV_LEAD, gates=True, terraform_step=lambda: hook_calls.append("terraform"))  # type: ignore[arg-type,return-value]
    finally:
        lam.update_alias(FunctionName=second, Name=dev.env.alias, FunctionVersion=served)
    assert result.outcome == FAILED
    assert [_phase(c) for c in result.children] == order[:2]  # phase 3 never ran
    assert result.children[0].outcome == COMPLETE and result.children[1].outcome == FAILED
    assert (
        hook_calls == [] and "stopped at phase 2 (ecs-event-handler)" in result.message and order[0] in result.message
    )

    tick(sit)
    done = pr.promote_stack(
        dev,
        sit,
        DEV_LEAD,
        gates=True,
        terraform_step=lambda: (
            hook_calls.append("terraform"),
            pr.ActionResult(
                pr.Plan(  # type: ignore[func-returns-value]
                    "terraform", "bbws", "sit", "embedded", sit.clock.now()
                ),
                COMPLETE,
            ),
        )[1],
    )
    assert done.outcome == COMPLETE, done.message
    assert [_phase(c) for c in done.children] == [
        *order,
        "terraform",
    ] and hook_calls == ["terraform"]
    assert all(leaf.outcome in (COMPLETE, SKIPPED) for c in done.children[:-1] for leaf in c.children)


def _phase(child: pr.ActionResult) -> str:
    """A stack child's service (from its typed plan), or the action of a step that is no phase."""
    spec = child.plan.spec
    return spec.service if isinstance(spec, pr.PromoteServiceSpec) else child.plan.action


def test_batch_plans_are_typed_and_apply_reads_only_the_spec(envs: dict[str, EmbeddedTarget]) -> None:
    """A service and a stack plan carry frozen specs; apply runs from the spec alone and leaves the plan as planned."""
    dev, sit = envs["dev"], envs["sit"]
    tick(sit)
    stack = pr.plan_promote_stack(dev, sit, DEV_LEAD, gates=(True, "rows passed"))
    assert not stack.refused, stack.refusal
    spec = pr.spec_as(stack, pr.PromoteStackSpec)
    assert [pr.spec_as(p, pr.PromoteServiceSpec).service for p in spec.phases] == list(spec.order)
    assert spec.gates == "rows passed" and stack.details == {"gates": "rows passed"}  # the checklist row reads it
    with pytest.raises(AttributeError):
        spec.phases[0].spec.service = "other"  # type: ignore[union-attr,misc] (frozen: apply cannot write)
    phase = spec.phases[0]
    typed = pr.spec_as(phase, pr.PromoteServiceSpec)
    assert typed.plans and phase.details == {}
    for p in typed.plans:
        p.details.clear()  # apply must not need the older untyped form
    planned = (phase.spec, phase.to_dict(), [(p.spec, p.to_dict()) for p in typed.plans])
    result = pr.apply_promote_service(dev, sit, phase, DEV_LEAD)
    assert result.outcome == COMPLETE, result.message
    assert (phase.spec, phase.to_dict(), [(p.spec, p.to_dict()) for p in typed.plans]) == planned
    assert set(pr.final_versions(result)) == {pr.spec_of(p).dest_function for p in typed.plans}
    with pytest.raises(TypeError, match="promote-service plan carries no PromoteStackSpec"):
        pr.spec_as(phase, pr.PromoteStackSpec)


def test_an_interrupted_service_promotion_starts_nothing_new_and_says_so(envs: dict[str, EmbeddedTarget]) -> None:
    from harness.actions.interrupt import Interrupts

    dev, sit = envs["dev"], envs["sit"]
    plan = pr.plan_promote_service(dev, sit, DEV_LEAD, "tenant-instance-management", gates=(True, "rows passed"))
    assert not plan.refused, plan.refusal
    before = snapshot(sit)
    stop = Interrupts()
    stop.request("SIGINT")  # Ctrl-C before the batch starts its first function
    result = pr.apply_promote_service(dev, sit, plan, DEV_LEAD, interrupts=stop)
    assert result.outcome == "INTERRUPTED" and "0 of 1 promoted; 1 not started" in result.message, result.message
    assert [c.outcome for c in result.children] == ["NOT_STARTED"] and snapshot(sit) == before


def test_an_interrupted_stack_promotion_starts_no_phase_and_names_every_function(
    envs: dict[str, EmbeddedTarget],
) -> None:
    """Ctrl-C before the first phase: every phase NOT_STARTED with its functions, each on the version it served."""
    from harness.actions.interrupt import Interrupts

    dev, sit = envs["dev"], envs["sit"]
    tick(sit)
    plan = pr.plan_promote_stack(dev, sit, DEV_LEAD, gates=(True, "rows passed"))
    assert not plan.refused, plan.refusal
    before = snapshot(sit)
    stop = Interrupts()
    stop.request("SIGINT")

    def terraform() -> pr.ActionResult:
        raise AssertionError("the Terraform phase started after an interruption")

    result = pr.apply_promote_stack(dev, sit, plan, DEV_LEAD, interrupts=stop, terraform_step=terraform)
    functions = [
        p
        for phase in pr.spec_as(plan, pr.PromoteStackSpec).phases
        for p in pr.spec_as(phase, pr.PromoteServiceSpec).plans
    ]
    assert result.outcome == "INTERRUPTED", result.message
    assert f"0 of {len(functions)} promoted; {len(functions)} not started" in result.message, result.message
    assert [c.outcome for c in result.children] == ["NOT_STARTED"] * len(pr.spec_as(plan, pr.PromoteStackSpec).order)
    assert (
        pr.final_versions(result) == {pr.spec_of(p).dest_function: pr.spec_of(p).dest_current for p in functions}
        and snapshot(sit) == before
    )
