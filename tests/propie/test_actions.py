"""The 004 actions (harness/actions/amplify.py, cloudformation.py): each moves the rehearsal back, its rows
go from FAIL to PASS, and a refusal (or a dry run) changes nothing."""

from __future__ import annotations

import json
from typing import Any

import jmespath
import pytest
from botocore.exceptions import ClientError

from harness.actions import Authority
from harness.actions import amplify as amplify_actions
from harness.actions import cloudformation as cfn_actions
from harness.checks.result import Verdict
from harness.records import read_records
from harness.targets.embedded.fidelity import amplify_model
from harness.targets.embedded.seed_propie import appsync_parameters, appsync_template
from tests.propie.conftest import Propie, bad, describe, variant

TRIGGER = "trigger-5xx-rate"
RUNBOOK_QUERY = "jobSummaries[?status==`SUCCEED`].jobId | [0]"  # 004 Rollback Amplify Deployment, verbatim


def verdicts(p: Propie, *slugs: str, **kwargs: Any) -> dict[str, set[Verdict]]:
    results = p.run(**kwargs)
    return {s: {r.verdict for (slug, _), r in results.items() if slug == s} for s in slugs}


def snapshot(p: Propie) -> dict[str, Any]:
    """What a refused action must leave as it was: domain settings, jobs, stack status and template."""
    amp, client, cfn = p.env.amplify, p.target.client("amplify"), p.target.client("cloudformation")
    return {
        "domain": client.get_domain_association(appId=amp.app_id, domainName=amp.domain)["domainAssociation"][
            "subDomains"
        ],
        "jobs": [j["jobId"] for j in client.list_jobs(appId=amp.app_id, branchName=amp.branch)["jobSummaries"]],
        "stack": cfn.describe_stacks(StackName=p.stack)["Stacks"][0]["StackStatus"],
        "template": cfn.get_template(StackName=p.stack)["TemplateBody"],
    }


def test_switch_back_from_a_bad_green_release(propie: Propie, approved: Authority) -> None:
    amp = propie.env.amplify
    propie.amplify.release(amp.green_branch, "2.0.0", bad_release=True)
    propie.amplify.go_live(amp.green_branch)
    propie.traffic()
    before = verdicts(propie, "amplify-domain-branch", TRIGGER)
    assert before == {"amplify-domain-branch": {Verdict.FAIL}, TRIGGER: {Verdict.FAIL}}
    result = amplify_actions.switch_back(propie.target, approved)
    assert result.outcome == "COMPLETE", result.message
    assert {c.after for c in result.plan.changes} == {amp.branch} and len(result.plan.changes) == 1 + len(
        amp.other_prefixes
    )
    assert any("replaces the whole sub-domain list" in n for n in result.plan.notes)
    assert result.evidence["serving_job"]["status"] == "SUCCEED" and f"back on {amp.branch}" in result.message
    assert [e.what.split(":")[0] for e in result.timeline][:2] == [
        f"update-domain-association {amp.domain}",
        "get-domain-association",
    ]
    record = (
        result.record
    )  # 004's inventory has no deployments table: the record travels with the result and the reports
    assert record is not None and record.status == "COMPLETE" and record.action == "amplify-switch-back", record
    assert record.resource == f"amplify:{amp.app_id}/{amp.domain}" and record.to_version == amp.branch
    propie.traffic()
    assert not bad(propie.run()), describe(bad(propie.run()))


def test_refusals_and_dry_runs_change_nothing(propie: Propie, approved: Authority) -> None:
    amp = propie.env.amplify
    propie.amplify.go_live(amp.green_branch)
    propie.target.extensions.cloudformation.deploy(propie.stack, "1.0.6")
    before = snapshot(propie)
    nobody = Authority(actor="tests")
    for result in (
        amplify_actions.switch_back(propie.target, nobody),
        amplify_actions.redeploy_last_good(propie.target, nobody),
        cfn_actions.rollback_stack(propie.target, nobody),
    ):
        assert result.outcome == "REFUSED" and "prod-rollback needs 1 distinct approver (" in result.message
    for result in (
        amplify_actions.switch_back(propie.target, approved, dry_run=True),
        amplify_actions.redeploy_last_good(propie.target, approved, dry_run=True),
        cfn_actions.rollback_stack(propie.target, approved, dry_run=True),
    ):
        assert result.outcome == "DRY_RUN" and result.plan.changes
    assert snapshot(propie) == before
    assert amplify_actions.switch_back(propie.target, approved).outcome == "COMPLETE"  # and with approvals it does
    assert cfn_actions.rollback_stack(propie.target, approved).outcome == "COMPLETE"


