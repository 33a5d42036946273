"""The 004 rows (checks/trigger_checks.py, amplify_checks.py, cloudformation_checks.py): green on the seeded
rehearsal, red for each violation, and every verdict path shown (``@covers``)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from harness.checks.result import Verdict
from harness.targets.base import TargetLike
from tests.checks.emulator_state import metrics_restored
from tests.checks.verdicts import covers, covers_all
from tests.propie.conftest import Propie, bad, describe, variant
from tests.stub_target import StubTarget

TRIGGERS = ("trigger-5xx-rate", "trigger-latency-p99", "trigger-auth-failures", "trigger-memory")
ALL = (*TRIGGERS, "amplify-domain-branch", "amplify-last-job", "cloudformation-stack-stable")


def put(p: Propie, key: str, minutes_ago: float = 2, **values: Any) -> None:
    """Datapoints for trigger ``key``'s metric(s) inside the window: ``value=``, ``total=``, or
    ``Values``/``Counts``."""
    t = p.env.trigger(key)
    dims = [{"Name": k, "Value": v} for k, v in t.dimensions]
    at = p.clock.now() - timedelta(minutes=minutes_ago)
    data = []
    if "value" in values:
        data.append({"MetricName": t.metric, "Dimensions": dims, "Timestamp": at, "Value": float(values["value"])})
    if "total" in values:
        data.append(
            {"MetricName": t.total_metric, "Dimensions": dims, "Timestamp": at, "Value": float(values["total"])}
        )
    if "Values" in values:
        data.append(
            {
                "MetricName": t.metric,
                "Dimensions": dims,
                "Timestamp": at,
                "Values": values["Values"],
                "Counts": values["Counts"],
            }
        )
    p.target.client("cloudwatch").put_metric_data(Namespace=t.namespace, MetricData=data)


def only(p: Propie, slug: str, verdict: Verdict, target: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Run every 004 row; the rows that did not pass are exactly ``slug``'s, with ``verdict``."""
    if slug not in TRIGGERS:
        p.refill()
    results = p.run(target, **kwargs)
    off = bad(results)
    assert off and {s for s, _ in off} == {slug}, describe(off)
    assert all(r.verdict is verdict for r in off.values()), describe(off)
    for r in off.values():
        assert r.resource in r.message() and r.expected and r.observed
    return {res: r for (_, res), r in off.items()}


# -- the seeded rehearsal is green ----------------------------------------------------------------


@covers_all(ALL, Verdict.PASS, "the seeded production rehearsal")
def test_seeded_rehearsal_passes_every_row(propie: Propie) -> None:
    results = propie.run()
    assert not bad(results), describe(bad(results))
    assert {s for s, _ in results} == set(ALL)
    assert len([k for k in results if k[0] == "amplify-domain-branch"]) == 1 + len(propie.env.amplify.other_prefixes)


# -- triggers --------------------------------------------------------------------------------------


@covers("trigger-5xx-rate", Verdict.FAIL, "5XX rate above 5 %: automatic rollback")
def test_5xx_rate_above_threshold_fails(propie: Propie) -> None:
    with metrics_restored(propie.env.account, propie.env.region):
        put(propie, "error_rate_5xx", value=120, total=600)  # + the seeded 600 healthy: 10 %
        row = only(propie, "trigger-5xx-rate", Verdict.FAIL)
        assert "automatic rollback" in next(iter(row.values())).observed


@covers("trigger-latency-p99", Verdict.WARN, "p99 above 3000 ms: alert")
@covers("trigger-auth-failures", Verdict.WARN, "more than 20 failures: alert")
@covers("trigger-memory", Verdict.WARN, "memory above 85 %: alert")
def test_alert_triggers_warn_above_threshold(propie: Propie) -> None:
    with metrics_restored(propie.env.account, propie.env.region):
        put(propie, "latency_p99", Values=[4000.0], Counts=[100.0])
        put(propie, "auth_failures", value=25)
        put(propie, "memory", value=91)
        results = propie.run()
        off = bad(results)
        assert {s for s, _ in off} == {"trigger-latency-p99", "trigger-auth-failures", "trigger-memory"}, describe(off)
        assert all(r.verdict is Verdict.WARN and "alert, manual decision" in r.observed for r in off.values()), (
            describe(off)
        )


