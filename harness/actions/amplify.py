"""Amplify rollbacks (004 "Blue/Green Deployment Rollback" and "Rollback Amplify Deployment"), plan then apply.

- ``switch_back`` (harness.actions.amplify_switch, re-exported): every inventory prefix of the domain
  back to the blue (production) branch, verified.
- ``redeploy_last_good``: the branch's last successful job *before* the one it serves now, rebuilt. 004
  picks "the newest job with status SUCCEED" and passes it to start-deployment (seed defect 7): a bad
  release builds fine, so that is usually the bad release itself, and StartDeployment is only for
  manually deployed apps. For a repository-connected app the harness starts a RELEASE job of the good
  job's commit (StartJob); for a manual app, StartDeployment of the good job's sourceUrl. The job is
  waited for on the target's clock (GetJob) and verified as the build the branch now serves.

  Idempotent: a rebuild of job J's commit (or a manual app's redeploy of J's artifact) serves J's
  release, so the history is read by release, not by job. When the branch serves a rebuild of an older
  release while a newer release built fine, the rollback has been done: "already serving <commit>
  (job J); nothing to do", no change and no record. Otherwise the pick is the last good release before
  the one serving.

Waits (domain propagation, builds) poll on the target's clock with harness.poll: a progress line per
state change and every 10 s; a timeout fails the action with the last state seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness import aws
from harness.actions.amplify_switch import (
    FINAL,
    POLL_S,
    RULE,
    Progress,
    SwitchBackSpec,
    _amplify,
    _quiet,
    _spec,
    apply_switch_back,
    hostname,
    plan_switch_back,
    switch_back,
)
from harness.actions.audit_record import audit, new_plan
from harness.actions.base import COMPLETE, FAILED, ActionResult, Change, Plan, execute
from harness.actions.guards import Authority, refusal
from harness.poll import PollFailed, PollTimeout, Waiting, poll
from harness.targets.base import TargetLike

JOB_TIMEOUT_S = 30 * 60.0  # give up waiting for a build after this long
RUNBOOK_QUERY_MAX = 10  # 004: list-jobs --max-results 10
__all__ = [
    "SwitchBackSpec",
    "RedeploySpec",
    "apply_redeploy_last_good",
    "apply_switch_back",
    "hostname",
    "plan_redeploy_last_good",
    "plan_switch_back",
    "redeploy_last_good",
    "switch_back",
]


# -- redeploy of the last good build ------------------------------------------------------------------


def runbook_pick(jobs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What 004's query picks: ``jobSummaries[?status==`SUCCEED`].jobId | [0]`` of the newest 10 jobs."""
    return next((j for j in jobs[:RUNBOOK_QUERY_MAX] if j["status"] == "SUCCEED"), None)


def release_of(job: dict[str, Any]) -> str:
    """What a job builds: its commit (repository app) or its artifact (manual app); a rebuild has its original's."""
    return str(job.get("commitId") or job.get("sourceUrl") or f"job {job['jobId']}")