def test_switch_back_is_refused_while_the_domain_updates(propie: Propie, approved: Authority) -> None:
    amp, client = propie.env.amplify, propie.target.client("amplify")
    settings = client.get_domain_association(appId=amp.app_id, domainName=amp.domain)["domainAssociation"]["subDomains"]
    client.update_domain_association(
        appId=amp.app_id, domainName=amp.domain, subDomainSettings=[s["subDomainSetting"] for s in settings]
    )
    before = snapshot(propie)
    result = amplify_actions.switch_back(propie.target, approved)
    assert result.outcome == "REFUSED" and "UPDATING" in result.message
    assert snapshot(propie) == before and result.record is None  # refused before anything, the record included
    propie.clock.advance(seconds=amplify_model.PROPAGATION_S)


def test_redeploy_takes_the_last_good_build_before_the_one_serving(propie: Propie, approved: Authority) -> None:
    amp, client = propie.env.amplify, propie.target.client("amplify")
    good = client.get_branch(appId=amp.app_id, branchName=amp.branch)["branch"]["activeJobId"]
    good_commit = client.get_job(appId=amp.app_id, branchName=amp.branch, jobId=good)["job"]["summary"]["commitId"]
    bad_job = propie.amplify.release(amp.branch, "2.1.0", bad_release=True)
    assert bad_job["status"] == "SUCCEED"  # a bad release builds fine
    propie.traffic()
    assert verdicts(propie, "amplify-last-job", TRIGGER) == {
        "amplify-last-job": {Verdict.PASS},
        TRIGGER: {Verdict.FAIL},
    }
    plan = amplify_actions.plan_redeploy_last_good(propie.target, approved)
    assert plan.spec is not None and plan.spec.runbook_pick is not None and plan.spec.good is not None
    assert (
        plan.spec.runbook_pick["jobId"] == bad_job["jobId"] == plan.spec.serving["jobId"]
    )  # 004's query: the bad build
    assert plan.spec.good["jobId"] == good and plan.spec.method == "start-job"
    assert f"job {bad_job['jobId']} ({bad_job['commitId']})" in plan.render()  # the serving job and its commit
    assert any("seed defect 7" in n and f"picks job {bad_job['jobId']}" in n for n in plan.notes)
    result = amplify_actions.apply_redeploy_last_good(propie.target, plan)
    assert result.outcome == "COMPLETE", result.message
    new = result.evidence["job"]
    assert (
        new["status"] == "SUCCEED" and new["commitId"] == good_commit and result.evidence["active_job"] == new["jobId"]
    )
    assert [e.what.split(" ")[0] for e in result.timeline][:2] == ["start-job", "get-job"]
    propie.traffic()
    assert not bad(propie.run()), describe(bad(propie.run()))


def test_redeploy_twice_the_second_run_changes_nothing(propie: Propie, approved: Authority) -> None:
    """The first run rebuilds the last good release; the second sees the branch already serving it (a rebuild of
    job J serves J's release): "already serving <commit> (job J); nothing to do", no job, no record."""
    amp, client = propie.env.amplify, propie.target.client("amplify")
    before_bad = client.get_branch(appId=amp.app_id, branchName=amp.branch)["branch"]["activeJobId"]
    wanted = client.get_job(appId=amp.app_id, branchName=amp.branch, jobId=before_bad)["job"]["summary"]["commitId"]
    propie.amplify.release(amp.branch, "2.2.0", bad_release=True)
    progress: list[str] = []
    first = amplify_actions.redeploy_last_good(propie.target, approved, progress=progress.append)
    assert first.outcome == "COMPLETE" and first.evidence["job"]["commitId"] == wanted, first.message
    assert any("RUNNING" in line for line in progress) and any("SUCCEED" in line for line in progress), progress
    assert first.plan.spec is not None and first.plan.spec.original is not None
    job = first.plan.spec.original["jobId"]
    before = snapshot(propie)
    records = len(read_records(propie.target.client("dynamodb"), propie.env))
    second = amplify_actions.redeploy_last_good(propie.target, approved)
    said = f"already serving {wanted} (job {job}); nothing to do"
    assert second.outcome == "COMPLETE" and second.message == said and said in second.plan.render()
    assert not second.plan.changes and second.record is None and not second.applied
    assert snapshot(propie) == before and len(read_records(propie.target.client("dynamodb"), propie.env)) == records


