"""Amplify blue/green switch-back (004 "Blue/Green Deployment Rollback", Command Line Rollback steps 2-3),
plan then apply; and what the Amplify actions share (harness.actions.amplify re-exports it).

Every inventory prefix of the domain goes back to the blue (production) branch, verified by reading the
association and the build the branch serves. The whole sub-domain list is sent: UpdateDomainAssociation
*replaces* it, so 004's one-prefix command would drop the others (www). The domain's previous settings
are the checkpoint, restored if verification fails. The wait polls on the target's clock (harness.poll).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from botocore.exceptions import ClientError

from harness import aws
from harness.actions.audit_record import audit, new_plan
from harness.actions.base import COMPLETE, FAILED, ActionResult, Change, Plan, execute
from harness.actions.guards import Authority, refusal
from harness.inventory.model import Amplify
from harness.poll import PollTimeout, Waiting, poll
from harness.targets.base import TargetLike

RULE = "prod-rollback"  # 004 gives no approval rule; the inventory's prod-rollback approvers sign it
POLL_S = 15.0  # how often a wait reads the job or the domain again (harness setting, on the target's clock)
DOMAIN_TIMEOUT_S = 30 * 60.0  # ... or for a domain update to propagate
FINAL = ("SUCCEED", "FAILED", "CANCELLED")
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    """No progress output."""


def _amplify(target: TargetLike) -> Amplify:
    amp = target.env.amplify
    if amp is None:
        raise LookupError(f"inventory {target.env.inventory} has no [amplify]")
    return amp


def hostname(amp: Amplify, prefix: str) -> str:
    """``www.prop-ie-app.com`` for a prefix, the bare domain for the apex."""
    return f"{prefix}.{amp.domain}" if prefix else amp.domain


# -- blue/green switch-back ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SwitchBackSpec:
    """What a switch-back plan read and will send: every prefix's setting, the checkpoint, the blue branch's build."""

    app: str
    domain: str
    branch: str
    settings: tuple[dict[str, str], ...]
    checkpoint: tuple[dict[str, str], ...]
    serving_before: dict[str, str]
    blue_job: str


def plan_switch_back(target: TargetLike, authority: Authority) -> Plan[SwitchBackSpec]:
    """Read the domain association; plan every inventory prefix onto the blue branch (reads only)."""
    amp = _amplify(target)
    plan: Plan[SwitchBackSpec] = new_plan(
        "amplify-switch-back", target, authority, ("amplify-domain-branch", "amplify-last-job")
    )
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
    blue_job = str(blue["activeJobId"])
    commit = _job_commit(client, amp.app_id, amp.branch, blue_job)
    for s in settings:
        if before.get(s["prefix"]) != s["branchName"]:
            plan.changes.append(
                Change(
                    f"amplify:{amp.app_id}:domain/{amp.domain}",
                    f"{hostname(amp, s['prefix'])} branch",
                    before.get(s["prefix"]),
                    s["branchName"],
                    note=f"004 Command Line Rollback step 2; {amp.branch} serves job {blue_job}, commit {commit}",
                )
            )
    plan.spec = SwitchBackSpec(amp.app_id, amp.domain, amp.branch, tuple(settings), tuple(current), before, blue_job)
    plan.notes.append(
        f"UpdateDomainAssociation replaces the whole sub-domain list: the harness sends all {len(settings)} prefixes "
        f"({', '.join(repr(s['prefix']) for s in settings)}); 004's '--sub-domain-settings "
        f"prefix=,branchName={amp.branch}' alone would drop the others"
    )
    if not plan.changes:
        plan.notes.append(f"every prefix already maps to {amp.branch}: nothing to switch")
    return plan


def _job_commit(client: Any, app: str, branch: str, job_id: str) -> str:
    summary = client.get_job(appId=app, branchName=branch, jobId=job_id)["job"]["summary"]
    return str(summary.get("commitId") or summary.get("sourceUrl") or "?")


def _wait_domain(target: TargetLike, amp: Amplify, progress: Progress) -> dict[str, Any]:
    """Poll GetDomainAssociation on the target's clock until the domain is no longer UPDATING (or the timeout)."""
    client = target.client("amplify")

    def read() -> dict[str, Any]:
        return dict(client.get_domain_association(appId=amp.app_id, domainName=amp.domain)["domainAssociation"])

    waiting: Waiting[dict[str, Any]] = Waiting(
        f"domain {amp.domain}",
        state=lambda a: str(a.get("domainStatus")),
        done=lambda a: a.get("domainStatus") != "UPDATING",
        timeout_s=DOMAIN_TIMEOUT_S,
        interval_s=POLL_S,
    )
    try:
        return poll(target.clock, read, waiting, progress=progress)
    except PollTimeout as exc:
        progress(f"gave up: {exc}")
        last: dict[str, Any] = exc.last
        return last


