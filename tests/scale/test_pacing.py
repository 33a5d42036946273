"""Client-side pacing to the account's API quotas (harness/pacing.py), judged by the rehearsal's referee
(fidelity/api_quotas.py): a paced lane never goes over its quota in any one-second window and is never
throttled; a throttle caused by another caller is still retried and counted; the checklist reads its paced
rows in a lane while the other rows proceed, and reports them in order; quotas come from the inventory."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from harness.actions import Authority
from harness.actions.rollback import RollbackTo, rollback_all
from harness.checks.catalogue import rows_for
from harness.checks.context import CheckContext
from harness.checks.result import Verdict
from harness.checks.runner import run_procedure, run_rows
from harness.errors import InventoryError
from harness.inventory import load_inventory
from harness.pacing import Lane, Pacer
from harness.pytest_plugin.reporting import throttled_text
from harness.quotas import QUOTAS, quota_for, with_overrides
from harness.targets.embedded import EmbeddedTarget
from harness.targets.embedded.fidelity import api_quotas
from tests.fidelity.conftest import start_target

CONTROL_PLANE = "lambda:control-plane"


@pytest.fixture
def quota_target() -> Iterator[EmbeddedTarget]:
    """bbws SIT on a fresh account, the referee enforcing AWS's quotas and the clients pacing to them."""
    target = start_target(quotas=True)
    yield target
    target.close()


class Recording(api_quotas.TokenBucket):
    """The referee's own bucket for a quota (its state kept), noting when each request reached it."""

    def __init__(self, real: api_quotas.TokenBucket) -> None:
        super().__init__(real.rate, real.capacity)
        self.tokens, self.stamp, self.lock = real.tokens, real.stamp, real.lock
        self.arrivals: list[float] = []
        self.refused = 0

    def take(self) -> float:
        wait = super().take()
        self.arrivals.append(self.clock())
        self.refused += 1 if wait else 0
        return wait


def referee_bucket(target: EmbeddedTarget, operation: str) -> Recording:
    """From now on, record the arrivals at the referee's bucket of ``operation``'s quota."""
    quota = quota_for("lambda", operation)
    assert quota is not None
    enforcement = api_quotas.enforcement(target.env.account)
    assert enforcement is not None
    bucket = enforcement.buckets[quota.group] = Recording(enforcement.bucket(quota))
    return bucket


def most_in_one_second(times: list[float], after: float = float("-inf")) -> int:
    """The most arrivals in any one-second window starting at an arrival at or after ``after``."""
    times = sorted(times)
    return max((sum(1 for u in times if t <= u < t + 1.0) for t in times if t >= after), default=0)


def test_a_lane_token_is_reserved_in_order_and_never_over_its_rate() -> None:
    now = [0.0]
    slept: list[float] = []
    lane = Lane("x", rate=10, burst=5, clock=lambda: now[0], sleep=slept.append)
    assert [lane.reserve() for _ in range(5)] == [0.0] * 5  # the burst
    waits = [lane.reserve() for _ in range(3)]  # then one every 1/10 s, each caller behind the last
    assert waits == pytest.approx([0.1, 0.2, 0.3])
    now[0] = 10.0  # idle: the bucket holds its burst again, no more
    assert [lane.reserve() for _ in range(6)][-2:] == [0.0, pytest.approx(0.1)]