def test_after_a_failed_build_the_serving_build_can_be_named(propie: Propie, approved: Authority) -> None:
    amp, client = propie.env.amplify, propie.target.client("amplify")
    fine = propie.amplify.release(amp.branch, "2.1.2")
    serving = client.get_branch(appId=amp.app_id, branchName=amp.branch)["branch"]["activeJobId"]
    assert serving == fine["jobId"]
    failed = propie.amplify.release(amp.branch, "2.1.1", build_fails=True)
    assert failed["status"] == "FAILED"
    default = amplify_actions.plan_redeploy_last_good(propie.target, approved)
    assert any("never served" in n and f"--job-id {serving}" in n for n in default.notes)
    refused = amplify_actions.plan_redeploy_last_good(propie.target, approved, job_id=failed["jobId"])
    assert refused.refused and "FAILED" in refused.refusal
    before = snapshot(propie)
    result = amplify_actions.redeploy_last_good(propie.target, approved, job_id=serving)
    assert result.outcome == "COMPLETE" and result.plan.spec is not None and result.plan.spec.good is None
    assert result.message == f"already serving {fine['commitId']} (job {serving}); nothing to do"
    assert snapshot(propie) == before  # the serving build named again: nothing started (the failed job stays newest)


def test_a_manually_deployed_app_is_redeployed_with_start_deployment(propie: Propie, approved: Authority) -> None:
    client = propie.target.client("amplify")
    app_id = client.create_app(name="manual-site")["app"]["appId"]
    client.create_branch(appId=app_id, branchName="main")
    for url in ("s3://artifacts/site/1.0.0/", f"s3://artifacts/site/1.0.1-{amplify_model.BAD_RELEASE}/"):
        client.start_deployment(appId=app_id, branchName="main", sourceUrl=url, sourceUrlType="BUCKET_PREFIX")
        propie.clock.advance(seconds=amplify_model.PENDING_S + amplify_model.BUILD_S)
    manual = variant(propie, amplify=type(propie.env.amplify)(app_id, "main", "manual.example", "test"))
    result = amplify_actions.redeploy_last_good(manual, approved)
    assert result.outcome == "COMPLETE", result.message
    assert result.plan.spec is not None and result.plan.spec.method == "start-deployment"
    assert result.evidence["job"]["sourceUrl"] == "s3://artifacts/site/1.0.0/"
    assert any("manually deployed" in n for n in result.plan.notes)


def test_a_redeploy_that_outlasts_the_wait_gives_up_with_the_last_state(
    propie: Propie, approved: Authority, monkeypatch
) -> None:
    """The build is still RUNNING when the wait ends: FAILED, naming the job and its last state; record FAILED."""
    client = propie.target.client("amplify")
    app_id = client.create_app(name="slow-site")["app"]["appId"]
    client.create_branch(appId=app_id, branchName="main")
    for url in ("s3://artifacts/slow/1.0.0/", f"s3://artifacts/slow/1.0.1-{amplify_model.BAD_RELEASE}/"):
        client.start_deployment(appId=app_id, branchName="main", sourceUrl=url, sourceUrlType="BUCKET_PREFIX")
        propie.clock.advance(seconds=amplify_model.PENDING_S + amplify_model.BUILD_S)
    slow = variant(propie, amplify=type(propie.env.amplify)(app_id, "main", "slow.example", "test"))
    monkeypatch.setattr(amplify_actions, "JOB_TIMEOUT_S", 60.0)
    said: list[str] = []
    result = amplify_actions.redeploy_last_good(slow, approved, progress=said.append)
    assert result.outcome == "FAILED" and "still RUNNING" in result.message and "gave up" in result.message
    assert any(line.startswith("gave up:") for line in said) and any("PENDING" in line for line in said), said
    assert result.record is not None and result.record.status == "FAILED"
    propie.clock.advance(seconds=amplify_model.BUILD_S)  # let the build finish before the next test


