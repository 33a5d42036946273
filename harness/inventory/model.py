"""Resolved, per-environment view of an inventory: every name concrete, every threshold a number."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.inventory.schema import (
    ApiQuotasSpec,
    ApprovalRule,
    AutoRollbackSpec,
    GateSpec,
    IndexSpec,
    KeyAttr,
    LeaseSpec,
    RehearsalSpec,
    RtoSpec,
    Thresholds,
    WindowSpec,
)


@dataclass(frozen=True)
class Function:
    name: str
    service: str
    alias: str


@dataclass(frozen=True)
class FunctionDiscovery:
    service: str
    prefix: str


@dataclass(frozen=True)
class Table:
    name: str
    pitr: str
    billing_mode: str | None
    hash_key: KeyAttr
    range_key: KeyAttr | None
    indexes: tuple[IndexSpec, ...]
    purpose: str
    ref: str
    functions: tuple[str, ...] = ()  # read/write the table through env_var (000 §6.6)
    env_var: str = "DYNAMODB_TABLE"  # inventory: dynamodb.tables[].env_var or dynamodb.table_env_var
    restore_suffix: str = "-restored-"  # inventory: dynamodb.restore_suffix (000 §6.4; 004 "-recovery")
    restore_timestamp: bool = True  # inventory: dynamodb.restore_timestamp
    restore_sse: bool = False  # inventory: dynamodb.restore_sse (004 --sse-specification-override)
    restore_wait_minutes: int = 240  # inventory: dynamodb.restore_wait_minutes
    shrink_refusal_percent: float = 10.0  # inventory: dynamodb.shrink_refusal_percent


@dataclass(frozen=True)
class Bucket:
    name: str
    versioning: bool
    public_access_block: bool
    encryption: str | None
    replication_destination: str | None
    replication_region: str | None
    ref: str
    replication_prefix: str = ""  # the key prefix replication must cover ("": the whole bucket)


@dataclass(frozen=True)
class Terraform:
    state_bucket: str
    lock_table: str | None
    state_keys: tuple[str, ...]
    lock_max_age_minutes: int
    ref: str
    forbid_lock_during_verification: bool = False  # any held lock FAILs terraform-state (else WARN)


@dataclass(frozen=True)
class Ecs:
    cluster: str
    services: tuple[str, ...]
    desired_count: int
    ref: str


@dataclass(frozen=True)
class Api:
    base_url: str
    paths: tuple[str, ...]
    function: str
    ref: str


@dataclass(frozen=True)
class Amplify:
    app_id: str
    branch: str
    domain: str
    ref: str
    green_branch: str | None = None  # 004 "Green Environment": where a release lands before the switch
    domain_prefix: str = ""  # 004 --sub-domain-settings prefix= (the apex)
    other_prefixes: tuple[
        str, ...
    ] = ()  # the domain's other prefixes (UpdateDomainAssociation replaces the whole list)
    repository: str | None = None  # rehearsal only: the seeded app's Git repository (None: manual deploys)


@dataclass(frozen=True)
class TriggerMetric:
    """One 004 automated-rollback trigger, resolved: the metric it reads, its threshold and action."""

    key: str  # error_rate_5xx | latency_p99 | auth_failures | memory
    namespace: str
    metric: str
    statistic: str
    dimensions: tuple[tuple[str, str], ...]
    total_metric: str | None
    window_minutes: int
    threshold: float
    action: str  # rollback | alert
    ref: str

    @property
    def resource(self) -> str:
        """A short stable name for the row: the metric and its dimension values (``5XXError:api:stage``)."""
        return ":".join([self.metric, *(v for _, v in self.dimensions)])


@dataclass(frozen=True)
class Environment:
    """One environment of one inventory, with all placeholders resolved."""

    inventory: str
    name: str
    account: str
    region: str
    failover_region: str | None
    profile: str | None
    role: str | None
    protected: bool
    promotes_to: str | None
    alias: str
    backup_alias_prefix: str
    incident_alias_prefix: str
    checkpoint_alias_prefix: str
    health_payload: dict[str, Any]
    functions: tuple[Function, ...]
    discovery: tuple[FunctionDiscovery, ...]
    sam_stacks: tuple[str, ...]
    tables: tuple[Table, ...]
    buckets: tuple[Bucket, ...]
    terraform: Terraform | None
    ecs: Ecs | None
    api: Api | None
    ssm_deployed_version: str | None
    alarm_prefix: str
    log_group_prefix: str
    amplify: Amplify | None
    cfn_stacks: tuple[str, ...]
    tenants: tuple[str, ...]
    thresholds: Thresholds
    gates: dict[str, GateSpec]
    auto_rollback: AutoRollbackSpec
    approvals: dict[str, ApprovalRule]
    maintenance_windows: tuple[WindowSpec, ...]
    rehearsal: RehearsalSpec
    unresolved: tuple[str, ...] = field(default=())  # ${VAR}s missing from the process environment
    triggers: tuple[TriggerMetric, ...] = field(
        default=()
    )  # 004 automated rollback triggers, with their metric sources
    cfn_previous_template: str | None = None  # 004's backup of the previous stack template (a file path)
    cfn_previous_parameters: str | None = None  # and of its parameters
    promotion_order: tuple[str, ...] = field(default=())  # service names, 001 §5.1 (empty: inventory order)
    lease: LeaseSpec = field(default_factory=lambda: LeaseSpec())  # the operation lease (harness/lease.py)
    rto: RtoSpec | None = None  # recovery time objectives per kind (002 "Rollback Scenarios & Recovery Times")
    # API pacing; ``quotas``: the inventory's raised quotas merged with this environment's account's own
    api_quotas: ApiQuotasSpec = field(default_factory=ApiQuotasSpec)

    def trigger(self, key: str) -> TriggerMetric | None:
        """The automated-rollback trigger ``key`` (error_rate_5xx, latency_p99, ...), or None."""
        return next((t for t in self.triggers if t.key == key), None)

    def table(self, name: str) -> Table:
        """The table called ``name``; KeyError names the known ones."""
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(f"no table {name!r} in {self.inventory}/{self.name}: {[t.name for t in self.tables]}")

    def function(self, name: str) -> Function:
        """The function called ``name``; KeyError names the known ones."""
        for f in self.functions:
            if f.name == name:
                return f
        raise KeyError(f"no function {name!r} in {self.inventory}/{self.name}: {[f.name for f in self.functions]}")

    @property
    def deployments_table(self) -> Table | None:
        """The table that holds deployment and rollback records (001 §6.3.2, 002 §4)."""
        return next((t for t in self.tables if t.purpose == "deployments"), None)

    def describe(self) -> str:
        """One line: inventory, env, account, region."""
        return f"inventory={self.inventory} env={self.name} account={self.account} region={self.region}"