def test_a_lane_never_exceeds_its_quota_in_any_second_on_the_referee(quota_target: EmbeddedTarget) -> None:
    """Eight threads on two clients call APIs of Lambda's control plane as fast as they can; the referee sees
    the token bucket's bound (burst + rate in any second), a paced average, and refuses nothing."""
    quota = quota_for("lambda", "GetAlias")
    assert quota is not None and quota.group == CONTROL_PLANE
    fn, alias = quota_target.env.functions[0].name, quota_target.env.alias
    clients = [quota_target.client("lambda"), quota_target.lane_client("lambda", "control-plane")]
    # Connections open and both buckets spent first: a request queued behind a stalled one while AWS's bucket is
    # full loses AWS's refill meanwhile (no client can see that); in a steady stream it does not.
    for i in range(16):
        clients[i % 2].get_alias(FunctionName=fn, Name=alias)
    bucket, retried = referee_bucket(quota_target, "GetAlias"), quota_target.throttled_retries
    lane = quota_target.pacer.lane("lambda", "GetAlias") if quota_target.pacer else None
    assert lane is not None
    calls_before, began = lane.calls, time.monotonic()

    def caller(i: int) -> None:
        for _ in range(6):  # GetAlias and ListVersionsByFunction draw on the same quota
            lam = clients[i % 2]
            lam.get_alias(FunctionName=fn, Name=alias) if i % 3 else lam.list_versions_by_function(FunctionName=fn)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Every arrival took a lane token first (a retried transient error's too: hence >= 48), none was refused.
    assert lane.calls - calls_before >= len(bucket.arrivals) >= 48
    assert bucket.refused == 0 and quota_target.throttled_retries == retried
    assert most_in_one_second(bucket.arrivals) <= quota.burst + quota.rate
    # Paced: beyond what the lane's bucket can hold, each call waits for a refill (unpaced, 48 take ~0.5 s).
    assert max(bucket.arrivals) - began >= (48 - lane.capacity) / lane.rate


def test_a_healthy_checklist_is_never_throttled_and_reports_its_rows_in_order(quota_target: EmbeddedTarget) -> None:
    planned = rows_for(quota_target.env, "post-rollback")
    rows = run_procedure(CheckContext.for_target(quota_target, api_base_url=quota_target.api_base_url), "post-rollback")
    assert [(r.slug, r.resource) for r in rows] == [(p.row.slug, p.row.resource) for p in planned]
    assert {r.verdict for r in rows} == {Verdict.PASS}, [r.message() for r in rows if r.verdict is not Verdict.PASS]
    assert quota_target.throttled_retries == 0 and api_quotas.enforcement(quota_target.env.account).throttled == 0
    assert throttled_text([r.to_dict()["evidence"] for r in rows]) == "0 calls"


def test_the_paced_lane_overlaps_the_other_rows_and_each_row_keeps_its_own_calls(quota_target: EmbeddedTarget) -> None:
    slow = with_overrides({CONTROL_PLANE: (4.0, 1.0)})  # 7 GetAlias at 4/s: ~1.5 s of waiting
    quota_target.pacer = Pacer(slow)
    seen: list[tuple[float, str]] = []
    quota_target.add_call_listener(lambda service, op, params: seen.append((time.monotonic(), op)))
    planned = rows_for(quota_target.env, "post-rollback")
    rows = list(run_rows(CheckContext.for_target(quota_target, api_base_url=quota_target.api_base_url), planned))
    assert [(r.slug, r.resource) for r in rows] == [(p.row.slug, p.row.resource) for p in planned]
    last_alias = max(t for t, op in seen if op == "GetAlias")
    others = [op for t, op in seen if t < last_alias and op not in ("GetAlias", "GetFunction", "Scan")]
    assert others, "no other row ran while the paced GetAlias rows waited for their tokens"
    for row in rows:
        if row.slug == "lambda-alias-version":
            assert [c.split()[0] for c in row.calls if "GetAlias" in c] == ["lambda.GetAlias"], row.calls
            assert all(row.resource in c for c in row.calls if c.startswith("lambda.")), row.calls
        else:
            assert not any("GetAlias" in c for c in row.calls), (row.id, row.calls)


def drain(target: EmbeddedTarget) -> None:
    """Another caller on the same account (retries off) empties Lambda's control-plane bucket."""
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=target.env.region)
    lam = session.client(
        "lambda", endpoint_url=target.server.url, config=Config(retries={"total_max_attempts": 1, "mode": "standard"})
    )
    lam.meta.events.register(
        "before-sign", lambda request, **_: request.headers.__setitem__("x-moto-account-id", target.env.account)
    )
    refused = 0
    for _ in range(40):
        try:
            lam.get_alias(FunctionName=target.env.functions[0].name, Name=target.env.alias)
        except lam.exceptions.TooManyRequestsException:
            refused += 1
    assert refused, "the other caller never emptied the bucket"


def test_a_throttle_from_another_caller_is_retried_and_counted_in_the_evidence(quota_target: EmbeddedTarget) -> None:
    drain(quota_target)
    rows = run_procedure(CheckContext.for_target(quota_target, api_base_url=quota_target.api_base_url), "post-rollback")
    assert {r.verdict for r in rows} == {Verdict.PASS}, [r.message() for r in rows if r.verdict is not Verdict.PASS]
    evidence: list[dict[str, Any]] = [r.to_dict()["evidence"] for r in rows]
    retried = sum(int(e.get("throttled_retries") or 0) for e in evidence)
    assert retried >= 1 and quota_target.throttled_retries == retried
    assert throttled_text(evidence).startswith(f"{retried} calls in "), throttled_text(evidence)
    throttled = [c for e in evidence for c in e.get("throttled_calls", [])]
    assert throttled and all(c.startswith("lambda.") and "TooManyRequestsException" in c for c in throttled)


