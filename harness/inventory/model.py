"""Resolved, per-environment view of an inventory: every name concrete, every threshold a number."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.inventory.schema import (
    ApprovalRule,
    AutoRollbackSpec,
    GateSpec,
    KeyAttr,
    RehearsalSpec,
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
    indexes: tuple
    purpose: str
    ref: str


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
    health_payload: dict
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
