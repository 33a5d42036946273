"""Switch to the restored table (000 §6.6 option A, done so traffic follows) and copy back (option B, writes frozen)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from harness.actions.base import COMPLETE, FAILED, REFUSED
from harness.actions.copy_back import copy_back
from harness.actions.pitr import drop_table, restore_table
from harness.actions.table_switch import plan_table_switch, served_table, switch_table
from harness.clock import FixedClock
from harness.data_verify import table_digests, verify_tables
from harness.records import read_records
from tests.data.conftest import ALLOW, Kept, start_lean, world

pytestmark = pytest.mark.xdist_group("data-pitr-switch")
TABLE = "tenants-sit"  # read by two functions through DYNAMODB_TABLE (bbws inventory, 000 §6.6)


@pytest.fixture(scope="module")
def rehearsal():
    """bbws/sit tables and the functions that read tenants-sit, on a fresh account and a FixedClock."""
    t = start_lean(functions=True, clock=FixedClock(datetime.now(timezone.utc).replace(microsecond=0)))
    t.clock.advance(minutes=10)  # the seeded items are restorable
    yield t
    t.close()


@pytest.fixture(scope="module")
def restored(rehearsal) -> str:
    """tenants-sit restored at the latest restorable time."""
    result = restore_table(rehearsal, TABLE, authority=ALLOW, name=f"{TABLE}-restored-test")
    assert result.outcome == COMPLETE, result.message
    return result.evidence["restored_table"]


def _serving(target) -> dict[str, tuple[str, str | None]]:
    spec = target.env.table(TABLE)
    return {fn: (s.version, s.table) for fn in spec.functions for s in [served_table(target, fn, spec.env_var)]}


def test_switch_moves_every_function_and_back(rehearsal, restored) -> None:
    """Each listed function's alias serves a new version reading the restored table; switching back returns to the old
    version."""
    target = rehearsal
    lam = target.client("lambda")
    before = _serving(target)
    assert {t for _, t in before.values()} == {TABLE} and len(before) == 2

    there = switch_table(target, TABLE, restored, authority=ALLOW)
    assert there.outcome == COMPLETE, there.message
    after = _serving(target)
    for fn, (version, table) in after.items():
        assert table == restored and version != before[fn][0]
        old = lam.get_function_configuration(FunctionName=fn, Qualifier=before[fn][0])
        new = lam.get_function_configuration(FunctionName=fn, Qualifier=version)
        assert (new["CodeSha256"], new["Description"]) == (old["CodeSha256"], old["Description"])
        assert lam.get_function_configuration(FunctionName=fn)["Environment"]["Variables"]["DYNAMODB_TABLE"] == restored
    assert there.record.functions[next(iter(after))].to_version == after[next(iter(after))][0]
    versions = {fn: len(lam.list_versions_by_function(FunctionName=fn)["Versions"]) for fn in after}

    back = switch_table(target, TABLE, TABLE, authority=ALLOW)
    assert back.outcome == COMPLETE, back.message
    assert _serving(target) == before
    assert {
        fn: len(lam.list_versions_by_function(FunctionName=fn)["Versions"]) for fn in after
    } == versions  # nothing published
    assert "new version" not in back.plan.render()


def test_the_plan_reads_each_function_once(rehearsal, restored) -> None:
    """Per function one GetAlias and one GetFunctionConfiguration each of the served version and $LATEST: the reuse
    check takes the served configuration already read (lambda_versions.served_state), not a second read."""
    target = rehearsal
    lam = target.client("lambda")
    serving = _serving(target)
    calls: list[tuple[str, str, str]] = []

    def listen(params, model, **_):
        calls.append((model.name, params.get("FunctionName"), params.get("Qualifier") or ""))

    events = ("provide-client-params.lambda.GetAlias", "provide-client-params.lambda.GetFunctionConfiguration")
    for event in events:
        lam.meta.events.register(event, listen)
    try:
        plan = plan_table_switch(target, TABLE, restored, authority=ALLOW)
    finally:
        for event in events:
            lam.meta.events.unregister(event, listen)
    assert plan.refusal is None and plan.spec is not None and len(plan.spec.moves) == len(serving) == 2
    for fn, (version, _table) in serving.items():
        reads = sorted((op, q) for op, f, q in calls if f == fn)
        assert reads == [("GetAlias", ""), ("GetFunctionConfiguration", ""), ("GetFunctionConfiguration", version)], (
            reads
        )


def test_switch_refusals_change_nothing(rehearsal, restored) -> None:
    """No functions listed, table missing, $LATEST not the served code, weighted alias, no permission: nothing
    changes."""
    target = rehearsal
    lam = target.client("lambda")
    fn = target.env.table(TABLE).functions[0]
    before = world(target)
    for expected, kwargs in {
        "lists no functions": dict(table="users-sit", to_table=restored),
        "does not exist": dict(table=TABLE, to_table="nope"),
        "no table 'x'": dict(table="x", to_table=restored),
    }.items():
        result = switch_table(target, authority=ALLOW, **kwargs)
        assert result.outcome == REFUSED and expected in result.message, (expected, result.message)
    assert switch_table(Kept(target), TABLE, restored, authority=ALLOW).outcome == REFUSED
    assert world(target) == before

    timeout = lam.get_function_configuration(FunctionName=fn)["Timeout"]
    lam.update_function_configuration(
        FunctionName=fn, Timeout=timeout + 1
    )  # $LATEST is no longer what the alias serves
    try:
        changed = world(target)
        result = switch_table(target, TABLE, restored, authority=ALLOW)
        assert result.outcome == REFUSED and "$LATEST differs" in result.message and "Timeout" in result.message
        assert world(target) == changed
    finally:
        lam.update_function_configuration(FunctionName=fn, Timeout=timeout)
    alias = target.env.alias
    served = lam.get_alias(FunctionName=fn, Name=alias)["FunctionVersion"]
    lam.update_alias(
        FunctionName=fn, Name=alias, RoutingConfig={"AdditionalVersionWeights": {str(int(served) - 1): 0.1}}
    )
    try:
        result = switch_table(target, TABLE, restored, authority=ALLOW)
        assert result.outcome == REFUSED and "routes by weight" in result.message
    finally:
        lam.update_alias(FunctionName=fn, Name=alias, RoutingConfig={"AdditionalVersionWeights": {}})
    assert world(target) == before


def test_a_failure_mid_switch_puts_every_function_back(rehearsal, restored) -> None:
    """Moving the second function's alias fails: the first goes back to its checkpoint version; the record is FAILED."""
    target = rehearsal
    lam = target.client("lambda")
    before = _serving(target)
    second = list(before)[1]
    failures = [RuntimeError("injected: UpdateAlias failed")]

    def fail(params, **_):
        if params.get("FunctionName") == second and failures:
            raise failures.pop()

    lam.meta.events.register("provide-client-params.lambda.UpdateAlias", fail)
    try:
        with pytest.raises(RuntimeError, match="injected"):
            switch_table(target, TABLE, restored, authority=ALLOW)
    finally:
        lam.meta.events.unregister("provide-client-params.lambda.UpdateAlias", fail)
    assert _serving(target) == before
    for fn in before:
        assert lam.get_function_configuration(FunctionName=fn)["Environment"]["Variables"]["DYNAMODB_TABLE"] == TABLE
    failed = [
        r
        for r in read_records(target.client("dynamodb"), target.env)
        if r.action == "table-switch" and r.status == FAILED
    ]
    assert failed and all(c.final_version == before[fn][0] for fn, c in failed[0].functions.items())


