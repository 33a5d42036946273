"""What every check reads through: the target (clients, environment, clock, capabilities), one
"now", and the phase's shared readers.

The metrics and ECS readers batch every row's queries into as few API calls as the services allow
(GetMetricData <=500 queries, DescribeServices <=10 services), so a whole checklist costs one
metrics round trip per 500 queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import requests

from harness import aws
from harness.checks.ecs_reader import EcsReader
from harness.checks.metrics import MetricsReader
from harness.checks.result import CheckResult, Verdict
from harness.inventory.model import Environment
from harness.targets.base import TargetLike

# Harness settings, not runbook thresholds: how long one HTTP probe may take.
HTTP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Row:
    """One checklist row to evaluate: slug, the resource it is about, the runbook ref, the inventory item."""

    slug: str
    resource: str
    ref: str
    item: Any = None  # the inventory object (Table, Bucket, ...) or name the check needs

    @property
    def id(self) -> str:
        """The pytest id: slug-resource (the resource verbatim, so node ids name it)."""
        return f"{self.slug}-{self.resource}"

    def result(self, expected: str, observed: str, verdict: Verdict, **evidence: Any) -> CheckResult:
        """This row, filled in."""
        return CheckResult(self.slug, self.resource, expected, observed, verdict, self.ref, evidence=evidence)


@dataclass
class CheckContext:
    """Everything a check may read through, for one phase of a run.

    A context caches (DescribeTable, records, the batched metrics and ECS reads) and freezes "now":
    right for one checklist pass, wrong after an action or a fault changed the account. The plugin
    and the drills therefore make a context per phase: :meth:`for_target` at the start, then
    :meth:`fresh` after every change, which reads the target's clock again and empties the caches.
    """

    target: TargetLike
    now: datetime  # one instant for the phase: every window ends here
    expect_versions: dict[str, str] = field(default_factory=dict)  # --expect-version fn=VER
    api_base_url: str | None = None  # None: this target has no HTTP front for the API
    http: requests.Session = field(default_factory=requests.Session)
    http_timeout_s: float = HTTP_TIMEOUT_S
    cache: dict[str, Any] = field(default_factory=dict)
    _metrics: MetricsReader | None = None
    _ecs: EcsReader | None = None

    @classmethod
    def for_target(
        cls,
        target: TargetLike,
        *,
        now: datetime | None = None,
        expect_versions: dict[str, str] | None = None,
        api_base_url: str | None = None,
    ) -> "CheckContext":
        """A context on ``target`` at its clock's "now" (or ``now``)."""
        return cls(
            target=target,
            now=now or target.clock.now(),
            expect_versions=dict(expect_versions or {}),
            api_base_url=api_base_url,
        )

    def fresh(self, now: datetime | None = None, **changes: Any) -> "CheckContext":
        """A context for the next phase: same target and options, empty caches, "now" read again."""
        return replace(self, now=now or self.target.clock.now(), cache={}, _metrics=None, _ecs=None, **changes)

    @property
    def env(self) -> Environment:
        """The target's environment."""
        return self.target.env

    def client(self, service: str, region: str | None = None) -> Any:
        """The target's client for ``service`` (one per service and region)."""
        return self.target.client(service, region)

    def lane_client(self, service: str, lane: str, region: str | None = None) -> Any:
        """The target's client for calls drawing on one API quota (its own adaptive rate limiter), or the
        service's client on a target without lanes (a test double)."""
        lanes = getattr(self.target, "lane_client", None)
        return lanes(service, lane, region) if lanes is not None else self.target.client(service, region)

    def supports(self, capability: str) -> bool:
        """True when the target can rehearse ``capability``."""
        return self.target.supports(capability)

    # -- windows (000 §7.1: the last N minutes; 001 §2.1: the gate's lookback) --------------------
    @property
    def window(self) -> tuple[datetime, datetime]:
        """The verification window: the last ``verification_window_minutes`` before ``now`` (000 §7.1)."""
        return self.now - timedelta(minutes=self.env.thresholds.verification_window_minutes), self.now

    # -- shared readers ---------------------------------------------------------------------------
    @property
    def metrics(self) -> MetricsReader:
        """The phase's batched CloudWatch reader."""
        if self._metrics is None:
            self._metrics = MetricsReader(self)
        return self._metrics

    @property
    def ecs(self) -> EcsReader:
        """The phase's batched ECS reader."""
        if self._ecs is None:
            self._ecs = EcsReader(self)
        return self._ecs

    def function_names(self) -> list[str]:
        """Every function the inventory names, plus those found by its discovery prefixes (002 §1)."""
        if "functions" not in self.cache:
            names = [f.name for f in self.env.functions]
            for d in self.env.discovery:
                names += [n for n in self.discover(d.prefix) if n not in names]
            self.cache["functions"] = names
        return list(self.cache["functions"])

    def discover(self, prefix: str) -> list[str]:
        """Functions whose name starts with ``prefix`` (ListFunctions, as 002 rollback-lambda.yml does)."""
        key = f"discover:{prefix}"
        if key not in self.cache:
            functions = aws.paginate(self.client("lambda"), "list_functions", "Functions")
            self.cache[key] = sorted(f["FunctionName"] for f in functions if f["FunctionName"].startswith(prefix))
        return list(self.cache[key])

    def service_of(self, function: str) -> str | None:
        """The inventory service a function belongs to (by name or discovery prefix)."""
        for f in self.env.functions:
            if f.name == function:
                return f.service
        for d in self.env.discovery:
            if function.startswith(d.prefix):
                return d.service
        return None