def test_stack_rollback_of_a_failed_update_takes_rollback_stack(propie: Propie, approved: Authority) -> None:
    assert (
        propie.target.extensions.cloudformation.deploy(
            propie.stack, "1.1.0", fails_with="invalid schema", disable_rollback=True
        )
        == "UPDATE_FAILED"
    )
    assert verdicts(propie, "cloudformation-stack-stable") == {"cloudformation-stack-stable": {Verdict.FAIL}}
    result = cfn_actions.rollback_stack(propie.target, approved)
    assert result.outcome == "COMPLETE", result.message
    assert (
        result.record is not None
        and result.record.status == "COMPLETE"
        and result.record.resource == f"cloudformation:{propie.stack}"
    )
    assert (
        result.plan.spec is not None
        and result.plan.spec.path == "rollback-stack"
        and any("what RollbackStack is for" in n for n in result.plan.notes)
    )
    statuses = [(e["resource"], e["status"]) for e in result.evidence["events"]]
    assert (propie.stack, "UPDATE_ROLLBACK_COMPLETE") == statuses[-1] and (
        propie.stack,
        "UPDATE_ROLLBACK_IN_PROGRESS",
    ) in statuses
    propie.refill()
    assert verdicts(propie, "cloudformation-stack-stable") == {"cloudformation-stack-stable": {Verdict.PASS}}


def test_stack_rollback_of_a_completed_update_takes_update_stack(propie: Propie, approved: Authority) -> None:
    cfn = propie.target.client("cloudformation")
    before = cfn.get_template(StackName=propie.stack)["TemplateBody"]["Description"]
    propie.target.extensions.cloudformation.deploy(propie.stack, "1.2.0")  # bad, and it completes (the usual case)
    assert verdicts(propie, "cloudformation-stack-stable", expect_versions={propie.stack: before}) == {
        "cloudformation-stack-stable": {Verdict.FAIL}
    }
    said: list[str] = []
    result = cfn_actions.rollback_stack(propie.target, approved, progress=said.append)
    assert result.outcome == "COMPLETE", result.message
    assert said and said[-1].startswith(f"stack {propie.stack}: UPDATE_COMPLETE after"), said  # progress while waiting
    assert "resources)" in result.plan.render()  # the stack's resource count now and the previous template's
    assert (
        result.plan.spec is not None
        and result.plan.spec.path == "update-stack"
        and result.plan.expect_versions == {propie.stack: before}
    )
    assert any("would be refused" in n and "seed defect 6" in n for n in result.plan.notes)
    assert result.plan.spec.previous is not None and "rehearsal's record" in result.plan.spec.previous.source
    assert [e["status"] for e in result.evidence["events"] if e["resource"] == propie.stack] == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_COMPLETE",
    ]  # the update took time on the target's clock, as on AWS
    propie.refill()
    assert verdicts(propie, "cloudformation-stack-stable", expect_versions=result.plan.expect_versions) == {
        "cloudformation-stack-stable": {Verdict.PASS}
    }


def test_stack_rollback_from_the_runbooks_backup_files(propie: Propie, approved: Authority, tmp_path) -> None:
    env, cfn = propie.env, propie.target.client("cloudformation")
    current = cfn.describe_stacks(StackName=propie.stack)["Stacks"][0]["Parameters"]
    release = next(p["ParameterValue"] for p in current if p["ParameterKey"] == "SchemaVersion")
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "appsync-previous.yml").write_text(appsync_template(propie.stack, release))
    (backup / "appsync-parameters-previous.json").write_text(json.dumps(appsync_parameters(env, release)))
    propie.target.extensions.cloudformation.deploy(propie.stack, "1.3.0")
    result = cfn_actions.rollback_stack(
        propie.target,
        approved,
        template_file=backup / "appsync-previous.yml",
        parameters_file=backup / "appsync-parameters-previous.json",
        backup_dir=tmp_path / "checkpoints",
    )
    assert result.outcome == "COMPLETE", result.message
    assert result.plan.spec is not None and result.plan.spec.previous is not None
    assert result.plan.spec.previous.source.startswith("file://")
    saved = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert (
        len(saved) == 2
        and "1.3.0" in (tmp_path / "checkpoints" / saved[1 if saved[0].endswith(".json") else 0]).read_text()
    )
    assert cfn.get_template(StackName=propie.stack)["TemplateBody"]["Description"].endswith(release)


