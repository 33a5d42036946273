"""The inventory file format: pydantic models that reject unknown keys and wrong types.

Names may contain placeholders resolved per environment: ``{env}``, ``{tenant_id}`` (expanded
once per tenant) and ``${VAR}`` (an environment variable, for values a runbook does not give).

Over 450 lines because it is the file format itself: one small declarative model per TOML section, kept
in one module so a reader sees every key the loader accepts in one place.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.quotas import groups as quota_groups

# Safety inputs are strict-typed: a string where a boolean, count or window belongs (``protected = "yes"``)
# is an error naming the key path, never silently coerced (000 §9.3: a protected flag must mean what it says).
StrictBool = Annotated[bool, pydantic.Strict()]
StrictInt = Annotated[int, pydantic.Strict()]
StrictFloat = Annotated[float, pydantic.Strict()]  # an integer is still a number

ACCOUNT_RE = re.compile(r"^(\d{12}|\$\{[A-Z][A-Z0-9_]*\})$")
REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
PLACEHOLDER_RE = re.compile(r"(?<!\$)\{([a-z_]+)\}")
KNOWN_PLACEHOLDERS = {"env", "tenant_id"}


class Strict(BaseModel):
    """Base model: unknown keys are errors, values are not coerced silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Meta(Strict):
    name: str
    title: str
    sources: list[str] = Field(min_length=1, description="seed sections this inventory is taken from")
    notes: list[str] = []


class QuotaSetting(Strict):
    """One API quota's bucket where the account's differs from AWS's documented default (harness/quotas.py)."""

    rate: float = Field(gt=0, description="requests per second")
    burst: float | None = Field(
        default=None, gt=0, description="bucket capacity (default: one second's worth, the rate)"
    )


class ApiQuotasSpec(Strict):
    """How the harness paces its calls to the account's API request-rate quotas (README "Verification at platform
    scale"): every client waits for a token of the quota a call draws on before sending it."""

    pace: bool = Field(
        default=True, description="pace every client to the quotas (false: send at once, rely on retries)"
    )
    headroom_pct: float = Field(
        default=3.0,
        ge=0,
        lt=50,
        description="pace at (100 - headroom) % of each quota's rate and burst: room for the network's jitter between "
        "the harness's clock and AWS's buckets",
    )
    jitter_ms: float = Field(
        default=150.0,
        ge=0,
        description="how much later than the next one a request may reach AWS: a lane holds what this refills (a "
        "token at least) less than the quota's burst",
    )
    quotas: dict[str, QuotaSetting] = Field(
        default={},
        description="raised quotas for every account, by bucket name (lambda:control-plane, logs:StartQuery...)",
    )
    ref: str = ""


class EnvSpec(Strict):
    account: str
    region: str
    failover_region: str | None = None
    profile: str | None = None
    role: str | None = None
    protected: StrictBool = False
    promotes_to: str | None = None
    api_quotas: dict[str, QuotaSetting] = Field(
        {}, description="this account's raised API quotas (AWS support), by bucket name; over [api_quotas].quotas"
    )
    ref: str = ""

    @field_validator("account")
    @classmethod
    def _account(cls, v: str) -> str:
        if not ACCOUNT_RE.match(v):
            raise ValueError(f"account must be 12 digits or ${{VAR}}, got {v!r}")
        return v

    @field_validator("region", "failover_region")
    @classmethod
    def _region(cls, v: str | None) -> str | None:
        if v is not None and not REGION_RE.match(v):
            raise ValueError(f"not an AWS region name: {v!r}")
        return v


class ServiceSpec(Strict):
    name: str
    repository: str | None = None
    functions: list[str] = []
    discover_prefix: str | None = Field(default=None, description="functions found by ListFunctions name prefix (002)")
    sam_stack: str | None = None

    @model_validator(mode="after")
    def _has_functions(self) -> "ServiceSpec":
        if not self.functions and not self.discover_prefix:
            raise ValueError(f"service {self.name!r} needs functions or discover_prefix")
        return self


class LambdaSpec(Strict):
    alias: str
    backup_alias_prefix: str = "backup-"
    incident_alias_prefix: str = "incident-"
    checkpoint_alias_prefix: str = "rollback-checkpoint-"
    health_payload: dict[str, Any] = {"httpMethod": "GET", "path": "/health", "headers": {}}
    services: list[ServiceSpec] = Field(min_length=1)
    # 001 §5.1: the order a full-stack promotion deploys services in (service names); empty: as listed.
    promotion_order: list[str] = []
    ref: str = ""


