"""Amplify rollbacks (004 "Blue/Green Deployment Rollback" and "Rollback Amplify Deployment"), plan then apply.

- ``switch_back``: every inventory prefix of the domain back to the blue (production) branch, verified by
  reading the association and the build the branch serves (004 Command Line Rollback steps 2-3). The
  whole sub-domain list is sent: UpdateDomainAssociation *replaces* it, so 004's one-prefix command would
  drop the others (www). The domain's previous settings are the checkpoint, restored if verification fails.
- ``redeploy_last_good``: the branch's last successful job *before* the one it serves now, rebuilt. 004
  picks "the newest job with status SUCCEED" and passes it to start-deployment (seed defect 7): a bad
  release builds fine, so that is usually the bad release itself, and StartDeployment is only for
  manually deployed apps. For a repository-connected app the harness starts a RELEASE job of the good
  job's commit (StartJob); for a manual app, StartDeployment of the good job's sourceUrl. The job is
  waited for on the target's clock (GetJob) and verified as the build the branch now serves.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from harness import aws
from harness.actions.audit_record import audit, new_plan
from harness.actions.base import COMPLETE, FAILED, ActionResult, Change, Plan, execute
from harness.actions.guards import Authority, refusal
from harness.inventory.model import Amplify
from harness.targets.base import TargetLike

RULE = "prod-rollback"  # 004 gives no approval rule; the inventory's prod-rollback approvers sign it
POLL_S = 15.0  # how often a wait reads the job or the domain again (harness setting, on the target's clock)
JOB_TIMEOUT_S = 30 * 60.0  # give up waiting for a build after this long
DOMAIN_TIMEOUT_S = 30 * 60.0  # ... or for a domain update to propagate
RUNBOOK_QUERY_MAX = 10  # 004: list-jobs --max-results 10
FINAL = ("SUCCEED", "FAILED", "CANCELLED")


def _amplify(target: TargetLike) -> Amplify:
    amp = target.env.amplify
    if amp is None:
        raise LookupError(f"inventory {target.env.inventory} has no [amplify]")
    return amp


def hostname(amp: Amplify, prefix: str) -> str:
    """``www.prop-ie-app.com`` for a prefix, the bare domain for the apex."""
    return f"{prefix}.{amp.domain}" if prefix else amp.domain


# -- blue/green switch-back ---------------------------------------------------------------------------


def plan_switch_back(target: TargetLike, authority: Authority) -> Plan:
    """Read the domain association; plan every inventory prefix onto the blue branch (reads only)."""
    amp = _amplify(target)
    plan = new_plan("amplify-switch-back", target, authority, ("amplify-domain-branch", "amplify-last-job"))
    plan.refusal = refusal(target, authority, rule=RULE)
    if plan.refused:
        return plan
    client = target.client("amplify")
    found = aws.get_or_none(client.get_domain_association, "NotFoundException", appId=amp.app_id, domainName=amp.domain)
    if found is None:
        plan.refusal = f"domain {amp.domain} is not associated with app {amp.app_id}: nothing to switch back"
        return plan
    assoc = found["domainAssociation"]
    if assoc.get("domainStatus") == "UPDATING":
        plan.refusal = (
            f"domain {amp.domain} is UPDATING: Amplify refuses another update until it settles; run again later"
        )
        return plan
    blue = client.get_branch(appId=amp.app_id, branchName=amp.branch)["branch"]
    if not blue.get("activeJobId"):
        plan.refusal = f"branch {amp.branch} serves no build: switching back would serve nothing (redeploy it first)"
        return plan
    current = [dict(s["subDomainSetting"]) for s in assoc.get("subDomains", [])]
    wanted = {amp.domain_prefix, *amp.other_prefixes}
    settings = [dict(s, branchName=amp.branch) if s["prefix"] in wanted else dict(s) for s in current]
    settings += [{"prefix": p, "branchName": amp.branch} for p in sorted(wanted - {s["prefix"] for s in current})]
    before = {s["prefix"]: s["branchName"] for s in current}
    for s in settings:
        if before.get(s["prefix"]) != s["branchName"]:
            plan.changes.append(
                Change(
                    f"amplify:{amp.app_id}:domain/{amp.domain}",
                    f"{hostname(amp, s['prefix'])} branch",
                    before.get(s["prefix"]),
                    s["branchName"],
                    note="004 Command Line Rollback step 2",
                )
            )
    plan.details.update(
        app=amp.app_id,
        domain=amp.domain,
        branch=amp.branch,
        settings=settings,
        checkpoint=current,
        serving_before={p: b for p, b in before.items()},
        blue_job=blue.get("activeJobId"),
    )
    plan.notes.append(
        f"UpdateDomainAssociation replaces the whole sub-domain list: the harness sends all {len(settings)} prefixes "
        f"({', '.join(repr(s['prefix']) for s in settings)}); 004's '--sub-domain-settings "
        f"prefix=,branchName={amp.branch}' alone would drop the others"
    )
    if not plan.changes:
        plan.notes.append(f"every prefix already maps to {amp.branch}: nothing to switch")
    return plan


def _wait_domain(target: TargetLike, amp: Amplify) -> dict[str, Any]:
    """Poll GetDomainAssociation on the target's clock until the domain is AVAILABLE again."""
    client, waited = target.client("amplify"), 0.0
    while True:
        assoc = client.get_domain_association(appId=amp.app_id, domainName=amp.domain)["domainAssociation"]
        if assoc.get("domainStatus") != "UPDATING" or waited >= DOMAIN_TIMEOUT_S:
            return assoc
        target.clock.sleep(POLL_S)
        waited += POLL_S


