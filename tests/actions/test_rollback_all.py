"""Rollback of every function (000 §4.4, 002): independent and concurrent, one record for the batch,
skips with reasons, a failed function fails the batch, SSM deployed-version (002), discovery by prefix."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from harness import aws
from harness.actions import COMPLETE, FAILED, SKIPPED
from harness.actions import lambda_versions as lv
from harness.actions import rollback as rb
from harness.actions.rollback import RollbackTo, rollback_all
from harness.records import read_records
from harness.targets.embedded import EmbeddedTarget
from tests.actions.conftest import REHEARSAL, alias_version, make_bad_version, start, tick
from tests.actions.test_rollback import verify


@pytest.fixture(scope="module")
def access() -> Iterator[EmbeddedTarget]:
    """bbws-access/sit: functions found by prefix, alias 'live', PK/SK records, SSM deployed-version (002)."""
    target = start("bbws-access", "sit")
    yield target
    target.close()


def test_all_functions_concurrently_one_record_rows_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    target = start("bbws", "sit")
    try:
        names = [f.name for f in target.env.functions]
        calls: Counter = Counter()

        def count(service: str, op: str, params: dict) -> None:
            calls.update([op])

        target.add_call_listener(count)
        slow = lv.invoke_health
        lock, in_flight, most = threading.Lock(), [0], [0]

        def slow_health(*args: Any, **kwargs: Any) -> Any:
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            try:
                time.sleep(0.2)  # each health check takes a while: concurrent functions overlap here
                return slow(*args, **kwargs)
            finally:
                with lock:
                    in_flight[0] -= 1

        monkeypatch.setattr(lv, "invoke_health", slow_health)
        result = rollback_all(target, REHEARSAL)
        target.remove_call_listener(count)

        assert result.outcome == COMPLETE, result.message
        assert [c.outcome for c in result.children] == [COMPLETE] * len(names)
        assert all(alias_version(target, fn) == "2" for fn in names)
        assert most[0] > 1, "functions did not run concurrently"
        per_function = sum(calls.values()) / len(names)
        assert per_function <= 7, f"{per_function:.2f} API calls per function: {dict(calls)}"
        records = [r for r in read_records(target.client("dynamodb"), target.env) if r.action == "rollback"]
        assert len(records) == 1 and records[0].status == COMPLETE and set(records[0].functions) == set(names)
        rows = verify(target, rb.VERIFIED_BY, names, rb.final_versions(result))
        assert len(rows) == 4 * len(names) and all(r.ok for r in rows), [r.message() for r in rows if not r.ok]
    finally:
        target.close()


def test_one_failed_function_fails_the_batch_others_complete(access: EmbeddedTarget) -> None:
    names = [fn for fn, _ in lv.service_functions(access.env, None, access.client("lambda"))]
    bad_fn, others = names[0], names[1:3]
    bad = make_bad_version(access, bad_fn)
    before = {fn: alias_version(access, fn) for fn in [bad_fn, *others]}
    tick(access)
    result = rollback_all(access, REHEARSAL, RollbackTo.each({bad_fn: bad, **{fn: "1" for fn in others}}))
    assert result.outcome == FAILED and bad_fn in result.message
    by_fn = {c.plan.details["function"]: c for c in result.children}
    assert by_fn[bad_fn].outcome == FAILED and alias_version(access, bad_fn) == before[bad_fn]
    assert all(by_fn[fn].outcome == COMPLETE and alias_version(access, fn) == "1" for fn in others)
    record = next(r for r in read_records(access.client("dynamodb"), access.env) if r.action == "rollback")
    assert record.status == FAILED and record.functions[bad_fn].final_version == before[bad_fn]
    tick(access)
    assert rollback_all(access, REHEARSAL, RollbackTo.each(before)).outcome == COMPLETE  # put them back


def test_no_earlier_version_is_skipped_with_its_reason(access: EmbeddedTarget) -> None:
    lam = access.client("lambda")
    prefix = next(d.prefix for d in access.env.discovery)
    fresh = f"{prefix}-new"
    role = lam.get_function(FunctionName=f"{prefix}")["Configuration"]["Role"]
    from harness.targets.embedded.seed import function_zip

    lam.create_function(
        FunctionName=fresh,
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": function_zip("1.0.1")},
    )
    only = lam.publish_version(FunctionName=fresh, Description="1.0.1")["Version"]
    lam.create_alias(FunctionName=fresh, Name=access.env.alias, FunctionVersion=only)
    service = lv.service_of(access.env, fresh)
    plan = rb.plan_rollback_all(access, REHEARSAL, service=service)
    decisions = plan.details["functions"]
    assert fresh in decisions and "no published version before" in decisions[fresh]["skip"]
    tick(access)
    result = rb.apply_rollback(access, plan, REHEARSAL)
    assert result.outcome == COMPLETE
    child = next(c for c in result.children if c.plan.details["function"] == fresh)
    assert child.outcome == SKIPPED and "no published version before" in child.message
    assert alias_version(access, fresh) == only


def test_deployed_previous_uses_ssm_history_and_updates_it(access: EmbeddedTarget) -> None:
    """002: target by SSM deployed-version history; the parameter then names the release now served; PK/SK record."""
    ssm, name = access.client("ssm"), access.env.ssm_deployed_version
    service = lv.services(access.env)[-1]
    assert name and lv.ssm_history(ssm, name)[:3] == ["1.0.1", "1.0.2", "1.0.3"]  # as seeded
    fns = [fn for fn, _ in lv.service_functions(access.env, service, access.client("lambda"))]
    tick(access)
    rollback_all(
        access, REHEARSAL, RollbackTo.each({fn: "3" for fn in fns if alias_version(access, fn) != "3"})
    )  # other tests moved them
    ssm.put_parameter(
        Name=name, Value="1.0.3", Type="String", Overwrite=True
    )  # deployed: 1.0.3 (first seen third in the history)
    tick(access)
    first = rollback_all(access, REHEARSAL, RollbackTo.deployed_previous(), service=service)
    assert first.outcome == COMPLETE, first.message
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "1.0.2"
    assert all(c.evidence["final_version"] == "2" for c in first.children)
    item = next(
        i
        for i in aws.scan_items(access.client("dynamodb"), access.env.deployments_table.name)
        if i["PK"]["S"] == f"ROLLBACK#{first.record.record_id}"
    )
    assert (
        item["SK"]["S"] == "METADATA"
        and item["status"]["S"] == COMPLETE
        and item["GSI1PK"]["S"] == f"ENV#{access.env.name}"
    )
    tick(access)
    second = rollback_all(access, REHEARSAL, RollbackTo.deployed_previous(), service=service)
    # the history now ends 1.0.3, 1.0.2: Parameters[-2] (002) would pick 1.0.3, the release just rolled back from
    assert second.outcome == COMPLETE and all(c.evidence["final_version"] == "1" for c in second.children)
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "1.0.1"