def original_jobs(jobs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """release -> the first job that built it (ListJobs is newest first; ids count up)."""
    out: dict[str, dict[str, Any]] = {}
    for j in sorted(jobs, key=lambda j: int(j["jobId"])):
        out.setdefault(release_of(j), j)
    return out


def last_good_before(jobs: list[dict[str, Any]], serving: str) -> dict[str, Any] | None:
    """The newest SUCCEED job older than the release the branch serves, of another release (ListJobs: newest first).

    The release serving is the first job that built the serving job's commit: a rebuild of job J (the harness's
    own redeploy, a RETRY) serves J's release, so what came between J and the rebuild is not "before" it.
    """
    now = next((j for j in jobs if j["jobId"] == serving), None)
    if now is None:
        return next((j for j in jobs if j["status"] == "SUCCEED" and int(j["jobId"]) < int(serving)), None)
    first = original_jobs(jobs)[release_of(now)]
    return next(
        (
            j
            for j in jobs
            if j["status"] == "SUCCEED" and int(j["jobId"]) < int(first["jobId"]) and release_of(j) != release_of(now)
        ),
        None,
    )


def rolled_back_to(jobs: list[dict[str, Any]], serving: str) -> dict[str, Any] | None:
    """The original job whose release the branch serves again, when the serving job rebuilt an older release while a
    newer release built fine (a rollback already done); None otherwise."""
    now = next((j for j in jobs if j["jobId"] == serving), None)
    if now is None:
        return None
    first = original_jobs(jobs)[release_of(now)]
    if first["jobId"] == now["jobId"]:
        return None
    newer = [
        j
        for j in jobs
        if j["status"] == "SUCCEED"
        and int(first["jobId"]) < int(j["jobId"]) < int(now["jobId"])
        and release_of(j) != release_of(now)
    ]
    return first if newer else None


@dataclass(frozen=True)
class RedeploySpec:
    """What a redeploy plan read and will do: the serving job, the good job and its first build, the call."""

    app: str
    branch: str
    serving: dict[str, Any]  # the serving job's summary
    good: dict[str, Any] | None  # None: already serving the release wanted, nothing to do
    original: dict[str, Any] | None  # the first job that built good's release
    method: str  # start-job | start-deployment | none
    call: dict[str, Any] = field(default_factory=dict)
    manual: bool = False
    runbook_pick: dict[str, Any] | None = None


def plan_redeploy_last_good(
    target: TargetLike, authority: Authority, *, branch: str | None = None, job_id: str | None = None
) -> Plan[RedeploySpec]:
    """Find the release before the one the branch serves (or the successful job ``job_id``) and how to redeploy it;
    "already serving" when that is done (reads only)."""
    amp = _amplify(target)
    branch = branch or amp.branch
    plan: Plan[RedeploySpec] = new_plan(
        "amplify-redeploy", target, authority, ("amplify-last-job", "amplify-domain-branch")
    )
    plan.refusal = refusal(target, authority, rule=RULE)
    if plan.refused:
        return plan
    client = target.client("amplify")
    app = client.get_app(appId=amp.app_id)["app"]
    serving_id = client.get_branch(appId=amp.app_id, branchName=branch)["branch"].get("activeJobId")
    jobs = list(aws.paginate(client, "list_jobs", "jobSummaries", appId=amp.app_id, branchName=branch))
    plan.refusal = _redeploy_refusal(branch, serving_id, jobs, job_id)
    if plan.refused:
        return plan
    serving = next(j for j in jobs if j["jobId"] == serving_id)
    manual = not app.get("repository")
    done = _already(jobs, serving, job_id)
    if done is not None:
        plan.spec = RedeploySpec(amp.app_id, branch, serving, None, done, "none", manual=manual)
        plan.notes.append(f"already serving {release_of(serving)} (job {done['jobId']}); nothing to do")
        return plan
    good = next(j for j in jobs if j["jobId"] == job_id) if job_id else last_good_before(jobs, serving_id)
    if good is None:
        plan.refusal = (
            f"no successful job of {branch} before the release it serves (job {serving_id}, "
            f"{release_of(serving)}): nothing to redeploy"
        )
        return plan
    if manual and not good.get("sourceUrl"):
        plan.refusal = (
            f"{amp.app_id} is a manually deployed app and job {good['jobId']} has no sourceUrl: its artifact cannot be "
            "redeployed by the API; deploy that zip again with create-deployment/start-deployment"
        )
        return plan
    original = original_jobs(jobs)[release_of(good)]
    method, call = _call(good, original, manual)
    plan.spec = RedeploySpec(amp.app_id, branch, serving, good, original, method, call, manual, runbook_pick(jobs))
    plan.changes.append(
        Change(
            f"amplify:{amp.app_id}:branch/{branch}",
            "serving build",
            f"job {serving_id} ({release_of(serving)})",
            f"new job building job {original['jobId']}'s {'artifact' if manual else 'commit'} {release_of(good)}",
            kind="create",
            note="004 Rollback Amplify Deployment",
        )
    )
    _redeploy_notes(plan, plan.spec, jobs, app, job_id)
    return plan


def _redeploy_refusal(branch: str, serving: str | None, jobs: list[dict[str, Any]], job_id: str | None) -> str | None:
    if not serving or not any(j["jobId"] == serving for j in jobs):
        return f"branch {branch} serves no build: there is no 'previous' to go back to"
    running = [j for j in jobs if j["status"] not in FINAL and j["status"] != "CREATED"]
    if running:
        return f"job {running[0]['jobId']} of {branch} is still {running[0]['status']}: wait for it (or stop it) first"
    if job_id is not None:
        named = next((j for j in jobs if j["jobId"] == job_id), None)
        if named is None or named["status"] != "SUCCEED":
            return (
                f"job {job_id} of {branch} is {'unknown' if named is None else named['status']}: only a "
                "successful build can be redeployed"
            )
    return None


def _already(jobs: list[dict[str, Any]], serving: dict[str, Any], job_id: str | None) -> dict[str, Any] | None:
    """The original job of the release the branch serves when the redeploy asked for is already done."""
    if job_id is not None:
        named = next(j for j in jobs if j["jobId"] == job_id)
        return original_jobs(jobs)[release_of(serving)] if release_of(named) == release_of(serving) else None
    return rolled_back_to(jobs, serving["jobId"])


def _call(good: dict[str, Any], original: dict[str, Any], manual: bool) -> tuple[str, dict[str, Any]]:
    if manual:
        return "start-deployment", {"sourceUrl": good["sourceUrl"], "sourceUrlType": good.get("sourceUrlType") or "ZIP"}
    return "start-job", {
        "jobType": "RELEASE",
        "commitId": good["commitId"],
        "commitMessage": good.get("commitMessage", ""),
        "jobReason": f"harness rollback: redeploy job {original['jobId']} (004 Rollback Amplify Deployment)",
    }


def _redeploy_notes(
    plan: Plan[RedeploySpec], spec: RedeploySpec, jobs: list[dict[str, Any]], app: dict[str, Any], job_id: str | None
) -> None:
    good, serving, pick = spec.good or {}, spec.serving["jobId"], spec.runbook_pick
    if job_id is None and jobs and jobs[0]["jobId"] != serving and jobs[0]["status"] == "FAILED":
        plan.notes.append(
            f"the newest job {jobs[0]['jobId']} FAILED and never served: {spec.branch} still serves job {serving}; "
            f"this goes back to the build before it (job {good['jobId']}). If job {serving} is good, redeploy it "
            f"instead (job_id / --job-id {serving})"
        )
    if pick and pick["jobId"] == serving:
        plan.notes.append(
            f"004's query (newest SUCCEED job) picks job {serving}, the build serving now: redeploying it changes "
            f"nothing (seed defect 7); the harness takes job {good['jobId']}, the last good one before it"
        )
    elif pick and pick["jobId"] != good["jobId"]:
        plan.notes.append(
            f"004's query picks job {pick['jobId']}; the last good job before the serving one is {good['jobId']}"
        )
    if spec.manual:
        plan.notes.append(f"{spec.app} is manually deployed: StartDeployment of job {good['jobId']}'s sourceUrl")
    else:
        plan.notes.append(
            f"{spec.app} is connected to {app.get('repository')}: StartDeployment is only for manually deployed apps "
            f"(seed defect 7), so the harness starts a RELEASE job of commit {good['commitId'][:8]} (StartJob)"
        )


def wait_job(
    target: TargetLike, app_id: str, branch: str, job_id: str, *, progress: Progress = _quiet
) -> dict[str, Any]:
    """Poll GetJob on the target's clock until the job finishes; its summary (the last one seen on a timeout, with
    a progress line saying the harness gave up)."""
    client = target.client("amplify")

    def read() -> dict[str, Any]:
        return dict(client.get_job(appId=app_id, branchName=branch, jobId=job_id)["job"]["summary"])

    waiting: Waiting[dict[str, Any]] = Waiting(
        f"job {job_id} of {branch}",
        state=lambda s: str(s["status"]),
        done=lambda s: s["status"] in FINAL,
        timeout_s=JOB_TIMEOUT_S,
        interval_s=POLL_S,
    )
    try:
        return poll(target.clock, read, waiting, progress=progress)
    except (PollTimeout, PollFailed) as exc:
        progress(f"gave up: {exc}")
        last: dict[str, Any] = exc.last
        return last


def apply_redeploy_last_good(
    target: TargetLike, plan: Plan[RedeploySpec], *, progress: Progress = _quiet
) -> ActionResult:
    """Start the planned job, wait for it, verify the branch now serves it (the good commit)."""
    d: RedeploySpec = _spec(plan)
    result = ActionResult(plan, COMPLETE)
    if d.good is None or d.original is None:
        result.message = plan.notes[-1] if plan.notes else "nothing to do"
        return result
    good, client = d.good, target.client("amplify")
    with audit(
        target,
        plan,
        resource=f"amplify:{d.app}/{d.branch}",
        from_version=f"job {d.serving['jobId']}",
        to_version=f"job {d.original['jobId']}",
        extra={"commit": release_of(good)},
    ) as trail:
        start = client.start_deployment if d.method == "start-deployment" else client.start_job
        started = start(appId=d.app, branchName=d.branch, **d.call)["jobSummary"]
        result.changed(target.clock.now(), plan.changes[0])
        result.log(
            target.clock.now(),
            f"{d.method} on {d.branch}: job {started['jobId']} (building job {good['jobId']}'s source)",
        )
        summary = wait_job(target, d.app, d.branch, started["jobId"], progress=progress)
        result.log(target.clock.now(), f"get-job {started['jobId']}: {summary['status']}")
        active = client.get_branch(appId=d.app, branchName=d.branch)["branch"].get("activeJobId")
        result.evidence.update(job=summary, active_job=active, good=good, runbook_pick=d.runbook_pick)
        problem = _redeploy_problem(d, started["jobId"], summary, active)
        if problem:
            # Amplify replaces what a branch serves only when a job succeeds: after a failed redeploy the
            # serving build is still the one before it (the checkpoint), so there is nothing to restore.
            result.outcome = FAILED
            result.message = f"redeploy not verified: {problem}; branch {d.branch} serves job {active}"
            trail.finish(FAILED)
    result.record = trail.record
    if result.outcome == COMPLETE:
        result.message = (
            f"branch {d.branch} serves job {started['jobId']}, the build of job {d.original['jobId']} "
            f'({release_of(good)}, "{good.get("commitMessage", "")}")'
        )
    result.log(target.clock.now(), result.message)
    return result


def _redeploy_problem(d: RedeploySpec, started: str, summary: dict[str, Any], active: str | None) -> str | None:
    good = d.good or {}
    if summary["status"] not in FINAL:
        return f"gave up waiting after {JOB_TIMEOUT_S:.0f} s: job {started} still {summary['status']}"
    if summary["status"] != "SUCCEED":
        return f"job {started} ended {summary['status']}"
    if active != started:
        return f"the branch serves job {active}, not {started}"
    if d.method == "start-job" and summary.get("commitId") != good.get("commitId"):
        return f"job {started} built commit {summary.get('commitId')}, not {good.get('commitId')}"
    return None


def redeploy_last_good(
    target: TargetLike,
    authority: Authority,
    *,
    branch: str | None = None,
    job_id: str | None = None,
    dry_run: bool = False,
    progress: Progress = _quiet,
) -> ActionResult:
    """Plan and apply the redeploy of the last good build (004 Rollback Amplify Deployment, done right)."""
    return execute(
        lambda: plan_redeploy_last_good(target, authority, branch=branch, job_id=job_id),
        lambda p: apply_redeploy_last_good(target, p, progress=progress),
        dry_run=dry_run,
    )
