"""What every check reads through: clients, the environment, one "now", and the run's shared readers.

A context is made once per run (per xdist worker): the metrics and ECS readers batch every row's
queries into as few API calls as the services allow (GetMetricData <=500 queries, DescribeServices
<=10 services), so a whole checklist costs one metrics round trip per 500 queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Callable

import requests

from checks.result import CheckResult, Verdict
from harness.clock import Clock
from harness.inventory.model import Environment

ClientFactory = Callable[..., Any]  # client("lambda") or client("s3", region="eu-west-1")
CallListener = Callable[[str, str, dict], None]

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
    """Everything a check may read through; made once per run."""

    client: ClientFactory
    env: Environment
    now: datetime  # one instant for the whole run: every window ends here
    expect_versions: dict[str, str] = field(default_factory=dict)  # --expect-version fn=VER
    api_base_url: str | None = None  # None: this target has no HTTP front for the API
    http: requests.Session = field(default_factory=requests.Session)
    http_timeout_s: float = HTTP_TIMEOUT_S
    add_listener: Callable[[CallListener], None] | None = None
    remove_listener: Callable[[CallListener], None] | None = None
    cache: dict[str, Any] = field(default_factory=dict)
    _metrics: Any = None
    _ecs: Any = None

    @classmethod
    def for_target(
        cls,
        target: Any,
        clock: Clock,
        *,
        expect_versions: dict[str, str] | None = None,
        api_base_url: str | None = None,
    ) -> "CheckContext":
        """A context on ``target`` (any harness Target), with calls observable through its listeners."""
        return cls(
            client=target.client,
            env=target.env,
            now=clock.now(),
            expect_versions=dict(expect_versions or {}),
            api_base_url=api_base_url,
            add_listener=getattr(target, "add_call_listener", None),
            remove_listener=getattr(target, "remove_call_listener", None),
        )

    def fresh(self, now: datetime | None = None) -> "CheckContext":
        """The same clients and options with empty caches (after the account changed)."""
        return replace(self, now=now or self.now, cache={}, _metrics=None, _ecs=None, http=self.http)

    # -- windows (000 §7.1: the last N minutes; 001 §2.1: the gate's lookback) --------------------
    @property
    def window(self) -> tuple[datetime, datetime]:
        """The verification window: the last ``verification_window_minutes`` before ``now`` (000 §7.1)."""
        return self.now - timedelta(minutes=self.env.thresholds.verification_window_minutes), self.now

    # -- shared readers ---------------------------------------------------------------------------
    @property
    def metrics(self) -> Any:
        """The run's batched CloudWatch reader."""
        if self._metrics is None:
            from checks.metrics import MetricsReader

            self._metrics = MetricsReader(self)
        return self._metrics

    @property
    def ecs(self) -> Any:
        """The run's batched ECS reader."""
        if self._ecs is None:
            from checks.ecs_checks import EcsReader

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
            pages = self.client("lambda").get_paginator("list_functions").paginate()
            self.cache[key] = sorted(f["FunctionName"] for p in pages for f in p["Functions"] if f["FunctionName"].startswith(prefix))
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