def apply_switch_back(target: TargetLike, plan: Plan) -> ActionResult:
    """Send the planned settings, wait for the domain, verify each prefix and the serving build."""
    amp = _amplify(target)
    result = ActionResult(plan, COMPLETE)
    if not plan.changes:
        result.message = "every prefix already on the blue branch: nothing changed"
        return result
    client = target.client("amplify")
    d = plan.details
    with audit(
        target,
        plan,
        resource=f"amplify:{amp.app_id}/{amp.domain}",
        from_version=str(d["serving_before"]),
        to_version=amp.branch,
    ) as trail:
        sent = ", ".join(f"{s['prefix']!r}->{s['branchName']}" for s in d["settings"])
        result.log(target.clock.now(), f"update-domain-association {amp.domain}: every prefix sent ({sent})")
        serving: dict[str, Any] | None = None
        try:
            client.update_domain_association(appId=amp.app_id, domainName=amp.domain, subDomainSettings=d["settings"])
            for c in plan.changes:
                result.changed(target.clock.now(), c)
            assoc = _wait_domain(target, amp)
            result.log(target.clock.now(), f"get-domain-association: {assoc.get('domainStatus')}")
            result.evidence["association"] = assoc
            problem, serving = _verify_switch(target, amp, assoc, d["settings"])
        except ClientError as exc:
            problem = f"{aws.error_code(exc)}: {aws.error_message(exc)}"
        if problem:
            _restore_domain(target, amp, d["checkpoint"], result)
            result.outcome, result.message = FAILED, f"switch-back not verified ({problem}); previous settings restored"
            trail.finish(FAILED)
    result.record = trail.record
    if result.outcome == COMPLETE and serving is not None:
        result.evidence["serving_job"] = serving
        result.message = (
            f'{amp.domain} back on {amp.branch}, serving job {serving["jobId"]} ("{serving.get("commitMessage", "")}")'
        )
    result.log(target.clock.now(), result.message)
    return result


def _verify_switch(
    target: TargetLike, amp: Amplify, assoc: dict[str, Any], settings: list[dict[str, str]]
) -> tuple[str | None, dict[str, Any] | None]:
    """(what is wrong, the serving job): every prefix as sent, domain AVAILABLE, blue serving a build."""
    if assoc.get("domainStatus") != "AVAILABLE":
        return f"domain still {assoc.get('domainStatus')} after {DOMAIN_TIMEOUT_S:.0f} s", None
    got = {s["subDomainSetting"]["prefix"]: s["subDomainSetting"]["branchName"] for s in assoc.get("subDomains", [])}
    wrong = sorted(s["prefix"] for s in settings if got.get(s["prefix"]) != s["branchName"])
    if wrong:
        return f"prefixes {wrong} do not map as sent: {got}", None
    client = target.client("amplify")
    active = client.get_branch(appId=amp.app_id, branchName=amp.branch)["branch"].get("activeJobId")
    if not active:
        return f"branch {amp.branch} serves no build", None
    return None, client.get_job(appId=amp.app_id, branchName=amp.branch, jobId=active)["job"]["summary"]


def _restore_domain(target: TargetLike, amp: Amplify, checkpoint: list[dict[str, str]], result: ActionResult) -> None:
    """Put the domain's previous settings back (best effort: a domain still UPDATING refuses it)."""
    try:
        _wait_domain(target, amp)
        target.client("amplify").update_domain_association(
            appId=amp.app_id, domainName=amp.domain, subDomainSettings=checkpoint
        )
        result.log(target.clock.now(), f"restored {amp.domain}'s previous settings")
    except ClientError as exc:
        result.log(target.clock.now(), f"could not restore {amp.domain}'s previous settings: {aws.error_message(exc)}")