class KeyAttr(Strict):
    name: str
    type: Literal["S", "N", "B"] = "S"


class IndexSpec(Strict):
    name: str
    hash_key: KeyAttr
    range_key: KeyAttr | None = None


class TableSpec(Strict):
    name: str
    pitr: Literal["required", "recommended", "none"] = "none"
    billing_mode: Literal["PAY_PER_REQUEST", "PROVISIONED"] | None = None
    hash_key: KeyAttr
    range_key: KeyAttr | None = None
    indexes: list[IndexSpec] = []
    purpose: Literal["data", "deployments", "state"] = "data"
    envs: list[str] | None = None
    functions: list[str] = Field(
        default=[],
        description="functions that read and write this table through env_var (000 §6.6: switched by option A, "
        "frozen by option B)",
    )
    env_var: str | None = Field(
        default=None,
        description="the variable those functions read the table name from (default: dynamodb.table_env_var)",
    )
    ref: str = ""


class DynamoSpec(Strict):
    tables: list[TableSpec] = []
    table_env_var: str = Field(
        default="DYNAMODB_TABLE", description="environment variable naming a function's table (000 §6.6)"
    )
    restore_suffix: str = Field(
        default="-restored-",
        description="restored table name = <table><suffix>[<UTC ts>] (000 §6.4; 004 uses -recovery)",
    )
    restore_timestamp: StrictBool = Field(
        default=True, description="append the UTC timestamp %Y%m%d%H%M%S to restored table names (000 §6.4)"
    )
    restore_sse: StrictBool = Field(
        default=False, description="restore with --sse-specification-override Enabled=true (004 DynamoDB Rollback)"
    )
    restore_wait_minutes: StrictInt = Field(
        default=240, gt=0, description="how long a restore may take to become ACTIVE (large tables take hours)"
    )
    shrink_refusal_percent: StrictFloat = Field(
        default=10.0,
        ge=0,
        le=100,
        description="switch-table and copy-back refuse a table with more than this many percent fewer items than the "
        "one it replaces (and an empty one) unless --allow-shrink",
    )
    ref: str = ""


class ReplicationSpec(Strict):
    destination: str
    region: str
    prefix: str = Field(default="", description="key prefix an Enabled rule must replicate; empty: the whole bucket")

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not REGION_RE.match(v):
            raise ValueError(f"not an AWS region name: {v!r}")
        return v


class BucketSpec(Strict):
    name: str
    versioning: StrictBool = True
    public_access_block: StrictBool = True
    encryption: Literal["AES256", "aws:kms"] | None = "AES256"
    replication: ReplicationSpec | None = None
    replication_envs: list[str] | None = None
    envs: list[str] | None = None
    ref: str = ""


class S3Spec(Strict):
    buckets: list[BucketSpec] = []


class TerraformSpec(Strict):
    state_bucket: str
    lock_table: str | None = None
    state_keys: list[str] = Field(min_length=1)
    lock_max_age_minutes: StrictInt = Field(default=60, gt=0)
    forbid_lock_during_verification: StrictBool = Field(
        default=False,
        description="true: any held lock (fresh, or of unknown age) FAILs terraform-state; false: it WARNs",
    )
    ref: str = ""


class EcsSpec(Strict):
    cluster: str
    services: list[str] = Field(min_length=1)
    desired_count: StrictInt = Field(default=1, gt=0)
    ref: str = ""


class ApiSpec(Strict):
    base_url: str
    paths: list[str] = Field(min_length=1)
    function: str
    ref: str = ""


class SsmSpec(Strict):
    deployed_version_parameter: str
    ref: str = ""


class CloudWatchSpec(Strict):
    alarm_prefix: str = ""
    log_group_prefix: str = "/aws/lambda/"
    ref: str = ""


class AmplifySpec(Strict):
    app_id: str
    branch: str
    domain: str
    green_branch: str | None = Field(
        default=None, description="the branch a blue/green release deploys to first (004 'Green Environment')"
    )
    domain_prefix: str = Field(default="", description="the sub-domain prefix users reach (004: prefix= , the apex)")
    other_prefixes: list[str] = Field(
        default=[], description="the domain's other sub-domain prefixes on the same branch (a switch must keep them)"
    )
    repository: str | None = Field(
        default=None,
        description="rehearsal only: the Git repository the seeded app is connected to (none: a manually deployed app)",
    )
    ref: str = ""


