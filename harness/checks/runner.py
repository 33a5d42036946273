"""Run checklist rows: record the AWS calls each made, and turn a harness failure into an ERROR row
(an exception is never a finding about the infrastructure, and never a silent pass)."""

from __future__ import annotations

import json
import threading
import traceback
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Iterator, Sequence

from botocore.exceptions import ClientError

from harness.checks.catalogue import PlannedRow, rows_for
from harness.checks.context import CheckContext
from harness.checks.result import CheckResult, Verdict
from harness.targets.base import throttle_code

# Harness setting, not a runbook threshold: threads per lane of rows. In a quota's lane each waits for the
# next token, so a few keep the quota busy while their calls are in flight; in the invocations' lane they
# keep a few /health invokes in flight.
LANE_WORKERS = 4
# Request parameters worth naming in a call's description (never bodies or payloads).
NAMED_PARAMS = (
    "FunctionName",
    "Name",
    "Qualifier",
    "TableName",
    "Bucket",
    "Key",
    "VersionId",
    "logGroupName",
    "cluster",
    "AlarmNamePrefix",
    "StateValue",
)


def _api_params(params: dict[str, Any]) -> dict[str, Any]:
    """The call's parameters: botocore's before-call gives the request dict, whose JSON body holds them."""
    if "body" not in params:
        return params
    body = params.get("body")
    if isinstance(body, dict):
        return body
    if isinstance(body, (bytes, str)) and body[:1] in (b"{", "{"):
        try:
            doc = json.loads(body)
            return doc if isinstance(doc, dict) else {}
        except ValueError:
            return {}
    return {}


def describe_call(service: str, operation: str, request: dict[str, Any]) -> str:
    """``dynamodb.DescribeTable TableName=x`` or ``s3.GetObject /key`` (plus GetMetricData's query count)."""
    parts = [f"{service}.{operation}"]
    params = _api_params(request)
    path = request.get("url_path")
    if isinstance(path, str) and path not in ("", "/"):
        parts.append(path)
    for k in NAMED_PARAMS:
        if k in params and isinstance(params[k], (str, int)):
            parts.append(f"{k}={params[k]}")
    if "MetricDataQueries" in params:
        parts.append(f"queries={len(params['MetricDataQueries'])}")
    if "services" in params and isinstance(params["services"], list):
        parts.append(f"services={len(params['services'])}")
    return " ".join(parts)


def unsupported(ctx: CheckContext, planned: PlannedRow) -> CheckResult | None:
    """A SKIP row when the target lacks a capability the check needs (never a pass on a gap)."""
    for need in planned.spec.needs:
        if not ctx.supports(need):
            reason = ctx.target.unsupported_reason(need) or f"{need} not rehearsable on this target"
            return planned.row.result(
                planned.spec.passes_when, reason, Verdict.SKIP, capability=need, target=ctx.target.name
            )
    return None


def harness_error(exc: Exception) -> str:
    """What an ERROR row says about an exception: a call that stayed throttled after its retries names
    the operation and says so (over an API quota is never a finding about the infrastructure)."""
    code = throttle_code(exc)
    if code and isinstance(exc, ClientError):
        attempts = 1 + int((exc.response.get("ResponseMetadata") or {}).get("RetryAttempts") or 0)
        message = (exc.response.get("Error") or {}).get("Message") or ""
        return (
            f"harness error: {exc.operation_name} throttled ({code}: {message}) after {attempts} attempts: "
            "the API quota was exhausted before the row could be read (not a finding)"
        )
    return f"harness error: {type(exc).__name__}: {str(exc)[:300]}"