def switch_back(target: TargetLike, authority: Authority, *, dry_run: bool = False) -> ActionResult:
    """Plan and apply the blue/green switch-back (004 Command Line Rollback)."""
    return execute(lambda: plan_switch_back(target, authority), lambda p: apply_switch_back(target, p), dry_run=dry_run)


# -- redeploy of the last good build ------------------------------------------------------------------


def runbook_pick(jobs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What 004's query picks: ``jobSummaries[?status==`SUCCEED`].jobId | [0]`` of the newest 10 jobs."""
    return next((j for j in jobs[:RUNBOOK_QUERY_MAX] if j["status"] == "SUCCEED"), None)


def last_good_before(jobs: list[dict[str, Any]], serving: str) -> dict[str, Any] | None:
    """The newest SUCCEED job older than the job now serving (ListJobs is newest first; ids count up)."""
    return next((j for j in jobs if j["status"] == "SUCCEED" and int(j["jobId"]) < int(serving)), None)


def plan_redeploy_last_good(
    target: TargetLike, authority: Authority, *, branch: str | None = None, job_id: str | None = None
) -> Plan:
    """Find the build before the one the branch serves (or the successful job ``job_id``) and how to redeploy it (reads
    only)."""
    amp = _amplify(target)
    branch = branch or amp.branch
    plan = new_plan("amplify-redeploy", target, authority, ("amplify-last-job", "amplify-domain-branch"))
    plan.refusal = refusal(target, authority, rule=RULE)
    if plan.refused:
        return plan
    client = target.client("amplify")
    app = client.get_app(appId=amp.app_id)["app"]
    serving = client.get_branch(appId=amp.app_id, branchName=branch)["branch"].get("activeJobId")
    jobs = list(aws.paginate(client, "list_jobs", "jobSummaries", appId=amp.app_id, branchName=branch))
    picked_by_runbook = runbook_pick(jobs)
    if not serving:
        plan.refusal = f"branch {branch} serves no build: there is no 'previous' to go back to"
        return plan
    running = [j for j in jobs if j["status"] not in FINAL and j["status"] != "CREATED"]
    if running:
        plan.refusal = (
            f"job {running[0]['jobId']} of {branch} is still {running[0]['status']}: wait for it (or stop it) first"
        )
        return plan
    if job_id is not None:
        good = next((j for j in jobs if j["jobId"] == job_id), None)
        if good is None or good["status"] != "SUCCEED":
            plan.refusal = (
                f"job {job_id} of {branch} is {'unknown' if good is None else good['status']}: only a "
                "successful build can be redeployed"
            )
            return plan
    else:
        good = last_good_before(jobs, serving)
    if good is None:
        plan.refusal = f"no successful job of {branch} before job {serving} (the one it serves): nothing to redeploy"
        return plan
    if job_id is None and jobs and jobs[0]["jobId"] != serving and jobs[0]["status"] == "FAILED":
        plan.notes.append(
            f"the newest job {jobs[0]['jobId']} FAILED and never served: {branch} still serves job {serving}; this "
            "goes back to the "
            f"build before it (job {good['jobId']}). If job {serving} is good, redeploy it instead (job_id / "
            f"--job-id {serving})"
        )
    manual = not app.get("repository")
    if manual and not good.get("sourceUrl"):
        plan.refusal = (
            f"{amp.app_id} is a manually deployed app and job {good['jobId']} has no sourceUrl: its artifact cannot be "
            "redeployed by the API; deploy that zip again with create-deployment/start-deployment"
        )
        return plan
    how = (
        ("start-deployment", {"sourceUrl": good["sourceUrl"], "sourceUrlType": good.get("sourceUrlType") or "ZIP"})
        if manual
        else (
            "start-job",
            {
                "jobType": "RELEASE",
                "commitId": good["commitId"],
                "commitMessage": good.get("commitMessage", ""),
                "jobReason": f"harness rollback: redeploy job {good['jobId']} (004 Rollback Amplify Deployment)",
            },
        )
    )
    plan.changes.append(
        Change(
            f"amplify:{amp.app_id}:branch/{branch}",
            "serving build",
            f"job {serving}",
            f"new job building job {good['jobId']}'s {'artifact' if manual else 'commit ' + good['commitId'][:8]}",
            kind="create",
            note="004 Rollback Amplify Deployment",
        )
    )
    plan.details.update(
        app=amp.app_id,
        branch=branch,
        serving=serving,
        good=good,
        method=how[0],
        call=how[1],
        manual=manual,
        runbook_pick=picked_by_runbook,
    )
    if picked_by_runbook and picked_by_runbook["jobId"] == serving:
        plan.notes.append(
            f"004's query (newest SUCCEED job) picks job {serving}, the build serving now: redeploying it changes "
            "nothing "
            f"(seed defect 7); the harness takes job {good['jobId']}, the last good one before it"
        )
    elif picked_by_runbook and picked_by_runbook["jobId"] != good["jobId"]:
        plan.notes.append(
            f"004's query picks job {picked_by_runbook['jobId']}; the last good job before the serving one is "
            f"{good['jobId']}"
        )
    if manual:
        plan.notes.append(f"{amp.app_id} is manually deployed: StartDeployment of job {good['jobId']}'s sourceUrl")
    else:
        plan.notes.append(
            f"{amp.app_id} is connected to {app.get('repository')}: StartDeployment is only for manually deployed apps "
            f"(seed defect 7), so the harness starts a RELEASE job of commit {good['commitId'][:8]} (StartJob)"
        )
    return plan


def wait_job(target: TargetLike, app_id: str, branch: str, job_id: str) -> dict[str, Any]:
    """Poll GetJob on the target's clock until the job finishes (or the timeout); returns its summary."""
    client, waited = target.client("amplify"), 0.0
    while True:
        summary = client.get_job(appId=app_id, branchName=branch, jobId=job_id)["job"]["summary"]
        if summary["status"] in FINAL or waited >= JOB_TIMEOUT_S:
            return summary
        target.clock.sleep(POLL_S)
        waited += POLL_S


def apply_redeploy_last_good(target: TargetLike, plan: Plan) -> ActionResult:
    """Start the planned job, wait for it, verify the branch now serves it (the good commit)."""
    d = plan.details
    client = target.client("amplify")
    result = ActionResult(plan, COMPLETE)
    good = d["good"]
    with audit(
        target,
        plan,
        resource=f"amplify:{d['app']}/{d['branch']}",
        from_version=f"job {d['serving']}",
        to_version=f"job {good['jobId']}",
    ) as trail:
        if d["method"] == "start-deployment":
            started = client.start_deployment(appId=d["app"], branchName=d["branch"], **d["call"])["jobSummary"]
        else:
            started = client.start_job(appId=d["app"], branchName=d["branch"], **d["call"])["jobSummary"]
        result.changed(target.clock.now(), plan.changes[0])
        result.log(
            target.clock.now(),
            f"{d['method']} on {d['branch']}: job {started['jobId']} (building job {good['jobId']}'s source)",
        )
        summary = wait_job(target, d["app"], d["branch"], started["jobId"])
        result.log(target.clock.now(), f"get-job {started['jobId']}: {summary['status']}")
        active = client.get_branch(appId=d["app"], branchName=d["branch"])["branch"].get("activeJobId")
        result.evidence.update(job=summary, active_job=active, good=good, runbook_pick=d.get("runbook_pick"))
        problem = None
        if summary["status"] != "SUCCEED":
            problem = f"job {started['jobId']} ended {summary['status']}"
        elif active != started["jobId"]:
            problem = f"the branch serves job {active}, not {started['jobId']}"
        elif d["method"] == "start-job" and summary.get("commitId") != good.get("commitId"):
            problem = f"job {started['jobId']} built commit {summary.get('commitId')}, not {good.get('commitId')}"
        if problem:
            # Amplify replaces what a branch serves only when a job succeeds: after a failed redeploy the
            # serving build is still the one before it (the checkpoint), so there is nothing to restore.
            result.outcome, result.message = (
                FAILED,
                f"redeploy not verified: {problem}; branch {d['branch']} serves job {active}",
            )
            trail.finish(FAILED)
    result.record = trail.record
    if result.outcome == COMPLETE:
        result.message = (
            f"branch {d['branch']} serves job {started['jobId']}, the build of job {good['jobId']} "
            f'("{good.get("commitMessage", "")}")'
        )
    result.log(target.clock.now(), result.message)
    return result


def redeploy_last_good(
    target: TargetLike,
    authority: Authority,
    *,
    branch: str | None = None,
    job_id: str | None = None,
    dry_run: bool = False,
) -> ActionResult:
    """Plan and apply the redeploy of the last good build (004 Rollback Amplify Deployment, done right)."""
    return execute(
        lambda: plan_redeploy_last_good(target, authority, branch=branch, job_id=job_id),
        lambda p: apply_redeploy_last_good(target, p),
        dry_run=dry_run,
    )