def test_no_previous_template_refuses_and_an_automatic_rollback_needs_nothing(
    propie: Propie, approved: Authority
) -> None:
    no_record = variant(propie)
    no_record.extensions = None  # a target that offers no template history (AWS, LocalStack)
    propie.target.extensions.cloudformation.deploy(propie.stack, "1.4.0")
    before = snapshot(propie)
    refused = cfn_actions.rollback_stack(no_record, approved)
    assert (
        refused.outcome == "REFUSED" and "backup/appsync-previous.yml" in refused.message and snapshot(propie) == before
    )
    assert (
        propie.target.extensions.cloudformation.deploy(propie.stack, "1.5.0", fails_with="boom")
        == "UPDATE_ROLLBACK_COMPLETE"
    )
    nothing = cfn_actions.rollback_stack(propie.target, approved)
    assert nothing.outcome == "COMPLETE" and not nothing.plan.changes and "already rolled" in nothing.message


# -- 004's own commands, run as written: the evidence for the other paths (seed defects 6 and 7) ------------


@pytest.mark.filterwarnings("ignore:deprecated string literal syntax")  # 004's query quotes SUCCEED with backticks
def test_the_runbooks_last_successful_job_is_the_bad_release(propie: Propie, approved) -> None:
    amp, client = propie.env.amplify, propie.target.client("amplify")
    bad = propie.amplify.release(amp.branch, "3.0.0", bad_release=True)
    # aws amplify list-jobs --app-id $AMPLIFY_APP_ID --branch-name production --max-results 10 --query '...' --output
    # text
    picked = jmespath.search(RUNBOOK_QUERY, client.list_jobs(appId=amp.app_id, branchName=amp.branch, maxResults=10))
    assert picked == bad["jobId"]  # the newest SUCCEED job is the bad release itself (seed defect 7)
    # aws amplify start-deployment --app-id ... --branch-name production --job-id $LAST_SUCCESSFUL_JOB
    with pytest.raises(ClientError) as exc:
        client.start_deployment(appId=amp.app_id, branchName=amp.branch, jobId=picked)
    assert (
        exc.value.response["Error"]["Code"] == "BadRequestException"
        and "manually deployed" in exc.value.response["Error"]["Message"]
    )
    plan = amplify_actions.plan_redeploy_last_good(propie.target, approved)
    assert plan.spec is not None and plan.spec.good is not None and plan.spec.good["jobId"] != picked
    said = " ".join(plan.notes)
    assert (
        f"004's query (newest SUCCEED job) picks job {picked}" in said
        and "StartDeployment is only for manually deployed apps" in said
    )
    assert amplify_actions.apply_redeploy_last_good(propie.target, plan).outcome == "COMPLETE"


def test_the_runbooks_rollback_stack_is_refused_after_an_update_that_completed(propie: Propie, approved) -> None:
    cfn = propie.target.client("cloudformation")
    propie.target.extensions.cloudformation.deploy(propie.stack, "3.1.0")
    assert cfn.describe_stacks(StackName=propie.stack)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    # aws cloudformation rollback-stack --stack-name prop-ie-${ENVIRONMENT}-appsync-stack
    with pytest.raises(ClientError) as exc:
        cfn.rollback_stack(StackName=propie.stack)
    assert exc.value.response["Error"]["Code"] == "ValidationError"
    assert "is in UPDATE_COMPLETE state and can not be rolled back" in exc.value.response["Error"]["Message"]
    result = cfn_actions.rollback_stack(propie.target, approved)
    assert result.outcome == "COMPLETE" and result.plan.spec is not None and result.plan.spec.path == "update-stack"
    assert any(
        "004 runs rollback-stack first" in n and "'is in UPDATE_COMPLETE state and can not be rolled back'" in n
        for n in result.plan.notes
    )