def test_a_rollback_of_every_function_is_paced_not_throttled(quota_target: EmbeddedTarget) -> None:
    who = Authority(allow_mutation=True, reason="pacing test", actor="test")
    names = [f.name for f in quota_target.env.functions]
    began = time.monotonic()
    result = rollback_all(quota_target, who)
    assert result.outcome == "COMPLETE", result.message
    lane = next(s for s in quota_target.pacer.stats() if s.name == CONTROL_PLANE) if quota_target.pacer else None
    assert lane is not None and lane.calls >= 5 * len(names)  # plan 2, apply 3 per function, all through the lane
    assert time.monotonic() - began >= (lane.calls - lane.burst) / lane.rate * 0.9
    # Unpaced, this batch (35 control-plane calls from 8 threads within the first second) was throttled 5 times here.
    # Paced it is not, unless the machine stalls the in-process emulator longer than jitter_ms while its bucket is
    # near full (a shared CI machine can): then one call is throttled, retried and counted.
    referee = api_quotas.enforcement(quota_target.env.account)
    assert referee is not None and referee.throttled <= 1 and quota_target.throttled_retries == referee.throttled
    back = rollback_all(quota_target, who, RollbackTo.each({fn: "3" for fn in names}))
    assert back.outcome == "COMPLETE", back.message


INVENTORY = """
[inventory]
name = "paced"
title = "pacing test"
sources = ["000 §4.4"]

[environments.sit]
account = "111111111111"
region = "af-south-1"

[environments.prod]
account = "222222222222"
region = "af-south-1"
api_quotas = {{ "lambda:control-plane" = {{ rate = 30 }} }}

[lambda]
alias = "live"
[[lambda.services]]
name = "svc"
functions = ["fn-{{env}}"]

{extra}
"""


def write(tmp_path: Path, extra: str = "") -> str:
    """An inventory file with ``extra`` appended."""
    path = tmp_path / "paced.toml"
    path.write_text(INVENTORY.format(extra=extra))
    return str(path)


def test_quotas_come_from_the_inventory_raised_per_account(tmp_path: Path) -> None:
    from harness.targets.aws import AwsTarget

    inventory = load_inventory(
        write(tmp_path, '[api_quotas]\nheadroom_pct = 10\nquotas = { "logs:StartQuery" = { rate = 8, burst = 12 } }')
    )
    sit, prod = inventory.environment("sit"), inventory.environment("prod")
    assert set(sit.api_quotas.quotas) == {"logs:StartQuery"}
    assert set(prod.api_quotas.quotas) == {"logs:StartQuery", CONTROL_PLANE}
    pacer = AwsTarget(prod).pacer  # a real account paces from its first call (made, not started: no call sent)
    assert pacer is not None
    lane, logs = pacer.lane("lambda", "UpdateAlias"), pacer.lane("logs", "StartQuery")
    # 90 % of the raised rate, and of the burst less what 150 ms (jitter_ms) refill at that rate
    assert lane is not None and lane.rate == pytest.approx(27) and lane.capacity == pytest.approx(30 - 27 * 0.15)
    assert logs is not None and logs.rate == pytest.approx(7.2) and logs.capacity == pytest.approx(10.8)
    assert pacer.lane("lambda", "Invoke") is None  # invocations are bounded by concurrency, not a request rate
    sit_lane = AwsTarget(sit).pacer.lane("lambda", "GetAlias")  # type: ignore[union-attr] (paced: asserted above)
    assert sit_lane is not None and sit_lane.rate == pytest.approx(15 * 0.9)


def test_pacing_off_and_unknown_quota_names(tmp_path: Path) -> None:
    from harness.targets.aws import AwsTarget

    off = load_inventory(write(tmp_path, "[api_quotas]\npace = false")).environment("sit")
    assert AwsTarget(off).pacer is None
    with pytest.raises(InventoryError, match="unknown API quota lambda:GetAlias"):
        load_inventory(write(tmp_path, '[api_quotas]\nquotas = { "lambda:GetAlias" = { rate = 30 } }'))


def test_an_emulator_paces_only_while_it_rehearses_the_quotas(quota_target: EmbeddedTarget) -> None:
    plain = start_target()
    try:
        assert plain.pacer is None  # no quotas rehearsed: nothing to pace to, and seeding is never paced
    finally:
        plain.close()
    assert quota_target.pacer is not None and quota_target.pacer.quotas == QUOTAS