@covers("trigger-5xx-rate", Verdict.WARN, "an inventory that makes the 5XX trigger an alert")
@covers("trigger-latency-p99", Verdict.FAIL, "an inventory that makes latency trigger a rollback")
@covers("trigger-auth-failures", Verdict.FAIL, "an inventory that makes auth failures trigger a rollback")
@covers("trigger-memory", Verdict.FAIL, "an inventory that makes memory trigger a rollback")
def test_the_inventorys_action_column_decides_fail_or_warn(propie: Propie) -> None:
    flipped = tuple(
        dataclasses.replace(t, action="alert" if t.action == "rollback" else "rollback") for t in propie.env.triggers
    )
    target = variant(propie, triggers=flipped)
    with metrics_restored(propie.env.account, propie.env.region):
        put(propie, "error_rate_5xx", value=120, total=600)
        put(propie, "latency_p99", Values=[4000.0], Counts=[100.0])
        put(propie, "auth_failures", value=25)
        put(propie, "memory", value=91)
        got = {s: r.verdict for (s, _), r in bad(propie.run(target)).items()}
    assert got == {
        "trigger-5xx-rate": Verdict.WARN,
        "trigger-latency-p99": Verdict.FAIL,
        "trigger-auth-failures": Verdict.FAIL,
        "trigger-memory": Verdict.FAIL,
    }


@covers_all(TRIGGERS, Verdict.WARN, "no datapoint in the window: not measurable")
def test_an_empty_window_is_not_measurable_never_healthy(propie: Propie) -> None:
    saved = propie.clock.at
    propie.clock.advance(hours=6)  # past the seeded baseline
    try:
        rows = {s: r for (s, _), r in propie.run().items() if s in TRIGGERS}
    finally:
        propie.clock.at = saved
    assert all(r.verdict is Verdict.WARN and "not measurable" in r.observed for r in rows.values()), describe(rows)


class _Cloudwatch:
    """A CloudWatch client double whose GetMetricData answers are incomplete (or miss a series)."""

    def __init__(self, status: str = "PartialData", drop: str | None = None) -> None:
        self.status, self.drop = status, drop

    def get_metric_data(self, MetricDataQueries: list[dict], **_: Any) -> dict:
        results = [
            {
                "Id": q["Id"],
                "Values": [1.0],
                "Timestamps": [],
                "StatusCode": self.status,
                "Messages": [{"Code": "X", "Value": "y"}],
            }
            for q in MetricDataQueries
            if q["Id"] != self.drop
        ]
        return {"MetricDataResults": results}


@covers_all(TRIGGERS, Verdict.ERROR, "GetMetricData did not answer completely")
def test_incomplete_answers_are_errors(propie: Propie) -> None:
    stub: TargetLike = StubTarget(propie.env, {"cloudwatch": _Cloudwatch()})
    rows = {s: r for (s, _), r in propie.run(stub).items() if s in TRIGGERS}
    assert all(r.verdict is Verdict.ERROR and "PartialData" in r.observed for r in rows.values()), describe(rows)
    dropped = StubTarget(propie.env, {"cloudwatch": _Cloudwatch(status="Complete", drop="error_rate_5xx_value")})
    assert "no result" in propie.slug("trigger-5xx-rate", dropped).popitem()[1].observed


def test_requests_without_a_5xx_datapoint_are_unknown(propie: Propie) -> None:
    saved = propie.clock.at
    propie.clock.advance(hours=6)
    try:
        with metrics_restored(propie.env.account, propie.env.region):
            put(propie, "error_rate_5xx", total=600)
            row = propie.slug("trigger-5xx-rate").popitem()[1]
    finally:
        propie.clock.at = saved
    assert row.verdict is Verdict.ERROR and "no 5XXError datapoint" in row.observed


# -- amplify ---------------------------------------------------------------------------------------