def test_copy_back_restores_the_data_and_the_writers(rehearsal, restored) -> None:
    """Option B: the original holds the restored items again; each writer's reserved concurrency is as before."""
    target = rehearsal
    ddb, lam = target.client("dynamodb"), target.client("lambda")
    first, second = target.env.table(TABLE).functions
    lam.put_function_concurrency(FunctionName=first, ReservedConcurrentExecutions=7)
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "sample-001"}, "status": {"S": "CORRUPTED"}})
    ddb.delete_item(TableName=TABLE, Key={"id": {"S": "sample-002"}})
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "stray"}, "status": {"S": "NEW"}})
    frozen: list[tuple[str, int]] = []
    watch = lambda params, **_: frozen.append((params["FunctionName"], params["ReservedConcurrentExecutions"]))  # noqa: E731 (a call listener)
    lam.meta.events.register("provide-client-params.lambda.PutFunctionConcurrency", watch)
    try:
        refused = copy_back(target, TABLE, source=restored, authority=ALLOW)  # it would delete "stray"
        assert refused.outcome == REFUSED and "would delete 1 and put 2" in refused.message, refused.message
        assert "--allow-shrink" in refused.message and not frozen
        result = copy_back(target, TABLE, source=restored, authority=ALLOW, allow_shrink=True)
    finally:
        lam.meta.events.unregister("provide-client-params.lambda.PutFunctionConcurrency", watch)
    assert result.outcome == COMPLETE, result.message
    assert verify_tables(ddb, TABLE, restored).equal
    assert (first, 0) in frozen and (second, 0) in frozen
    assert lam.get_function_concurrency(FunctionName=first)["ReservedConcurrentExecutions"] == 7
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=second)
    assert result.record.extra["items_put"] == 2 and result.record.extra["items_deleted"] == 1
    backups = {b["BackupName"]: b["BackupArn"] for b in ddb.list_backups(TableName=TABLE)["BackupSummaries"]}
    assert result.plan.spec is not None and result.record.extra["backup_arn"] == backups[result.plan.spec.backup]
    assert backups[result.plan.spec.backup] in result.message and "restore-table-from-backup" in result.message


