"""Every fault injector: the row it names goes red, its evidence says what changed, its undo puts it back (and runs
once);
every injector refuses a protected environment, a kept target without --allow-mutation and a missing capability."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from harness.actions import Authority
from harness.data_verify import compare, table_digests
from harness.drills.digest import differences, environment_digest
from harness.drills.lambda_drills import audit_rows
from harness.drills.model import Check
from harness.drills.traffic import let_window_pass
from harness.faults import FaultRefused, compound, deployment
from harness.faults.alarms import alarm_firing
from harness.faults.data import corrupt_items, delete_keys, write_items
from harness.faults.deployment import bad_deployment, bad_release, weighted_routing
from harness.faults.dynamodb import pitr_disabled
from harness.faults.ecs import tasks_down
from harness.faults.s3 import public_access_removed
from harness.faults.spikes import error_spike, latency_spike, throttle_spike
from harness.faults.terraform import corrupted_state, stuck_lock
from tests.gameday.conftest import ALLOW


def verdicts(probe, slug: str, resource: str) -> list[str]:
    """The verdicts of ``slug`` on ``resource`` now."""
    return [r["verdict"] for r in probe(Check((slug,), (resource,)), "test")]


@pytest.fixture(scope="module", autouse=True)
def seeded(rehearsal) -> Any:
    return environment_digest(rehearsal)


@pytest.fixture
def fn(rehearsal) -> str:
    return rehearsal.env.api.function


def test_bad_version_turns_health_red_and_the_undo_restores_alias_latest_and_record(rehearsal, probe, fn) -> None:
    fault = bad_deployment(rehearsal, [fn], ALLOW)
    assert fault.before[fn]["version"] != fault.after[fn]["version"] and fault.detected_by == ("health-endpoint",)
    assert verdicts(probe, "health-endpoint", fn) == ["fail"]
    assert verdicts(probe, "lambda-alias-version", fn) == [
        "pass"
    ]  # the deployment record says the bad version is deployed
    done = fault.revert(rehearsal.clock.now())
    assert any("back on version" in line for line in done) and any("deleted" in line for line in done)
    assert fault.revert() == []  # once
    assert verdicts(probe, "health-endpoint", fn) == ["pass"] and verdicts(probe, "lambda-alias-version", fn) == [
        "pass"
    ]


def test_weighted_routing_fails_the_alias_row(rehearsal, probe, fn) -> None:
    fault = weighted_routing(rehearsal, fn, ALLOW, weight=0.5)
    assert verdicts(probe, "lambda-alias-version", fn) == ["fail"]
    fault.revert(rehearsal.clock.now())
    assert verdicts(probe, "lambda-alias-version", fn) == ["pass"]


def test_undo_closes_every_functions_record_from_one_scan_of_the_records(rehearsal, probe, fn, monkeypatch) -> None:
    # A recovery that writes no record (a script moving the aliases back): the undo closes each function's record and
    # the audit rows read every function; each reads the deployments table once, not once per function.
    lam, alias = rehearsal.client("lambda"), rehearsal.env.alias
    other = next(f.name for f in rehearsal.env.functions if f.name != fn)
    served = {f: lam.get_alias(FunctionName=f, Name=alias)["FunctionVersion"] for f in (fn, other)}
    fault = bad_deployment(rehearsal, [fn, other, fn], ALLOW)  # a function named twice is injected once
    assert set(fault.after) == {fn, other} and {f: fault.before[f]["version"] for f in served} == served
    for f, version in served.items():
        lam.update_alias(FunctionName=f, Name=alias, FunctionVersion=version)
        assert verdicts(probe, "lambda-alias-version", f) == ["fail"]  # the newest record still names the bad version
    scans: list[int] = []
    read = deployment.read_records
    monkeypatch.setattr(deployment, "read_records", lambda *a: scans.append(1) or read(*a))
    assert [r["verdict"] for r in audit_rows(rehearsal, served)] == ["warn", "warn"] and len(scans) == 1
    done = fault.revert(rehearsal.clock.now())
    assert len(scans) == 2 and sum("closing record written" in line for line in done) == 2, done
    assert [r["verdict"] for r in audit_rows(rehearsal, served)] == ["pass", "pass"] and len(scans) == 3
    assert all(verdicts(probe, "lambda-alias-version", f) == ["pass"] for f in served)


def test_bad_release_is_published_not_deployed(rehearsal, probe, fn) -> None:
    lam = rehearsal.client("lambda")
    alias = lam.get_alias(FunctionName=fn, Name=rehearsal.env.alias)["FunctionVersion"]
    fault = bad_release(rehearsal, fn, ALLOW)
    release = fault.after[fn]["release"]
    assert lam.get_alias(FunctionName=fn, Name=rehearsal.env.alias)["FunctionVersion"] == alias
    fault.revert()
    assert release not in [v["Version"] for v in lam.list_versions_by_function(FunctionName=fn)["Versions"]]


def test_error_and_latency_spikes_turn_the_window_rows_red_until_a_window_passes(rehearsal, probe) -> None:
    other = rehearsal.env.functions[1].name
    errors = error_spike(rehearsal, other, ALLOW)
    assert errors.after[other]["errors"] == rehearsal.env.auto_rollback.error_spike_count + 1  # 001 §6.3.1 ">5 errors"
    slow = latency_spike(rehearsal, other, ALLOW)
    assert slow.simulated and "published" in slow.simulated
    assert verdicts(probe, "error-rate", other) == ["fail"] and verdicts(probe, "log-errors", other) == ["fail"]
    assert verdicts(probe, "latency-p95", other) == ["fail"]
    errors.revert(), slow.revert()
    let_window_pass(rehearsal)  # metrics are history: they leave the window, they are not undone
    assert verdicts(probe, "error-rate", other) == ["pass"] and verdicts(probe, "latency-p95", other) == ["pass"]


def test_throttle_spike_is_simulated_and_fails_the_gate(rehearsal, probe) -> None:
    last = rehearsal.env.functions[-1].name
    fault = throttle_spike(rehearsal, last, ALLOW)
    assert fault.simulated and "moto never throttles" in fault.simulated
    assert verdicts(probe, "source-throttles", last) == ["fail"]  # 001 §2.1: 0 throttles in 24 h
    assert "stay in CloudWatch" in fault.revert()[0]


def test_data_corruption_and_its_undo(rehearsal) -> None:
    table = rehearsal.env.tables[0].name
    keys = [{"id": {"S": f"fault-test-{i}"}} for i in range(10)]
    write_items(rehearsal, table, [{"id": k["id"]["S"], "status": "GOOD"} for k in keys])
    ddb = rehearsal.client("dynamodb")
    before = table_digests(ddb, table)
    try:
        fault = corrupt_items(rehearsal, table, keys, ALLOW, update=3, delete=2)
        report = compare(before, table_digests(ddb, table))
        assert (len(report.changed), len(report.removed)) == (3, 2) and fault.detected_by == ()
        fault.revert()
        assert compare(before, table_digests(ddb, table)).equal
    finally:
        delete_keys(rehearsal, table, keys)


def test_corrupted_state_and_stuck_lock(rehearsal, probe) -> None:
    key = rehearsal.env.terraform.state_keys[0]
    fault = compound(
        "bad-state",
        key,
        "000 §5.2",
        [corrupted_state(rehearsal, key, ALLOW), stuck_lock(rehearsal, key, ALLOW)],
        clock=rehearsal.clock,
    )
    assert verdicts(probe, "terraform-state", key) == ["fail"]
    with pytest.raises(FaultRefused, match="a lock is held already"):
        stuck_lock(rehearsal, key, ALLOW)  # a held lock is never touched
    fault.revert(rehearsal.clock.now())
    assert [c.reverted_at is not None for c in fault.children] == [True, True]
    assert verdicts(probe, "terraform-state", key) == ["pass"]


@pytest.mark.parametrize("which", ["ecs", "s3", "pitr", "alarm"])
def test_infrastructure_faults_turn_their_row_red_and_back(which, rehearsal, probe) -> None:
    env = rehearsal.env
    fault, slug, resource = {
        "ecs": lambda: (tasks_down(rehearsal, env.ecs.services[0], ALLOW), "ecs-tasks", env.ecs.services[0]),
        "s3": lambda: (
            public_access_removed(rehearsal, env.buckets[0].name, ALLOW),
            "s3-public-access-block",
            env.buckets[0].name,
        ),
        "pitr": lambda: (pitr_disabled(rehearsal, env.tables[0].name, ALLOW), "dynamodb-pitr", env.tables[0].name),
        "alarm": lambda: (alarm_firing(rehearsal, ALLOW), "cloudwatch-alarms", f"{env.alarm_prefix}*"),
    }[which]()
    assert slug in fault.detected_by
    assert verdicts(probe, slug, resource) == ["fail"]
    fault.revert(rehearsal.clock.now())
    assert verdicts(probe, slug, resource) == ["pass"]
    if which == "alarm":
        assert "moto never evaluates alarms" in (fault.simulated or "")


class Kept:
    """The rehearsal as a kept target (a real account): not disposable; optionally protected or lacking capabilities."""

    def __init__(
        self, target: Any, *, protected: bool = False, missing: tuple[str, ...] = (), disposable: bool = False
    ) -> None:
        self._target, self._missing, self.disposable = target, missing, disposable
        self.env = dataclasses.replace(target.env, protected=protected)
        self.name = "aws"

    def supports(self, capability: str) -> bool:
        return capability not in self._missing

    def unsupported_reason(self, capability: str) -> str | None:
        return f"{capability} not rehearsable on target aws: test" if capability in self._missing else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def test_faults_refuse_before_changing_anything(rehearsal, fn) -> None:
    before = environment_digest(rehearsal)
    allowed = dataclasses.replace(ALLOW, allow_mutation=True, approvers=("A", "B"))
    with pytest.raises(FaultRefused, match="protected environment.*approvals do not change that"):
        bad_deployment(Kept(rehearsal, protected=True, disposable=True), [fn], allowed)
    with pytest.raises(FaultRefused, match="needs --allow-mutation"):
        public_access_removed(Kept(rehearsal), rehearsal.env.buckets[0].name, ALLOW)
    with pytest.raises(FaultRefused, match="emulator-faults not rehearsable"):
        bad_deployment(
            Kept(rehearsal, missing=("emulator-faults",)), [fn], allowed
        )  # HARNESS_FAULT is the rehearsal app's switch
    with pytest.raises(FaultRefused, match="deployments table"):
        corrupt_items(rehearsal, rehearsal.env.deployments_table.name, [], ALLOW, update=0, delete=0)
    assert differences(before, environment_digest(rehearsal)) == []
    assert Authority().allow_mutation is False


def test_after_every_fault_the_rehearsal_is_in_its_seeded_state(rehearsal, seeded) -> None:
    assert differences(seeded, environment_digest(rehearsal)) == []