@covers("amplify-domain-branch", Verdict.FAIL, "the domain serves the green branch")
@covers("amplify-domain-branch", Verdict.WARN, "the switch is still propagating")
def test_domain_on_green_fails_and_a_propagating_switch_warns(propie: Propie) -> None:
    amp, client = propie.env.amplify, propie.target.client("amplify")
    propie.amplify.go_live(amp.green_branch)
    rows = only(propie, "amplify-domain-branch", Verdict.FAIL)
    assert all(f"-> branch {amp.green_branch}" in r.observed for r in rows.values())
    back = [{"prefix": p, "branchName": amp.branch} for p in (amp.domain_prefix, *amp.other_prefixes)]
    client.update_domain_association(appId=amp.app_id, domainName=amp.domain, subDomainSettings=back)
    rows = only(propie, "amplify-domain-branch", Verdict.WARN)
    assert all("UPDATING" in r.observed for r in rows.values())
    propie.clock.advance(minutes=2)
    propie.refill()
    assert not bad(propie.run())


@covers("amplify-domain-branch", Verdict.FAIL, "004's one-prefix update dropped www")
def test_the_runbooks_one_prefix_update_drops_the_other_prefixes(propie: Propie) -> None:
    amp, client = propie.env.amplify, propie.target.client("amplify")
    client.update_domain_association(
        appId=amp.app_id,
        domainName=amp.domain,
        subDomainSettings=[{"prefix": amp.domain_prefix, "branchName": amp.branch}],
    )
    propie.clock.advance(minutes=2)
    rows = only(propie, "amplify-domain-branch", Verdict.FAIL)
    assert set(rows) == {f"{p}.{amp.domain}" for p in amp.other_prefixes}
    assert "replaces the whole sub-domain list" in next(iter(rows.values())).observed
    client.update_domain_association(
        appId=amp.app_id,
        domainName=amp.domain,
        subDomainSettings=[{"prefix": p, "branchName": amp.branch} for p in (amp.domain_prefix, *amp.other_prefixes)],
    )
    propie.clock.advance(minutes=2)


@covers("amplify-domain-branch", Verdict.FAIL, "the domain is not associated")
@covers("amplify-last-job", Verdict.FAIL, "the branch does not exist")
def test_an_unassociated_domain_and_unknown_branch_fail(propie: Propie) -> None:
    amp = dataclasses.replace(
        propie.env.amplify, domain="elsewhere.example", branch="no-such-branch", other_prefixes=()
    )
    rows = propie.run(variant(propie, amplify=amp))
    assert rows[("amplify-domain-branch", "elsewhere.example")].verdict is Verdict.FAIL
    assert "not associated" in rows[("amplify-domain-branch", "elsewhere.example")].observed
    assert rows[("amplify-last-job", "elsewhere.example")].verdict is Verdict.FAIL
    assert "not found" in rows[("amplify-last-job", "elsewhere.example")].observed


@covers("amplify-domain-branch", Verdict.FAIL, "the branch serves no build")
@covers("amplify-last-job", Verdict.FAIL, "the branch has no job")
def test_a_branch_without_builds_fails_both_rows(propie: Propie) -> None:
    amp, client = propie.env.amplify, propie.target.client("amplify")
    client.create_branch(appId=amp.app_id, branchName="empty")
    client.create_domain_association(
        appId=amp.app_id, domainName="empty.example", subDomainSettings=[{"prefix": "", "branchName": "empty"}]
    )
    rows = propie.run(
        variant(propie, amplify=dataclasses.replace(amp, domain="empty.example", branch="empty", other_prefixes=()))
    )
    assert rows[("amplify-domain-branch", "empty.example")].verdict is Verdict.FAIL
    assert "serves no build" in rows[("amplify-domain-branch", "empty.example")].observed
    assert rows[("amplify-last-job", "empty.example")].verdict is Verdict.FAIL
    assert "has no job" in rows[("amplify-last-job", "empty.example")].observed


@covers("amplify-last-job", Verdict.WARN, "the latest job is still running")
@covers("amplify-last-job", Verdict.FAIL, "the latest job FAILED")
def test_latest_job_running_warns_and_failed_fails(propie: Propie) -> None:
    amp = propie.env.amplify
    propie.amplify.release(amp.branch, "1.0.9", build_fails=True, wait=False)
    row = only(propie, "amplify-last-job", Verdict.WARN).popitem()[1]
    assert "PENDING" in row.observed and "still in progress" in row.observed
    propie.clock.advance(minutes=5)
    row = only(propie, "amplify-last-job", Verdict.FAIL).popitem()[1]
    assert "FAILED" in row.observed
    propie.amplify.release(amp.branch, "1.0.9")  # the fix builds and serves
    propie.refill()
    assert not bad(propie.run())


# -- cloudformation --------------------------------------------------------------------------------


