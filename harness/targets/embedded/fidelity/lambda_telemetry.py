"""What an invocation leaves behind in AWS: a log stream in ``/aws/lambda/<fn>`` and AWS/Lambda metrics.

Lambda Developer Guide, "Types of metrics for Lambda functions": Invocations, Errors (exceptions
from the code and from the runtime, timeouts included: a handler that *returns* statusCode 500 is
not an Error) and Duration (ms), published per FunctionName, per FunctionName+Resource (the
qualifier the caller named) and, for invocations through an alias, per
FunctionName+Resource+ExecutedVersion. Timestamps come from the target's injected clock, so a
rehearsal with a ``FixedClock`` sees its invocations in the same windows as its seeded baseline.
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import datetime, timezone
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends
from moto.logs.models import logs_backends

from harness.targets.embedded.fidelity.lambda_runtime import FRAME

TAIL_BYTES = 4096  # Invoke API: LogResult is "the last 4 KB of the execution log"


def stream_name(at: datetime, version: str) -> str:
    """A log stream name as Lambda makes them: ``YYYY/MM/DD/[version]<id>``."""
    return f"{at:%Y/%m/%d}/[{version}]{uuid.uuid4().hex}"


def log_lines(
    request_id: str, version: str, output: str, duration_ms: float, memory_mb: int, timed_out: bool
) -> list[str]:
    """The START/END/REPORT frame Lambda writes around a handler's own output."""
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {math.ceil(duration_ms)} ms\tMemory Size: {memory_mb} MB"
    )
    if timed_out:
        report += "\tStatus: timeout"
    return [
        f"START RequestId: {request_id} Version: {version}",
        *events(output),
        f"END RequestId: {request_id}",
        report,
    ]


def events(output: str) -> list[str]:
    """The log events of a runtime's output: one per printed line, one per framed record or error report.

    Lambda splits what the code prints into one event per line, but keeps a logging record or an
    error report whole however many lines it holds (``lambda_runtime`` frames those).
    """
    lines = output.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out: list[str] = []
    for line in lines:
        text, framed, frame = line.partition(FRAME)
        if not framed:
            out.append(text)
            continue
        try:
            record = json.loads(frame)
        except ValueError:  # the code printed the separator itself: an ordinary line
            out.append(line)
            continue
        if text:
            out.append(text)  # a print without a newline, just before the record
        out.append(record if isinstance(record, str) else str(record))
    return out


def write_logs(account: str, region: str, group: str, stream: str, lines: list[str], at: datetime) -> None:
    """Append ``lines`` to a new stream of ``group`` (created if missing), stamped ``at``."""
    backend = logs_backends[account][region]
    backend.ensure_log_group(group)
    log_group = backend.groups[group]
    if stream not in log_group.streams:  # a warm execution environment keeps writing to its stream
        log_group.create_log_stream(stream)
    millis = int(at.timestamp() * 1000)
    # Written to the group directly: the public PutLogEvents path rejects events more than 14 days
    # from *wall-clock* time, and a rehearsal clock may legitimately differ from it.
    log_group.put_log_events(stream, [{"timestamp": millis, "message": line} for line in lines])


def tail(lines: list[str]) -> str:
    """The last 4 KB of the execution log (the Invoke API's LogResult, before base64)."""
    text = "\n".join(lines) + "\n"
    return text.encode()[-TAIL_BYTES:].decode(errors="ignore")


def dimension_sets(
    function_name: str, resource: str | None, executed_version: str, via_alias: bool
) -> list[list[dict[str, str]]]:
    """Every dimension combination Lambda publishes an invocation's metrics under."""
    sets: list[list[dict[str, str]]] = [[{"Name": "FunctionName", "Value": function_name}]]
    if resource:
        by_resource = [{"Name": "FunctionName", "Value": function_name}, {"Name": "Resource", "Value": resource}]
        sets.append(by_resource)
        if via_alias:
            sets.append([*by_resource, {"Name": "ExecutedVersion", "Value": executed_version}])
    return sets


def put_metrics(
    account: str, region: str, dims: list[list[dict[str, str]]], at: datetime, errored: bool, duration_ms: float
) -> None:
    """Record one invocation's Invocations, Errors and Duration under each dimension set."""
    # moto stores naive-UTC timestamps (what its wire parser produces); match them.
    stamp = at.astimezone(timezone.utc).replace(tzinfo=None) if at.tzinfo else at
    data: list[dict[str, Any]] = []
    for d in dims:
        data.append({"MetricName": "Invocations", "Dimensions": d, "Timestamp": stamp, "Value": 1.0, "Unit": "Count"})
        data.append(
            {
                "MetricName": "Errors",
                "Dimensions": d,
                "Timestamp": stamp,
                "Value": 1.0 if errored else 0.0,
                "Unit": "Count",
            }
        )
        data.append(
            {
                "MetricName": "Duration",
                "Dimensions": d,
                "Timestamp": stamp,
                "Value": round(duration_ms, 2),
                "Unit": "Milliseconds",
            }
        )
    cloudwatch_backends[account][region].put_metric_data("AWS/Lambda", data)