class CloudFormationSpec(Strict):
    stacks: list[str] = Field(min_length=1)
    previous_template: str | None = Field(
        default=None, description="the backup of the previous template (004: backup/appsync-previous.yml)"
    )
    previous_parameters: str | None = Field(
        default=None, description="its parameters file (004: backup/appsync-parameters-previous.json)"
    )
    ref: str = ""


class Thresholds(Strict):
    """Rollback decision criteria and verification limits (numbers only; units in the names)."""

    error_rate_warning_pct: StrictFloat = 1.0
    error_rate_critical_pct: StrictFloat = 5.0
    error_rate_emergency_pct: StrictFloat = 10.0
    api_p95_warning_s: StrictFloat = 3.0
    api_p95_critical_s: StrictFloat = 5.0
    lambda_p95_warning_s: StrictFloat = 10.0
    lambda_p95_critical_s: StrictFloat = 25.0
    dynamodb_p95_warning_ms: StrictFloat = 100.0  # 000 §2.2 DynamoDB row
    dynamodb_p95_critical_ms: StrictFloat = 500.0
    impact_users_medium: StrictInt = 10  # 000 §2.4: affected users at which each impact level starts
    impact_users_high: StrictInt = 100
    impact_users_critical: StrictInt = 1000
    verification_window_minutes: StrictInt = 5
    verification_error_rate_max_pct: StrictFloat = 1.0
    verification_latency_p95_max_s: StrictFloat = 3.0
    ref: str = ""


class GateSpec(Strict):
    """A pre-promotion gate on the source environment (001 §2.1)."""

    lookback_hours: StrictInt = Field(gt=0)
    max_errors: StrictInt = Field(ge=0)
    max_throttles: StrictInt = Field(ge=0)
    errors_strictly_below: StrictBool = False
    ref: str = ""


TRIGGER_THRESHOLDS = {  # 004 Automated Rollback Triggers: trigger -> the [auto_rollback] threshold it is judged by
    "error_rate_5xx": "error_rate_5xx_pct",
    "latency_p99": "latency_p99_ms",
    "auth_failures": "auth_failures",
    "memory": "memory_pct",
}


class TriggerSourceSpec(Strict):
    """Where one automated-rollback trigger is read: a CloudWatch metric (004 names the metric, not its source)."""

    namespace: str
    metric: str
    statistic: str = Field(default="Sum", description="Sum, Maximum, Average, SampleCount or pNN")
    total_metric: str | None = Field(
        default=None, description="for a rate: the denominator metric (same namespace and dimensions)"
    )
    dimensions: dict[str, str] = {}
    window_minutes: StrictInt = Field(default=5, gt=0)
    action: Literal["rollback", "alert"] = Field(
        description="004's Action column: automatic rollback (FAIL) or alert, manual decision (WARN)"
    )
    ref: str = ""


class AutoRollbackSpec(Strict):
    health_status: StrictInt = 200
    error_spike_count: StrictInt = 5
    throttle_spike_count: StrictInt = 10
    spike_window_minutes: StrictInt = 2
    monitor_minutes: StrictInt = 5
    # post-deployment monitor per destination environment, in seconds, where it differs from
    # monitor_minutes (001 §3.2.1: "Monitor for 30s errors" after DEV -> SIT)
    monitor_seconds_by_env: dict[str, int] = {}
    error_rate_5xx_pct: StrictFloat | None = None
    latency_p99_ms: StrictFloat | None = None
    auth_failures: StrictInt | None = None
    memory_pct: StrictFloat | None = None
    sources: dict[str, TriggerSourceSpec] = {}
    ref: str = ""

    @model_validator(mode="after")
    def _sources_have_thresholds(self) -> "AutoRollbackSpec":
        for key in self.sources:
            if key not in TRIGGER_THRESHOLDS:
                raise ValueError(
                    f"auto_rollback.sources: unknown trigger {key!r}; known: {', '.join(TRIGGER_THRESHOLDS)}"
                )
            if getattr(self, TRIGGER_THRESHOLDS[key]) is None:
                raise ValueError(f"auto_rollback.sources.{key} needs auto_rollback.{TRIGGER_THRESHOLDS[key]}")
        return self


class ApprovalRule(Strict):
    roles: list[str] = Field(min_length=1)
    min_approvers: StrictInt = Field(ge=1)
    reason_required: StrictBool = True
    ref: str = ""


