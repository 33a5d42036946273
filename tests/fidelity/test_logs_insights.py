"""Logs Insights over many log groups (fidelity/logs_insights.py), as the CloudWatch Logs API reference
(StartQuery, GetQueryResults) and the query syntax guide document it; moto alone ignores ``filter``
and answers every event, which a log check would read as error lines."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from harness.checks.context import CheckContext
from harness.checks.logs_checks import ERROR_QUERY
from harness.checks.result import Verdict
from harness.checks.runner import run_procedure


def _groups(target, n: int, message: str) -> list[str]:
    logs, at = target.client("logs"), int((target.clock.now() - timedelta(minutes=1)).timestamp() * 1000)
    names = []
    for i in range(n):
        name = f"/insights/test-{i:02d}"
        logs.create_log_group(logGroupName=name)
        logs.create_log_stream(logGroupName=name, logStreamName="s")
        logs.put_log_events(
            logGroupName=name,
            logStreamName="s",
            logEvents=[{"timestamp": at, "message": f"{message} {i}"}, {"timestamp": at + 1, "message": "INFO fine"}],
        )
        names.append(name)
    return names


def _run(target, names: list[str], query: str) -> dict:
    logs, now = target.client("logs"), target.clock.now()
    qid = logs.start_query(
        logGroupNames=names,
        startTime=int((now - timedelta(minutes=5)).timestamp()),
        endTime=int(now.timestamp()),
        queryString=query,
    )["queryId"]
    return _wait(target, qid)


def _wait(target, qid: str) -> dict:
    """GetQueryResults every second of the target's clock until the query is no longer Scheduled/Running."""
    logs = target.client("logs")
    result = logs.get_query_results(queryId=qid)
    while result["status"] in ("Scheduled", "Running"):
        target.clock.sleep(1)
        result = logs.get_query_results(queryId=qid)
    return result


def test_a_query_is_scheduled_then_running_then_complete_on_the_target_clock(make_target) -> None:
    """https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetQueryResults.html: status
    Scheduled, Running, Complete (results only when complete)."""
    from harness.clock import FixedClock

    clock = FixedClock()
    target = make_target(clock=clock)
    names = _groups(target, 1, "[ERROR] slow")
    logs, now = target.client("logs"), clock.now()
    qid = logs.start_query(
        logGroupNames=names,
        startTime=int((now - timedelta(minutes=5)).timestamp()),
        endTime=int(now.timestamp()),
        queryString=ERROR_QUERY,
    )["queryId"]
    seen = []
    for _ in range(4):
        result = logs.get_query_results(queryId=qid)
        seen.append((result["status"], len(result["results"])))
        clock.advance(seconds=1.5)
    assert seen == [("Scheduled", 0), ("Running", 0), ("Complete", 1), ("Complete", 1)]


def test_stop_query_cancels_a_running_query_and_unknown_ids_are_not_found(make_target) -> None:
    """https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StopQuery.html (success true
    for a query stopped; "if the query has already ended, the operation returns an error indicating that the
    specified query is not running": InvalidParameterException 400; ResourceNotFoundException),
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetQueryResults.html
    (ResourceNotFoundException, HTTP 400 not 500)."""
    from harness.clock import FixedClock

    clock = FixedClock()
    target = make_target(clock=clock)
    names = _groups(target, 1, "[ERROR] stop me")
    logs, now = target.client("logs"), clock.now()
    start = {"logGroupNames": names, "startTime": int(now.timestamp()) - 60, "endTime": int(now.timestamp())}
    qid = logs.start_query(queryString=ERROR_QUERY, **start)["queryId"]
    assert logs.stop_query(queryId=qid)["success"] is True
    clock.advance(seconds=5)
    assert logs.get_query_results(queryId=qid)["status"] == "Cancelled"
    done = logs.start_query(queryString=ERROR_QUERY, **start)["queryId"]
    clock.advance(seconds=5)
    for ended in (done, qid):  # complete, and cancelled: neither is running
        with pytest.raises(logs.exceptions.InvalidParameterException) as info:
            logs.stop_query(queryId=ended)
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert "not running" in info.value.response["Error"]["Message"]
    for call in (logs.get_query_results, logs.stop_query):
        with pytest.raises(logs.exceptions.ResourceNotFoundException) as info:
            call(queryId="00000000-0000-0000-0000-000000000000")
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def _field(row: list[dict], name: str) -> str:
    return next(f["value"] for f in row if f["field"] == name)


@pytest.mark.parametrize("fidelity", [True, False])
def test_filter_returns_only_matching_events_of_every_group(make_target, fidelity: bool) -> None:
    target = make_target(fidelity=fidelity)
    names = _groups(target, 3, "[ERROR] boom")
    result = _run(target, names, ERROR_QUERY)
    messages = sorted(_field(r, "@message") for r in result["results"])
    if not fidelity:  # moto alone: the filter is ignored, INFO lines come back as matches
        assert any("INFO" in m for m in messages)
        return
    assert result["status"] == "Complete" and messages == [f"[ERROR] boom {i}" for i in range(3)]
    row = result["results"][0]
    assert _field(row, "@log") == f"{target.env.account}:{names[0]}"  # "@log: account-id:log-group-name"
    assert len(_field(row, "@timestamp")) == len("2026-01-25 22:00:00.123") and any(f["field"] == "@ptr" for f in row)


def test_more_than_fifty_groups_and_unknown_commands_are_refused(make_target) -> None:
    target = make_target()
    names = _groups(target, 1, "x") * 51
    with pytest.raises(ClientError, match="up to 50 log groups"):
        _run(target, names, ERROR_QUERY)
    with pytest.raises(ClientError) as refused:
        _run(target, names[:1], "stats count(*) by @log")
    assert refused.value.response["Error"]["Code"] == "MalformedQueryException"


def test_a_missing_group_fails_the_query(make_target) -> None:
    target = make_target()
    with pytest.raises(ClientError) as missing:
        _run(target, _groups(target, 1, "x") + ["/insights/none"], ERROR_QUERY)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_log_rows_read_all_groups_in_one_query_and_still_find_an_error_line(seeded_sit) -> None:
    target = seeded_sit
    fn = target.env.functions[1].name
    logs, group = target.client("logs"), f"{target.env.log_group_prefix}{fn}"
    logs.create_log_stream(logGroupName=group, logStreamName="insights-row")
    at = int((target.clock.now() - timedelta(minutes=1)).timestamp() * 1000)
    logs.put_log_events(
        logGroupName=group, logStreamName="insights-row", logEvents=[{"timestamp": at, "message": "ERROR batched"}]
    )
    calls: list[str] = []

    def record(service: str, operation: str, params: dict) -> None:
        calls.append(operation)

    target.add_call_listener(record)
    try:
        rows = {r.resource: r for r in run_procedure(CheckContext.for_target(target), "post-rollback", ("log-errors",))}
    finally:
        target.remove_call_listener(record)
        logs.delete_log_stream(logGroupName=group, logStreamName="insights-row")
    assert calls.count("StartQuery") == 1 and "FilterLogEvents" not in calls, calls
    assert rows[fn].verdict is Verdict.FAIL and "ERROR batched" in rows[fn].observed, rows[fn].message()
    assert {r.verdict for name, r in rows.items() if name != fn} == {Verdict.PASS}