@covers("cloudformation-stack-stable", Verdict.FAIL, "UPDATE_FAILED: a failed update that did not roll back")
def test_update_failed_fails(propie: Propie, approved) -> None:
    from harness.actions.cloudformation import rollback_stack

    assert (
        propie.target.extensions.cloudformation.deploy(
            propie.stack, "1.0.8", fails_with="invalid schema", disable_rollback=True
        )
        == "UPDATE_FAILED"
    )
    row = only(propie, "cloudformation-stack-stable", Verdict.FAIL).popitem()[1]
    assert "UPDATE_FAILED" in row.observed
    assert rollback_stack(propie.target, approved).outcome == "COMPLETE"
    propie.refill()
    assert not bad(propie.run())


@covers("cloudformation-stack-stable", Verdict.WARN, "CloudFormation rolled a failed update back by itself")
def test_an_automatic_rollback_warns(propie: Propie) -> None:
    assert (
        propie.target.extensions.cloudformation.deploy(propie.stack, "1.0.8", fails_with="invalid schema")
        == "UPDATE_ROLLBACK_COMPLETE"
    )
    row = only(propie, "cloudformation-stack-stable", Verdict.WARN).popitem()[1]
    assert "failed to update" in row.observed and "did not land" in row.observed
    assert (
        propie.target.extensions.cloudformation.deploy(propie.stack, "1.0.4") == "UPDATE_COMPLETE"
    )  # the fixed release lands


@covers("cloudformation-stack-stable", Verdict.FAIL, "stable, but not the expected template")
def test_a_completed_update_to_another_template_fails_when_the_release_is_known(propie: Propie) -> None:
    described = propie.slug("cloudformation-stack-stable").popitem()[1].evidence["template_description"]
    running = described.rsplit(" ", 1)[-1]
    assert propie.slug("cloudformation-stack-stable", expect_versions={propie.stack: running}).popitem()[1].verdict in (
        Verdict.PASS,
        Verdict.WARN,
    )
    row = propie.slug("cloudformation-stack-stable", expect_versions={propie.stack: "1.0.1"}).popitem()[1]
    assert row.verdict is Verdict.FAIL and "not release 1.0.1" in row.observed


@covers("cloudformation-stack-stable", Verdict.FAIL, "the stack does not exist")
def test_a_missing_stack_fails(propie: Propie) -> None:
    row = propie.slug("cloudformation-stack-stable", variant(propie, cfn_stacks=("no-such-stack",))).popitem()[1]
    assert row.verdict is Verdict.FAIL and "does not exist" in row.observed


class _Cfn:
    """A CloudFormation client double: a stack still in progress."""

    def describe_stacks(self, StackName: str) -> dict:
        return {"Stacks": [{"StackName": StackName, "StackStatus": "UPDATE_IN_PROGRESS"}]}


@covers("cloudformation-stack-stable", Verdict.WARN, "an operation still in progress")
def test_an_operation_in_progress_warns(propie: Propie) -> None:
    row = propie.slug("cloudformation-stack-stable", StubTarget(propie.env, {"cloudformation": _Cfn()})).popitem()[1]
    assert row.verdict is Verdict.WARN and "not settled" in row.observed


def test_localstack_like_targets_skip_with_the_reason(propie: Propie) -> None:
    missing = {
        "amplify": "LocalStack community has no Amplify",
        "cloudformation-states": "no RollbackStack",
        "percentiles": "no percentiles",
    }
    rows = propie.run(StubTarget(propie.env, {"cloudwatch": _Cloudwatch(status="Complete")}, missing=missing))
    skipped = {s: r.observed for (s, _), r in rows.items() if r.verdict is Verdict.SKIP}
    assert set(skipped) == {
        "amplify-domain-branch",
        "amplify-last-job",
        "cloudformation-stack-stable",
        "trigger-latency-p99",
    }
    assert "LocalStack community has no Amplify" in skipped["amplify-domain-branch"]


@pytest.mark.parametrize("name,env_name", [("bbws", "sit"), ("bbws-access", "dev")])
def test_other_inventories_have_no_004_rows(name: str, env_name: str) -> None:
    from harness.checks.catalogue import rows_for
    from harness.inventory import load_inventory

    assert rows_for(load_inventory(name).environment(env_name), "propie-rollback") == []
