"""The catalogue as README tables (``python -m harness.checks.catalogue_markdown``); a test keeps the README in step.

Slugs are a public interface: the README lists every one with its runbook reference, what it runs on
and when it passes, generated from the catalogue itself so the two cannot drift apart.
"""

from __future__ import annotations

from harness.checks.catalogue import CATALOGUE, PROCEDURES, RUNBOOKS
from harness.markdown import cell

# What each slug's rows are, in words (the catalogue's row functions, for readers).
RUNS_ON = {
    "lambda-alias-version": "each function (or discovery prefix)",
    "error-rate": "each function",
    "latency-p95": "each function",
    "log-errors": "each function's log group",
    "dynamodb-reads": "each table",
    "ecs-tasks": "each ECS service",
    "terraform-state": "each state key",
    "dynamodb-pitr": "tables with pitr required/recommended",
    "health-endpoint": "each function (`fn:alias`)",
    "api-health": "API paths ending in /health",
    "api-responses": "other API paths",
    "s3-versioning": "buckets with versioning",
    "s3-public-access-block": "buckets with public_access_block",
    "s3-encryption": "buckets with encryption",
    "s3-replication": "buckets with replication (PROD)",
    "dynamodb-table-active": "each table",
    "dynamodb-billing-mode": "tables with billing_mode",
    "cloudwatch-alarms": "the alarm prefix",
    "s3-write-read": "each bucket",
    "dynamodb-write-read": "each table except the deployments table",
    "source-errors": "each function of a source env",
    "source-throttles": "each function of a source env",
    "source-health": "each function of a source env",
    "trigger-5xx-rate": "the API (`auto_rollback.sources.error_rate_5xx`)",
    "trigger-latency-p99": "the API (`auto_rollback.sources.latency_p99`)",
    "trigger-auth-failures": "the auth metric (`auto_rollback.sources.auth_failures`)",
    "trigger-memory": "the resolver function (`auto_rollback.sources.memory`)",
    "amplify-domain-branch": "each prefix of the Amplify domain",
    "amplify-last-job": "the branch the domain serves",
    "cloudformation-stack-stable": "each CloudFormation stack",
}


def markdown() -> str:
    """One table per procedure: slug, runbook ref, runs on, passes when (and the capabilities it needs)."""
    out: list[str] = []
    for procedure, (runbook, section) in PROCEDURES.items():
        specs = [c for c in CATALOGUE if c.procedure == procedure]
        if not specs:
            continue
        out += [
            f"#### {procedure}: {RUNBOOKS[runbook]} {section}",
            "",
            "| slug | runbook ref | runs on | passes when |",
            "|---|---|---|---|",
        ]
        for c in specs:
            needs = f" (needs: {', '.join(c.needs)})" if c.needs else ""
            out.append(f"| `{c.slug}` | {cell(c.ref)} | {cell(RUNS_ON[c.slug])} | {cell(c.passes_when)}{needs} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
