"""Amplify rows (004 Blue/Green Deployment Rollback): which branch each domain prefix serves, and whether
the serving branch's latest job succeeded.

Read the way 004 verifies a switch-back ("aws amplify get-domain-association"), then one step further to
what users get: the branch a prefix maps to serves the build of its ``activeJobId`` (GetBranch, GetJob).
A domain still UPDATING has not propagated the switch: WARN, read again later. UpdateDomainAssociation
replaces the whole sub-domain list, so a prefix missing from the association (004's one-prefix command
drops the others) is a FAIL naming it.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from harness import aws
from harness.checks.context import CheckContext, Row
from harness.checks.result import CheckResult, Verdict
from harness.inventory.model import Amplify

IN_PROGRESS = ("CREATED", "PENDING", "PROVISIONING", "RUNNING", "CANCELLING")


def hostname(amp: Amplify, prefix: str) -> str:
    """``www.prop-ie-app.com`` for a prefix, the bare domain for the apex ("")."""
    return f"{prefix}.{amp.domain}" if prefix else amp.domain


def _amplify(ctx: CheckContext) -> Amplify:
    amp = ctx.env.amplify
    if amp is None:
        raise LookupError(f"inventory {ctx.env.inventory} has no [amplify]")
    return amp


def association(ctx: CheckContext) -> dict[str, Any] | None:
    """GetDomainAssociation of the inventory's domain (None when the domain is not associated)."""
    amp = _amplify(ctx)
    key = f"amplify:domain:{amp.domain}"
    if key not in ctx.cache:
        resp = aws.get_or_none(
            ctx.client("amplify").get_domain_association, "NotFoundException", appId=amp.app_id, domainName=amp.domain
        )
        ctx.cache[key] = resp["domainAssociation"] if resp else None
    found: dict[str, Any] | None = ctx.cache[key]
    return found


def branch_of(assoc: dict[str, Any] | None, prefix: str) -> str | None:
    """The branch a prefix maps to in the association (None: not mapped)."""
    for sub in (assoc or {}).get("subDomains", []):
        if sub["subDomainSetting"]["prefix"] == prefix:
            return str(sub["subDomainSetting"]["branchName"])
    return None


def serving_job(ctx: CheckContext, branch: str) -> dict[str, Any] | None:
    """The JobSummary of the build ``branch`` serves (its activeJobId), or None when it serves none."""
    amp = _amplify(ctx)
    client = ctx.client("amplify")
    active = client.get_branch(appId=amp.app_id, branchName=branch)["branch"].get("activeJobId")
    if not active:
        return None
    summary: dict[str, Any] = client.get_job(appId=amp.app_id, branchName=branch, jobId=active)["job"]["summary"]
    return summary


def describe_job(job: dict[str, Any]) -> str:
    """``job 5 SUCCEED (commit 16f18cd0, "release 1.0.3")``."""
    return (
        f"job {job['jobId']} {job['status']} (commit {str(job.get('commitId', ''))[:8]}, "
        f'"{job.get("commitMessage", "")}")'
    )


def check_domain_branch(ctx: CheckContext, row: Row) -> CheckResult:
    """The domain prefix maps to the inventory's production (blue) branch, which serves a build."""
    amp = _amplify(ctx)
    prefix = str(row.item)
    expected = f"{hostname(amp, prefix)} -> branch {amp.branch} (domain AVAILABLE), serving a successful build"
    assoc = association(ctx)
    if assoc is None:
        return row.result(
            expected, f"domain {amp.domain} is not associated with app {amp.app_id}", Verdict.FAIL, app=amp.app_id
        )
    evidence: dict[str, Any] = {
        "app": amp.app_id,
        "domainStatus": assoc.get("domainStatus"),
        "subDomains": assoc.get("subDomains", []),
    }
    branch = branch_of(assoc, prefix)
    if branch is None:
        observed = (
            f"prefix {prefix!r} is not in the association (UpdateDomainAssociation replaces the whole sub-domain list)"
        )
        return row.result(expected, observed, Verdict.FAIL, **evidence)
    if branch != amp.branch:
        return row.result(expected, f"{hostname(amp, prefix)} -> branch {branch}", Verdict.FAIL, **evidence)
    job = serving_job(ctx, branch)
    evidence["serving_job"] = job
    if job is None:
        return row.result(expected, f"branch {branch} serves no build (no successful job)", Verdict.FAIL, **evidence)
    observed = f"{hostname(amp, prefix)} -> branch {branch}, serving {describe_job(job)}"
    if assoc.get("domainStatus") != "AVAILABLE":
        return row.result(
            expected,
            f"{observed}; domain {assoc.get('domainStatus')}: the switch is still propagating",
            Verdict.WARN,
            **evidence,
        )
    return row.result(expected, observed, Verdict.PASS, **evidence)


def check_last_job(ctx: CheckContext, row: Row) -> CheckResult:
    """The latest job of the branch the domain serves succeeded (ListJobs, newest first)."""
    amp = _amplify(ctx)
    assoc = association(ctx)
    branch = branch_of(assoc, amp.domain_prefix) or amp.branch
    expected = f"the latest job of the branch {hostname(amp, amp.domain_prefix)} serves is SUCCEED"
    try:
        jobs = ctx.client("amplify").list_jobs(appId=amp.app_id, branchName=branch, maxResults=1)["jobSummaries"]
    except ClientError as exc:
        if not aws.is_not_found(exc, "NotFoundException"):
            raise
        return row.result(
            expected,
            f"branch {branch} not found: {aws.error_message(exc)}",
            Verdict.FAIL,
            app=amp.app_id,
            branch=branch,
        )
    evidence: dict[str, Any] = {
        "app": amp.app_id,
        "branch": branch,
        "from_association": assoc is not None,
        "latest": jobs[0] if jobs else None,
    }
    if not jobs:
        return row.result(expected, f"branch {branch} has no job", Verdict.FAIL, **evidence)
    latest = jobs[0]
    observed = f"branch {branch}: latest {describe_job(latest)}"
    if latest["status"] == "SUCCEED":
        return row.result(expected, observed, Verdict.PASS, **evidence)
    if latest["status"] in IN_PROGRESS:
        return row.result(expected, f"{observed}: still in progress", Verdict.WARN, **evidence)
    return row.result(expected, observed, Verdict.FAIL, **evidence)