def _spec(plan: Plan[Any]) -> Any:
    if plan.spec is None:
        raise ValueError(f"{plan.action} plan has no spec (refused plans are never applied)")
    return plan.spec


def apply_switch_back(target: TargetLike, plan: Plan[SwitchBackSpec], *, progress: Progress = _quiet) -> ActionResult:
    """Send the planned settings, wait for the domain, verify each prefix and the serving build."""
    amp = _amplify(target)
    result = ActionResult(plan, COMPLETE)
    if not plan.changes:
        result.message = "every prefix already on the blue branch: nothing changed"
        return result
    d: SwitchBackSpec = _spec(plan)
    client = target.client("amplify")
    settings = [dict(s) for s in d.settings]
    with audit(
        target, plan, resource=f"amplify:{d.app}/{d.domain}", from_version=str(d.serving_before), to_version=d.branch
    ) as trail:
        sent = ", ".join(f"{s['prefix']!r}->{s['branchName']}" for s in settings)
        result.log(target.clock.now(), f"update-domain-association {d.domain}: every prefix sent ({sent})")
        serving: dict[str, Any] | None = None
        try:
            client.update_domain_association(appId=d.app, domainName=d.domain, subDomainSettings=settings)
            for c in plan.changes:
                result.changed(target.clock.now(), c)
            assoc = _wait_domain(target, amp, progress)
            result.log(target.clock.now(), f"get-domain-association: {assoc.get('domainStatus')}")
            result.evidence["association"] = assoc
            problem, serving = _verify_switch(target, amp, assoc, settings)
        except ClientError as exc:
            problem = f"{aws.error_code(exc)}: {aws.error_message(exc)}"
        if problem:
            _restore_domain(target, amp, [dict(s) for s in d.checkpoint], result, progress)
            result.outcome, result.message = FAILED, f"switch-back not verified ({problem}); previous settings restored"
            trail.finish(FAILED)
    result.record = trail.record
    if result.outcome == COMPLETE and serving is not None:
        result.evidence["serving_job"] = serving
        result.message = (
            f'{d.domain} back on {d.branch}, serving job {serving["jobId"]} ("{serving.get("commitMessage", "")}")'
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
    return None, dict(client.get_job(appId=amp.app_id, branchName=amp.branch, jobId=active)["job"]["summary"])


def _restore_domain(
    target: TargetLike, amp: Amplify, checkpoint: list[dict[str, str]], result: ActionResult, progress: Progress
) -> None:
    """Put the domain's previous settings back (best effort: a domain still UPDATING refuses it)."""
    try:
        _wait_domain(target, amp, progress)
        target.client("amplify").update_domain_association(
            appId=amp.app_id, domainName=amp.domain, subDomainSettings=checkpoint
        )
        result.log(target.clock.now(), f"restored {amp.domain}'s previous settings")
    except ClientError as exc:
        result.log(target.clock.now(), f"could not restore {amp.domain}'s previous settings: {aws.error_message(exc)}")


def switch_back(
    target: TargetLike, authority: Authority, *, dry_run: bool = False, progress: Progress = _quiet
) -> ActionResult:
    """Plan and apply the blue/green switch-back (004 Command Line Rollback)."""
    return execute(
        lambda: plan_switch_back(target, authority),
        lambda p: apply_switch_back(target, p, progress=progress),
        dry_run=dry_run,
    )