def run_row(ctx: CheckContext, planned: PlannedRow) -> CheckResult:
    """Evaluate one row; the result lists the AWS calls made while it ran, and the evidence counts the
    throttled calls botocore retried (``throttled_retries``) when there were any."""
    skipped = unsupported(ctx, planned)
    if skipped is not None:
        return skipped
    calls: list[str] = []
    throttled: list[str] = []
    # The target's listeners hear every thread's calls: a row keeps only its own (rows may run concurrently).
    me = threading.get_ident()

    def record(service: str, operation: str, params: dict[str, Any]) -> None:
        if threading.get_ident() == me:
            calls.append(describe_call(service, operation, params))

    def retried(service: str, operation: str, code: str) -> None:
        if threading.get_ident() == me:
            throttled.append(f"{service}.{operation} {code}")

    target = ctx.target
    target.add_call_listener(record)
    # Optional on a target (TargetLike says so): both halves are looked up, as test doubles may lack them.
    watch = getattr(target, "add_retry_listener", None)
    unwatch = getattr(target, "remove_retry_listener", None)
    if watch is not None:
        watch(retried)
    try:
        result = planned.spec.fn(ctx, planned.row)
    except Exception as exc:  # noqa: BLE001 (a harness error becomes a visible ERROR row)
        result = planned.row.result(
            planned.spec.passes_when,
            harness_error(exc),
            Verdict.ERROR,
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
        )
    finally:
        target.remove_call_listener(record)
        if watch is not None and unwatch is not None:
            unwatch(retried)
    if throttled:
        result = replace(
            result, evidence={**result.evidence, "throttled_retries": len(throttled), "throttled_calls": throttled[:20]}
        )
    return replace(result, calls=calls)


def run_procedure(
    ctx: CheckContext, procedure: str | None = None, slugs: tuple[str, ...] | None = None
) -> list[CheckResult]:
    """Every row of ``procedure`` (all procedures when None), in catalogue order."""
    return list(run_rows(ctx, rows_for(ctx.env, procedure, slugs)))


def _paced(ctx: CheckContext, planned: PlannedRow) -> bool:
    """True when the row has a lane of its own and the target paces its calls (only then do rows wait on quotas)."""
    return planned.spec.lane is not None and getattr(ctx.target, "pacer", None) is not None


def _lanes(ctx: CheckContext, planned: Sequence[PlannedRow]) -> dict[str, list[int]]:
    """The rows (indices) of each lane that has more than one row."""
    lanes: dict[str, list[int]] = {}
    for i, p in enumerate(planned):
        if _paced(ctx, p):
            lanes.setdefault(str(p.spec.lane), []).append(i)
    return {lane: rows for lane, rows in lanes.items() if len(rows) > 1}


def run_rows(ctx: CheckContext, planned: Sequence[PlannedRow]) -> Iterator[CheckResult]:
    """Every row, yielded in the given order.

    When the target paces its calls to the account's quotas, the rows with a lane (``CheckSpec.lane``: those
    whose per-resource calls wait on a small quota, such as Lambda's control plane at 15/s for the whole
    account, and the invocations, bounded by concurrency rather than a rate) run in lane threads from the
    start, while this thread runs the other rows (batched metrics, logs, tables) in order, running ahead while
    a lane row is still waiting: the checklist then takes about as long as its busiest quota needs, not that
    plus everything else. Without pacing the rows run one after another, as before.
    """
    lanes = _lanes(ctx, planned)
    if not lanes:
        yield from (run_row(ctx, p) for p in planned)
        return
    # Each lane's first row runs here first: it fills the phase's shared reads (deployment records, SSM) once,
    # before the lane's threads read them.
    done: dict[int, CheckResult] = {rows[0]: run_row(ctx, planned[rows[0]]) for rows in lanes.values()}
    pools = [
        ThreadPoolExecutor(max_workers=min(LANE_WORKERS, len(rows) - 1), thread_name_prefix=f"checks-{lane}")
        for lane, rows in lanes.items()
    ]
    try:
        futures = {
            i: pool.submit(run_row, ctx, planned[i])
            for pool, rows in zip(pools, lanes.values(), strict=True)
            for i in rows[1:]
        }
        others = deque(i for i in range(len(planned)) if i not in futures and i not in done)
        for i in range(len(planned)):
            future = futures.get(i)
            while future is not None and not future.done() and others:
                j = others.popleft()  # run ahead while the lane row is still waiting
                done[j] = run_row(ctx, planned[j])
            if future is not None:
                yield future.result()
            elif i in done:
                yield done.pop(i)
            else:
                others.popleft()
                yield run_row(ctx, planned[i])
    finally:
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)
