"""The catalogue: every checklist row the harness can verify, by slug (a public interface: keep
slugs stable), with its runbook reference, pass condition, and the inventory items it runs on.

Three procedures group the rows as the runbooks do:
  post-rollback    000 §7 (table §7.4) and §6.7
  post-deployment  003 §7 and its validation checklist
  pre-promotion    001 §3.1 (DEV -> SIT) and §4.1 (SIT -> PROD), on the source environment
Rows are ordered so that passive reads (metrics, logs) come before checks that invoke the
functions or the API, whose own traffic would otherwise show up in the windows being read.

Over 450 lines because it is a data table: one entry per checklist row, and splitting it would scatter
the runbook's row order across files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from harness.checks import (
    amplify_checks,
    api_checks,
    cloudformation_checks,
    cloudwatch_checks,
    dynamodb_checks,
    ecs_checks,
    lambda_checks,
    logs_checks,
    metric_checks,
    s3_checks,
    terraform_checks,
    trigger_checks,
)
from harness.checks.context import CheckContext, Row
from harness.checks.result import CheckResult
from harness.inventory.model import Environment

CheckFn = Callable[[CheckContext, Row], CheckResult]

RUNBOOKS = {
    "000": "000 Rollback Runbook (BBWS CPP, RB-003)",
    "001": "001 Environment Promotion Runbook (BBWS)",
    "003": "003 Deployment Runbook: S3 and DynamoDB (BBWS)",
    "004": "004 Production Rollback Procedures (PropIE)",
}
PROCEDURES = {
    "post-rollback": ("000", "§7 Post-Rollback Verification"),
    "post-deployment": ("003", "§7 Post-Deployment Validation"),
    "pre-promotion": ("001", "§3.1 / §4.1 Pre-Promotion Verification"),
    # 004's own rows: its triggers, blue/green and stack state. A procedure of its own, not rows of
    # post-rollback: 000 §7.4's Lambda rows are not 004's checklist, and bbws has no Amplify or triggers.
    "propie-rollback": ("004", "Rollback verification (Blue/Green, Infrastructure, Automated Rollback Triggers)"),
}


@dataclass(frozen=True)
class CheckSpec:
    """One slug: what it checks, where the runbook asks for it, and how it is judged."""

    slug: str
    procedure: str
    title: str
    ref: str
    section: str
    severity: str  # Allure severity: blocker, critical, normal, minor, trivial
    passes_when: str
    fn: CheckFn
    rows: Callable[[Environment], list[tuple[str, object]]]  # (resource, inventory item)
    needs: tuple[str, ...] = ()  # target capabilities (harness.targets.capabilities); missing -> SKIP
    # Rows that make a per-resource call the other rows need not wait for: the API quota it waits on when the
    # target paces its calls (harness/pacing.py), or "lambda:invoke" (invocations: bounded by concurrency, not
    # a rate). When pacing, the runner reads such rows in a lane of their own, beside the other rows.
    lane: str | None = None

    @property
    def runbook(self) -> str:
        return RUNBOOKS[PROCEDURES[self.procedure][0]]


# -- which inventory items each slug runs on -------------------------------------------------------


def _functions(env: Environment) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [(f.name, f.name) for f in env.functions]
    rows += [(d.prefix, d.prefix) for d in env.discovery if d.prefix not in {f.name for f in env.functions}]
    return rows


def _api_paths(health: bool) -> Callable[[Environment], list[tuple[str, object]]]:
    def rows(env: Environment) -> list[tuple[str, object]]:
        if env.api is None:
            return []
        return [(p, p) for p in env.api.paths if api_checks.is_health_path(p) == health]

    return rows


def _tables(pred: Callable[..., bool]) -> Callable[[Environment], list[tuple[str, object]]]:
    return lambda env: [(t.name, t) for t in env.tables if pred(t)]


def _buckets(pred: Callable[..., bool]) -> Callable[[Environment], list[tuple[str, object]]]:
    return lambda env: [(b.name, b) for b in env.buckets if pred(b)]


def _ecs(env: Environment) -> list[tuple[str, object]]:
    return [(s, s) for s in env.ecs.services] if env.ecs else []


def _states(env: Environment) -> list[tuple[str, object]]:
    return [(k, k) for k in env.terraform.state_keys] if env.terraform else []


def _alarm_prefix(env: Environment) -> list[tuple[str, object]]:
    return [(f"{env.alarm_prefix}*", env.alarm_prefix)] if env.alarm_prefix else []


def _gated(env: Environment) -> list[tuple[str, object]]:
    return _functions(env) if env.name in env.gates else []


def _all(*_: object) -> bool:
    return True


def _trigger(key: str) -> Callable[[Environment], list[tuple[str, object]]]:
    def rows(env: Environment) -> list[tuple[str, object]]:
        trigger = env.trigger(key)
        return [(trigger.resource, trigger)] if trigger else []

    return rows


def _amplify_prefixes(env: Environment) -> list[tuple[str, object]]:
    amp = env.amplify
    return [(amplify_checks.hostname(amp, p), p) for p in (amp.domain_prefix, *amp.other_prefixes)] if amp else []


def _amplify_site(env: Environment) -> list[tuple[str, object]]:
    return [(amplify_checks.hostname(env.amplify, env.amplify.domain_prefix), env.amplify)] if env.amplify else []


def _cfn_stacks(env: Environment) -> list[tuple[str, object]]:
    return [(s, s) for s in env.cfn_stacks]


# -- the catalogue ---------------------------------------------------------------------------------

CATALOGUE: tuple[CheckSpec, ...] = (
    # 000 §7: post-rollback verification (table §7.4), passive reads first
    CheckSpec(
        "lambda-alias-version",
        "post-rollback",
        "Lambda alias version",
        "000 §7.1, §7.4",
        "§7.1 Lambda Verification",
        "critical",
        "alias exists, on a published version (not $LATEST), no weighted routing, equal to the expected version when "
        "known "
        "(--expect-version fn=VER, else the newest deployment or rollback record that applies to the function, else "
        "SSM "
        "deployed-version; otherwise observed says 'expected version unknown')",
        lambda_checks.check_alias_version,
        _functions,
        lane="lambda:control-plane",  # one GetAlias per function (Lambda quotas: 15/s across the control plane)
    ),
    CheckSpec(
        "error-rate",
        "post-rollback",
        "Error rate",
        "000 §7.1 step 3, §7.4",
        "§7.4 Verification Checklist",
        "critical",
        "Errors / Invocations over the last verification_window_minutes < verification_error_rate_max_pct (1 %); no "
        "invocations and no "
        "errors: WARN (Lambda publishes nothing for an idle function); errors without invocations: FAIL; invocations "
        "without an "
        "Errors datapoint or an incomplete GetMetricData answer: ERROR",
        metric_checks.check_error_rate,
        _functions,
    ),
    CheckSpec(
        "latency-p95",
        "post-rollback",
        "Latency P95",
        "000 §7.4",
        "§7.4 Verification Checklist",
        "normal",
        "Lambda Duration p95 over the window < verification_latency_p95_max_s (3 s); no invocations: WARN; "
        "invocations without "
        "Duration datapoints or an incomplete answer: ERROR",
        metric_checks.check_latency_p95,
        _functions,
        needs=("percentiles",),
    ),
    CheckSpec(
        "log-errors",
        "post-rollback",
        "Log errors",
        "000 §7.4",
        "§7.4 Verification Checklist",
        "normal",
        "no ERROR line in /aws/lambda/<fn> during the window; missing log group: WARN if the function had no "
        "invocations in the "
        "window, FAIL if it had",
        logs_checks.check_log_errors,
        _functions,
    ),
    CheckSpec(
        "dynamodb-reads",
        "post-rollback",
        "DynamoDB reads",
        "000 §7.4",
        "§7.4 Verification Checklist",
        "critical",
        "a sampled item is read back by a key query (empty table: FAIL, no data accessible)",
        dynamodb_checks.check_reads,
        _tables(_all),
    ),
    CheckSpec(
        "ecs-tasks",
        "post-rollback",
        "ECS tasks",
        "000 §7.3, §7.4",
        "§7.3 Infrastructure Verification",
        "critical",
        "service ACTIVE and runningCount == desiredCount > 0",
        ecs_checks.check_ecs_tasks,
        _ecs,
        needs=("ecs",),
    ),
    CheckSpec(
        "terraform-state",
        "post-rollback",
        "Terraform state",
        "000 §7.3, §5.2, §5.3",
        "§7.3 Infrastructure Verification",
        "normal",
        "state object exists and parses as Terraform state (integer version and serial, non-empty lineage); no lock "
        "older than "
        "terraform.lock_max_age_minutes; a fresh lock or one of unknown age: WARN (FAIL when "
        "terraform.forbid_lock_during_verification); "
        "lock-table md5 Digest, when stored, matches",
        terraform_checks.check_terraform_state,
        _states,
    ),
    CheckSpec(
        "dynamodb-pitr",
        "post-rollback",
        "DynamoDB PITR",
        "000 §6.7",
        "§6.7 Tables Requiring PITR",
        "critical",
        "PointInTimeRecoveryStatus ENABLED; disabled on a required table: FAIL, on a recommended one: WARN",
        dynamodb_checks.check_pitr,
        _tables(lambda t: t.pitr in ("required", "recommended")),
    ),
    CheckSpec(
        "health-endpoint",
        "post-rollback",
        "Health endpoint",
        "000 §7.1 step 2, §4.2.5, §7.4",
        "§7.1 Lambda Verification",
        "critical",
        "invoking fn:alias with the /health payload returns statusCode 200 (auto_rollback.health_status), no "
        "FunctionError, and a "
        "body that declares no failing status",
        lambda_checks.check_health_endpoint,
        _functions,
        needs=("lambda-invoke",),
        lane="lambda:invoke",  # one /health invoke per function: in flight beside the other rows
    ),
    CheckSpec(
        "api-health",
        "post-rollback",
        "API health",
        "000 §7.2, §7.4",
        "§7.2 API Endpoint Verification",
        "critical",
        "GET <api>/…/health -> HTTP 200 with a JSON body (null included) that declares no failing status "
        "(unhealthy/down/fail/error)",
        api_checks.check_api_health,
        _api_paths(health=True),
    ),
    CheckSpec(
        "api-responses",
        "post-rollback",
        "API responses",
        "000 §7.2, §7.4",
        "§7.2 API Endpoint Verification",
        "normal",
        "GET each other inventory path -> HTTP 200 with a valid JSON body (null included)",
        api_checks.check_api_responses,
        _api_paths(health=False),
    ),
    # 003 §7: post-deployment validation
    CheckSpec(
        "s3-versioning",
        "post-deployment",
        "S3 versioning enabled",
        "003 §7",
        "§7 S3 Bucket Validation",
        "critical",
        "get-bucket-versioning Status Enabled",
        s3_checks.check_versioning,
        _buckets(lambda b: b.versioning),
    ),
    CheckSpec(
        "s3-public-access-block",
        "post-deployment",
        "S3 block public access",
        "003 §7",
        "§7 S3 Bucket Validation",
        "blocker",
        "all four public access block flags true",
        s3_checks.check_public_access_block,
        _buckets(lambda b: b.public_access_block),
    ),
    CheckSpec(
        "s3-encryption",
        "post-deployment",
        "S3 encryption enabled",
        "003 §7",
        "§7 S3 Bucket Validation",
        "critical",
        "default encryption with the inventory's algorithm",
        s3_checks.check_encryption,
        _buckets(lambda b: bool(b.encryption)),
    ),
    CheckSpec(
        "s3-replication",
        "post-deployment",
        "Cross-region replication (PROD)",
        "003 §7 PROD-Specific Validation",
        "§7 PROD-Specific Validation",
        "critical",
        "an Enabled rule to the failover bucket covers the whole bucket, or the inventory's replication.prefix (no "
        "other prefix or "
        "tag filter); the destination exists and is versioned",
        s3_checks.check_replication,
        _buckets(lambda b: bool(b.replication_destination)),
    ),
    CheckSpec(
        "dynamodb-table-active",
        "post-deployment",
        "DynamoDB tables created",
        "003 §7",
        "§7 DynamoDB Table Validation",
        "critical",
        "table exists with TableStatus ACTIVE",
        dynamodb_checks.check_table_active,
        _tables(_all),
    ),
    CheckSpec(
        "dynamodb-billing-mode",
        "post-deployment",
        "DynamoDB on-demand billing",
        "003 §7",
        "§7 DynamoDB Table Validation",
        "normal",
        "BillingModeSummary.BillingMode equals the inventory's billing_mode (PAY_PER_REQUEST)",
        dynamodb_checks.check_billing_mode,
        _tables(lambda t: bool(t.billing_mode)),
    ),
    CheckSpec(
        "cloudwatch-alarms",
        "post-deployment",
        "No alarms firing",
        "003 §7, 001 §4.4",
        "§7 Extended Validation",
        "critical",
        "alarms named <alarm_prefix>* exist and none is in ALARM; no such alarm: WARN",
        cloudwatch_checks.check_alarms,
        _alarm_prefix,
    ),
    # write-read checks write only their own uniquely named object/item and always delete it
    CheckSpec(
        "s3-write-read",
        "post-deployment",
        "S3 write/read",
        "003 §7",
        "§7 S3 Bucket Validation",
        "critical",
        "a uniquely named test object is written, read back identical, and that version deleted; throttled after "
        "retries: ERROR",
        s3_checks.check_write_read,
        _buckets(_all),
    ),
    CheckSpec(
        "dynamodb-write-read",
        "post-deployment",
        "DynamoDB read/write",
        "003 §7",
        "§7 DynamoDB Table Validation",
        "critical",
        "a uniquely keyed test item (inventory key schema) is put (only if absent), read back consistently, deleted; "
        "throttled: ERROR",
        # The deployments table is an audit log other tools read for "latest record": no test items there.
        dynamodb_checks.check_write_read,
        _tables(lambda t: t.purpose != "deployments"),
    ),
    # 001 §3.1 / §4.1: pre-promotion gates on the source environment
    CheckSpec(
        "source-errors",
        "pre-promotion",
        "Source error count",
        "001 §2.1, §3.1.1, §4.1.1",
        "§2.1 Quality Gates",
        "blocker",
        "Errors over the gate's lookback within the gate (DEV < 10 in 1 h, SIT <= 5 in 24 h); errors without "
        "invocations: FAIL; no "
        "invocations and no errors: WARN; invocations without an Errors datapoint or an incomplete answer: ERROR",
        metric_checks.check_source_errors,
        _gated,
    ),
    CheckSpec(
        "source-throttles",
        "pre-promotion",
        "Source throttles",
        "001 §2.1, §3.1.1, §4.1.1",
        "§2.1 Quality Gates",
        "blocker",
        "Throttles over the gate's lookback <= max_throttles (0); no Throttles datapoint: WARN (not measured); "
        "incomplete answer: ERROR",
        metric_checks.check_source_throttles,
        _gated,
    ),
    CheckSpec(
        "source-health",
        "pre-promotion",
        "Source health",
        "001 §3.1.1, §7.1",
        "§3.1.1 Verify Environment Health",
        "blocker",
        "fn:alias State Active, LastUpdateStatus Successful, /health statusCode 200 and a body that declares no "
        "failing status",
        lambda_checks.check_source_health,
        _gated,
        needs=("lambda-invoke",),
    ),
    # 004: automated rollback triggers (passive metric reads first), blue/green, infrastructure
    CheckSpec(
        "trigger-5xx-rate",
        "propie-rollback",
        "5XX error rate",
        "004 Automated Rollback Triggers",
        "Automated Rollback Triggers",
        "blocker",
        "5XX errors / requests over the trigger's window (5 min) <= auto_rollback.error_rate_5xx_pct (5 %); above: "
        "FAIL (004: automatic "
        "rollback); no requests: WARN; requests without a 5XXError datapoint or an incomplete answer: ERROR",
        trigger_checks.check_5xx_rate,
        _trigger("error_rate_5xx"),
    ),
    CheckSpec(
        "trigger-latency-p99",
        "propie-rollback",
        "Latency (p99)",
        "004 Automated Rollback Triggers",
        "Automated Rollback Triggers",
        "normal",
        "p99 latency over the window (5 min) <= auto_rollback.latency_p99_ms (3000 ms); above: WARN (004: alert, "
        "manual decision); "
        "no datapoint: WARN; incomplete answer: ERROR",
        trigger_checks.check_latency_p99,
        _trigger("latency_p99"),
        needs=("percentiles",),
    ),
    CheckSpec(
        "trigger-auth-failures",
        "propie-rollback",
        "Authentication failures",
        "004 Automated Rollback Triggers",
        "Automated Rollback Triggers",
        "normal",
        "authentication failures over the window (5 min) <= auto_rollback.auth_failures (20); above: WARN (004: "
        "alert, manual "
        "decision); no datapoint: WARN; incomplete answer: ERROR",
        trigger_checks.check_auth_failures,
        _trigger("auth_failures"),
    ),
    CheckSpec(
        "trigger-memory",
        "propie-rollback",
        "Memory usage",
        "004 Automated Rollback Triggers",
        "Automated Rollback Triggers",
        "normal",
        "maximum memory use over the window (5 min) <= auto_rollback.memory_pct (85 %); above: WARN (004: alert, "
        "manual decision); no "
        "datapoint: WARN; incomplete answer: ERROR",
        trigger_checks.check_memory,
        _trigger("memory"),
    ),
    CheckSpec(
        "amplify-domain-branch",
        "propie-rollback",
        "Domain serves the production branch",
        "004 Command Line Rollback",
        "Blue/Green Deployment Rollback",
        "blocker",
        "get-domain-association: each of the domain's prefixes maps to amplify.branch (blue), the domain is "
        "AVAILABLE (UPDATING: WARN) "
        "and the branch serves a successful build (activeJobId)",
        amplify_checks.check_domain_branch,
        _amplify_prefixes,
        needs=("amplify",),
    ),
    CheckSpec(
        "amplify-last-job",
        "propie-rollback",
        "Serving branch's latest job",
        "004 Rollback Amplify Deployment",
        "Manual Rollback Procedures",
        "critical",
        "the newest job (list-jobs) of the branch the domain serves is SUCCEED; FAILED or CANCELLED: FAIL; still "
        "running: WARN",
        amplify_checks.check_last_job,
        _amplify_site,
        needs=("amplify",),
    ),
    CheckSpec(
        "cloudformation-stack-stable",
        "propie-rollback",
        "Stack stable",
        "004 Rollback Infrastructure Changes",
        "Manual Rollback Procedures",
        "critical",
        "CREATE/UPDATE/IMPORT_COMPLETE, or UPDATE_ROLLBACK_COMPLETE after an operator's RollbackStack, on the "
        "expected template when "
        "known (--expect-version stack=RELEASE, the Description); automatic rollback of a failed update or "
        "*_IN_PROGRESS: WARN; "
        "*_FAILED, ROLLBACK_COMPLETE, missing or another template: FAIL",
        cloudformation_checks.check_stack_stable,
        _cfn_stacks,
        needs=("cloudformation-states",),
    ),
)

BY_SLUG: dict[str, CheckSpec] = {c.slug: c for c in CATALOGUE}


@dataclass(frozen=True)
class PlannedRow:
    """A row of a procedure: the spec and the row the check function receives."""

    spec: CheckSpec
    row: Row

    @property
    def id(self) -> str:
        return self.row.id


def rows_for(env: Environment, procedure: str | None = None, slugs: tuple[str, ...] | None = None) -> list[PlannedRow]:
    """Every row of ``procedure`` (or of all procedures) for ``env``, in catalogue order."""
    out = []
    for spec in CATALOGUE:
        if (procedure and spec.procedure != procedure) or (slugs and spec.slug not in slugs):
            continue
        for resource, item in spec.rows(env):
            out.append(PlannedRow(spec, Row(spec.slug, resource, spec.ref, item)))
    return out


def feature_of(spec: CheckSpec, env: Environment) -> str:
    """The Allure feature: the runbook section (pre-promotion: §3.1 from DEV, §4.1 from SIT)."""
    if spec.procedure == "pre-promotion":
        gate = env.gates.get(env.name)
        return f"{gate.ref or spec.section} ({env.name} -> {env.promotes_to})" if gate else spec.section
    return spec.section