def test_copy_back_refusals_change_nothing(rehearsal, restored) -> None:
    """Same table, missing source, other key schema, no permission: refused before anything is frozen or written."""
    target = rehearsal
    before = world(target)
    for expected, kwargs in {
        "both tenants-sit": dict(source=TABLE),
        "table nope does not exist": dict(source="nope"),
        "key schemas differ": dict(source="bbws-deployments-sit"),
    }.items():
        result = copy_back(target, TABLE, authority=ALLOW, **kwargs)
        assert result.outcome == REFUSED and expected in result.message, (expected, result.message)
    assert copy_back(Kept(target), TABLE, source=restored, authority=ALLOW).outcome == REFUSED
    assert world(target) == before


def test_an_exception_during_copy_back_still_unfreezes_the_writers(rehearsal, restored, monkeypatch) -> None:
    """The copy raises: every writer's concurrency is restored anyway and the record is FAILED."""
    target = rehearsal
    lam = target.client("lambda")
    functions = target.env.table(TABLE).functions
    before = {fn: lam.get_function_concurrency(FunctionName=fn).get("ReservedConcurrentExecutions") for fn in functions}
    data = table_digests(target.client("dynamodb"), TABLE).items

    def broken(*_args, **_kwargs):
        raise KeyboardInterrupt  # the worst case: an operator's Ctrl-C mid-copy

    monkeypatch.setattr("harness.actions.copy_back.reconcile", broken)
    with pytest.raises(KeyboardInterrupt):
        copy_back(target, TABLE, source=restored, authority=ALLOW)
    assert {
        fn: lam.get_function_concurrency(FunctionName=fn).get("ReservedConcurrentExecutions") for fn in functions
    } == before
    assert table_digests(target.client("dynamodb"), TABLE).items == data
    records = [r for r in read_records(target.client("dynamodb"), target.env) if r.action == "copy-back"]
    assert any(r.status == FAILED for r in records) and all(r.status != "IN_PROGRESS" for r in records)


def test_cleanup_refuses_while_read_then_removes_the_switch_versions(rehearsal, restored) -> None:
    """A restored table an alias reads is not dropped; after switching back it is, with the versions published to read
    it."""
    target = rehearsal
    lam = target.client("lambda")
    assert switch_table(target, TABLE, restored, authority=ALLOW).outcome == COMPLETE
    refused = drop_table(target, restored, authority=ALLOW)
    assert refused.outcome == REFUSED and "still read by" in refused.message
    assert switch_table(target, TABLE, TABLE, authority=ALLOW).outcome == COMPLETE
    dropped = drop_table(target, restored, authority=ALLOW)
    assert dropped.outcome == COMPLETE, dropped.message
    for fn in target.env.table(TABLE).functions:
        for v in lam.list_versions_by_function(FunctionName=fn)["Versions"]:
            assert (v.get("Environment") or {}).get("Variables", {}).get("DYNAMODB_TABLE") != restored or v[
                "Version"
            ] == "$LATEST"
    assert restored not in target.client("dynamodb").list_tables()["TableNames"]