class WindowSpec(Strict):
    day: Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    start_utc: str = Field(pattern=r"^\d{2}:\d{2}$")
    end_utc: str = Field(pattern=r"^\d{2}:\d{2}$")


class RtoSpec(Strict):
    """Recovery time objectives in minutes, per kind of recovery (002 "Rollback Scenarios & Recovery Times").

    Game-day drills (harness/drills) measure fault-to-verified-recovery against the kind they rehearse.
    """

    lambda_code: StrictFloat | None = Field(
        default=None, gt=0, description="Lambda code bug: alias update (002: < 5 min)"
    )
    configuration: StrictFloat | None = Field(
        default=None, gt=0, description="Configuration error: alias update (002: < 5 min)"
    )
    infrastructure: StrictFloat | None = Field(
        default=None, gt=0, description="Infrastructure issue: Terraform (002: < 15 min)"
    )
    full_deployment: StrictFloat | None = Field(
        default=None, gt=0, description="Full deployment failure: both workflows (002: < 30 min)"
    )
    database: StrictFloat | None = Field(
        default=None, gt=0, description="Database issue: restore from PITR (002: < 60 min)"
    )
    ref: str = ""

    def minutes(self, kind: str) -> float | None:
        """The objective for ``kind`` (``lambda_code``, ``infrastructure``, ...), or None when the inventory gives
        none."""
        if kind not in RTO_KINDS:
            raise KeyError(f"unknown recovery kind {kind!r}; known: {', '.join(RTO_KINDS)}")
        minutes: float | None = getattr(self, kind)
        return minutes


RTO_KINDS = ("lambda_code", "configuration", "infrastructure", "full_deployment", "database")


class LeaseSpec(Strict):
    """The operation lease (harness/lease.py): where it is held and for how long (not a runbook fact)."""

    table: str | None = None  # one of the inventory's tables; default: the deployments table (001 §6.3.2, 002 §4)
    duration_s: StrictFloat = Field(default=120.0, gt=0)  # a holder that stops renewing loses it after this long
    renew_every_s: StrictFloat = Field(default=30.0, gt=0)  # renewed by the running operation this often
    ref: str = ""


class RehearsalSpec(Strict):
    """How the embedded emulator seeds a rehearsal copy (not a runbook fact)."""

    versions_per_function: StrictInt = Field(default=3, ge=2)
    sample_items: StrictInt = Field(default=5, ge=1)
    state_versions: StrictInt = Field(default=3, ge=2)
    execution_role: str = "harness-rehearsal-lambda-role"
    defaults: dict[str, str] = {}


class InventoryFile(Strict):
    inventory: Meta
    environments: dict[str, EnvSpec] = Field(min_length=1)
    tenants: list[str] = []
    lambda_: LambdaSpec = Field(alias="lambda")
    dynamodb: DynamoSpec = DynamoSpec()
    s3: S3Spec = S3Spec()
    terraform: TerraformSpec | None = None
    ecs: EcsSpec | None = None
    api: ApiSpec | None = None
    ssm: SsmSpec | None = None
    cloudwatch: CloudWatchSpec = CloudWatchSpec()
    amplify: AmplifySpec | None = None
    cloudformation: CloudFormationSpec | None = None
    thresholds: Thresholds = Thresholds()
    gates: dict[str, GateSpec] = {}
    auto_rollback: AutoRollbackSpec = AutoRollbackSpec()
    approvals: dict[str, ApprovalRule] = {}
    maintenance_windows: list[WindowSpec] = []
    rehearsal: RehearsalSpec = RehearsalSpec()
    lease: LeaseSpec = LeaseSpec()
    rto: RtoSpec | None = None  # 002 "Rollback Scenarios & Recovery Times" (game-day drills assert it)
    api_quotas: ApiQuotasSpec = ApiQuotasSpec()

    @model_validator(mode="after")
    def _cross_refs(self) -> "InventoryFile":
        known = set(quota_groups())
        for name, env in self.environments.items():
            if env.promotes_to and env.promotes_to not in self.environments:
                raise ValueError(f"environments.{name}.promotes_to names unknown environment {env.promotes_to!r}")
            for where, names in (
                ("api_quotas.quotas", self.api_quotas.quotas),
                (f"environments.{name}.api_quotas", env.api_quotas),
            ):
                unknown = sorted(set(names) - known)
                if unknown:
                    raise ValueError(
                        f"{where}: unknown API quota {', '.join(unknown)}; known: {', '.join(sorted(known))}"
                    )
        return self
