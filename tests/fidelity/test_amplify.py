"""Amplify on the embedded target (fidelity/amplify*.py): moto has none; with the extension the calls 004
and the harness's actions make behave as the Amplify API reference says."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError

from harness.clock import FixedClock
from harness.targets.embedded import EmbeddedTarget
from harness.targets.embedded.fidelity import amplify_model
from harness.targets.embedded.target import reset_account
from tests.fidelity.conftest import start_target

REPO = "https://github.com/example/site"


@pytest.fixture(scope="module")
def amp_target() -> Iterator[EmbeddedTarget]:
    target = start_target(
        "propie", "production", seed=False, clock=FixedClock(datetime(2026, 3, 3, 12, 0, tzinfo=timezone.utc))
    )
    yield target
    target.close()
    reset_account(target.env.account)


@pytest.fixture
def client(amp_target: EmbeddedTarget):
    return amp_target.client("amplify")


def new_app(client, name: str, repository: str = REPO, branches: tuple[str, ...] = ("main",)) -> str:
    app_id = client.create_app(name=name, repository=repository)["app"]["appId"]
    for b in branches:
        client.create_branch(appId=app_id, branchName=b)
    return app_id


def finish(target: EmbeddedTarget) -> None:
    """Let every job started so far finish (PENDING + build time on the target's clock)."""
    target.clock.advance(seconds=amplify_model.PENDING_S + amplify_model.BUILD_S + 1)


def error(exc: pytest.ExceptionInfo) -> tuple[str, int, str]:
    resp = exc.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Message"]


def test_plain_moto_has_no_amplify(make_target) -> None:
    plain = make_target("propie", "production", seed=False, fidelity=False)
    assert not plain.supports("amplify")
    with pytest.raises(ClientError) as exc:
        plain.client("amplify").list_apps()
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] >= 400


def test_apps_and_branches(amp_target, client) -> None:
    assert amp_target.supports("amplify")
    app_id = new_app(client, "apps", branches=("main", "green"))
    app = client.get_app(appId=app_id)["app"]
    assert app["repository"] == REPO and app["appArn"].endswith(f"apps/{app_id}") and app_id.startswith("d")
    assert app_id in [a["appId"] for a in client.list_apps()["apps"]]
    assert [b["branchName"] for b in client.list_branches(appId=app_id)["branches"]] == ["main", "green"]
    assert client.get_branch(appId=app_id, branchName="green")["branch"]["activeJobId"] == ""
    with pytest.raises(ClientError) as exc:
        client.get_app(appId="dnosuchapp")
    assert error(exc)[:2] == ("NotFoundException", 404) and "dnosuchapp" in error(exc)[2]
    with pytest.raises(ClientError) as exc:
        client.create_branch(appId=app_id, branchName="main")
    assert error(exc)[:2] == ("BadRequestException", 400)
    with pytest.raises(ClientError) as exc:
        client.get_branch(appId=app_id, branchName="nope")
    assert error(exc)[:2] == ("NotFoundException", 404)


def test_jobs_run_pending_running_succeed_on_the_clock(amp_target, client) -> None:
    app_id = new_app(client, "jobs")
    job = client.start_job(appId=app_id, branchName="main", jobType="RELEASE", commitId="c1", commitMessage="first")[
        "jobSummary"
    ]
    assert (job["jobId"], job["status"], job["jobType"], job["commitId"]) == ("1", "PENDING", "RELEASE", "c1")
    amp_target.clock.advance(seconds=amplify_model.PENDING_S)
    # https://docs.aws.amazon.com/amplify/latest/APIReference/API_JobSummary.html: PENDING, PROVISIONING, RUNNING
    assert client.get_job(appId=app_id, branchName="main", jobId="1")["job"]["summary"]["status"] == "PROVISIONING"
    amp_target.clock.advance(seconds=amplify_model.PROVISION_S)
    assert client.get_job(appId=app_id, branchName="main", jobId="1")["job"]["summary"]["status"] == "RUNNING"
    assert (
        client.get_branch(appId=app_id, branchName="main")["branch"]["activeJobId"] == ""
    )  # nothing served while it builds
    finish(amp_target)
    done = client.get_job(appId=app_id, branchName="main", jobId="1")["job"]
    assert done["summary"]["status"] == "SUCCEED" and done["summary"]["endTime"] > done["summary"]["startTime"]
    assert [s["stepName"] for s in done["steps"]] == ["BUILD", "DEPLOY"]
    assert client.get_branch(appId=app_id, branchName="main")["branch"]["activeJobId"] == "1"
    # RELEASE without a commit builds the branch's latest one
    assert client.start_job(appId=app_id, branchName="main", jobType="RELEASE")["jobSummary"]["commitId"] == "c1"


def test_a_failed_build_never_replaces_what_is_served_and_retry_rebuilds_it(amp_target, client) -> None:
    app_id = new_app(client, "failing")
    client.start_job(appId=app_id, branchName="main", jobType="RELEASE", commitId="good", commitMessage="ok")
    finish(amp_target)
    client.start_job(
        appId=app_id,
        branchName="main",
        jobType="RELEASE",
        commitId="bad",
        commitMessage=f"oops {amplify_model.BUILD_FAILS}",
    )
    finish(amp_target)
    jobs = client.list_jobs(appId=app_id, branchName="main")["jobSummaries"]
    assert [(j["jobId"], j["status"]) for j in jobs] == [("2", "FAILED"), ("1", "SUCCEED")]  # newest first
    assert client.get_branch(appId=app_id, branchName="main")["branch"]["activeJobId"] == "1"
    retry = client.start_job(appId=app_id, branchName="main", jobType="RETRY", jobId="2")["jobSummary"]
    assert retry["jobType"] == "RETRY" and retry["commitId"] == "bad"
    finish(amp_target)
    assert client.get_job(appId=app_id, branchName="main", jobId=retry["jobId"])["job"]["summary"]["status"] == "FAILED"
    with pytest.raises(ClientError) as exc:
        client.start_job(appId=app_id, branchName="main", jobType="RETRY")
    assert error(exc)[:2] == ("BadRequestException", 400)


def test_a_bad_release_builds_fine_and_is_served(amp_target, client) -> None:
    app_id = new_app(client, "badrelease")
    client.start_job(appId=app_id, branchName="main", jobType="RELEASE", commitId="v1", commitMessage="v1")
    finish(amp_target)
    client.start_job(
        appId=app_id,
        branchName="main",
        jobType="RELEASE",
        commitId="v2",
        commitMessage=f"v2 {amplify_model.BAD_RELEASE}",
    )
    finish(amp_target)
    newest = client.list_jobs(appId=app_id, branchName="main", maxResults=1)["jobSummaries"][0]
    assert (
        newest["status"] == "SUCCEED"
        and client.get_branch(appId=app_id, branchName="main")["branch"]["activeJobId"] == newest["jobId"]
    )
    # a RELEASE of the good commit builds it again (a redeploy of the last good build)
    again = client.start_job(appId=app_id, branchName="main", jobType="RELEASE", commitId="v1")["jobSummary"]
    assert again["commitMessage"] == "v1"


def test_stop_job(amp_target, client) -> None:
    app_id = new_app(client, "stop")
    client.start_job(appId=app_id, branchName="main", jobType="RELEASE", commitId="s1", commitMessage="x")
    # https://docs.aws.amazon.com/amplify/latest/APIReference/API_StopJob.html: the job is CANCELLING, then CANCELLED
    assert client.stop_job(appId=app_id, branchName="main", jobId="1")["jobSummary"]["status"] == "CANCELLING"
    with pytest.raises(ClientError) as exc:
        client.stop_job(appId=app_id, branchName="main", jobId="1")
    assert error(exc)[:2] == ("BadRequestException", 400)
    amp_target.clock.advance(seconds=amplify_model.CANCEL_S)
    assert client.get_job(appId=app_id, branchName="main", jobId="1")["job"]["summary"]["status"] == "CANCELLED"
    with pytest.raises(ClientError) as exc:
        client.get_job(appId=app_id, branchName="main", jobId="99")
    assert error(exc)[:2] == ("NotFoundException", 404)


def test_start_deployment_only_for_create_deployment_jobs_of_manual_apps(amp_target, client) -> None:
    repo_app = new_app(client, "repo")
    for call in (
        lambda: client.create_deployment(appId=repo_app, branchName="main"),
        lambda: client.start_deployment(appId=repo_app, branchName="main", jobId="1"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc)[:2] == ("BadRequestException", 400) and "manually deployed" in error(exc)[2]
    manual = new_app(client, "manual", repository="")
    with pytest.raises(ClientError) as exc:
        client.start_job(appId=manual, branchName="main", jobType="RELEASE")
    assert error(exc)[:2] == ("BadRequestException", 400) and "connected to a repository" in error(exc)[2]
    created = client.create_deployment(
        appId=manual, branchName="main", fileMap={"index.html": "d41d8cd98f00b204e9800998ecf8427e"}
    )
    assert created["zipUploadUrl"] and set(created["fileUploadUrls"]) == {"index.html"}
    assert (
        client.get_job(appId=manual, branchName="main", jobId=created["jobId"])["job"]["summary"]["status"] == "CREATED"
    )
    started = client.start_deployment(appId=manual, branchName="main", jobId=created["jobId"])["jobSummary"]
    assert (started["jobId"], started["jobType"], started["status"]) == (created["jobId"], "MANUAL", "PENDING")
    with pytest.raises(ClientError) as exc:  # not twice
        client.start_deployment(appId=manual, branchName="main", jobId=created["jobId"])
    assert error(exc)[:2] == ("BadRequestException", 400)
    by_url = client.start_deployment(
        appId=manual, branchName="main", sourceUrl="s3://artifacts/site/1.0.1/", sourceUrlType="BUCKET_PREFIX"
    )["jobSummary"]
    assert by_url["sourceUrl"] == "s3://artifacts/site/1.0.1/"


def test_domain_associations_map_prefixes_and_update_replaces_the_list(amp_target, client) -> None:
    app_id = new_app(client, "domains", branches=("blue", "green"))
    with pytest.raises(ClientError) as exc:
        client.create_domain_association(
            appId=app_id, domainName="x.example", subDomainSettings=[{"prefix": "", "branchName": "nope"}]
        )
    assert error(exc)[:2] == ("NotFoundException", 404)
    settings = [{"prefix": "", "branchName": "blue"}, {"prefix": "www", "branchName": "blue"}]
    made = client.create_domain_association(appId=app_id, domainName="site.example", subDomainSettings=settings)[
        "domainAssociation"
    ]
    assert made["domainStatus"] == "AVAILABLE" and [s["subDomainSetting"] for s in made["subDomains"]] == settings
    assert [d["domainName"] for d in client.list_domain_associations(appId=app_id)["domainAssociations"]] == [
        "site.example"
    ]
    # 004's command: one prefix only -> the others are gone (the call replaces the whole list)
    updated = client.update_domain_association(
        appId=app_id, domainName="site.example", subDomainSettings=[{"prefix": "", "branchName": "green"}]
    )
    assert updated["domainAssociation"]["domainStatus"] == "UPDATING"
    with pytest.raises(ClientError) as exc:
        client.update_domain_association(appId=app_id, domainName="site.example", subDomainSettings=settings)
    assert error(exc) == ("BadRequestException", 400, "Cannot update domain while the domain is in UPDATING status.")
    amp_target.clock.advance(seconds=amplify_model.PROPAGATION_S)
    got = client.get_domain_association(appId=app_id, domainName="site.example")["domainAssociation"]
    assert got["domainStatus"] == "AVAILABLE" and got["updateStatus"] == "UPDATE_COMPLETE"
    assert [s["subDomainSetting"] for s in got["subDomains"]] == [{"prefix": "", "branchName": "green"}]
    with pytest.raises(ClientError) as exc:
        client.get_domain_association(appId=app_id, domainName="other.example")
    assert error(exc)[:2] == ("NotFoundException", 404)


def test_list_jobs_pages_newest_first(amp_target, client) -> None:
    app_id = new_app(client, "pages")
    for i in range(5):
        client.start_job(appId=app_id, branchName="main", jobType="RELEASE", commitId=f"p{i}", commitMessage=str(i))
    first = client.list_jobs(appId=app_id, branchName="main", maxResults=2)
    assert [j["jobId"] for j in first["jobSummaries"]] == ["5", "4"] and first["nextToken"]
    rest = list(
        amp_target.client("amplify")
        .get_paginator("list_jobs")
        .paginate(appId=app_id, branchName="main", PaginationConfig={"PageSize": 2})
    )
    assert [j["jobId"] for p in rest for j in p["jobSummaries"]] == ["5", "4", "3", "2", "1"]


def test_accounts_are_isolated(amp_target, client, make_target) -> None:
    new_app(client, "mine")
    other = make_target("propie", "production", seed=False)
    assert "mine" not in [a["name"] for a in other.client("amplify").list_apps()["apps"]]


def test_traffic_follows_what_the_domain_serves(make_target) -> None:
    target = make_target("propie", "production", clock=FixedClock(datetime(2026, 3, 3, 12, 0, tzinfo=timezone.utc)))
    handle = target.extensions.amplify
    env, amp = target.env, target.env.amplify
    assert handle.serving()[0].name == amp.branch
    job = handle.release(amp.green_branch, "9.9.9", bad_release=True)
    assert job["status"] == "SUCCEED"
    handle.go_live(amp.green_branch)
    played = handle.run_traffic(2)
    assert [bad for _, bad in played] == [True, True]
    rate = env.trigger("error_rate_5xx")
    start = played[0][0].replace(second=0)
    stats = target.client("cloudwatch").get_metric_statistics(
        Namespace=rate.namespace,
        MetricName=rate.metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in rate.dimensions],
        StartTime=start,
        EndTime=played[-1][0],
        Period=60,
        Statistics=["Sum"],
    )
    assert sum(d["Sum"] for d in stats["Datapoints"]) > 0


def test_start_deployment_more_than_8_hours_after_create_deployment_is_refused(amp_target, client) -> None:
    """https://docs.aws.amazon.com/amplify/latest/APIReference/API_StartDeployment.html: "The maximum duration
    between the CreateDeployment call and the StartDeployment call cannot exceed 8 hours. If the duration exceeds
    8 hours, the StartDeployment call and the associated Job will fail." (BadRequestException, HTTP 400)."""
    manual = new_app(client, "late", repository="")
    in_time = client.create_deployment(appId=manual, branchName="main")["jobId"]
    late = client.create_deployment(appId=manual, branchName="main")["jobId"]
    amp_target.clock.advance(hours=8)
    assert client.start_deployment(appId=manual, branchName="main", jobId=in_time)["jobSummary"]["status"] == "PENDING"
    amp_target.clock.advance(seconds=1)
    with pytest.raises(ClientError) as exc:
        client.start_deployment(appId=manual, branchName="main", jobId=late)
    code, status, message = error(exc)
    assert (code, status) == ("BadRequestException", 400) and "8 hours" in message and late in message
    summary = client.get_job(appId=manual, branchName="main", jobId=late)["job"]["summary"]
    assert summary["status"] == "FAILED" and summary["jobType"] == "MANUAL"
    with pytest.raises(ClientError) as exc:  # the job stays failed
        client.start_deployment(appId=manual, branchName="main", jobId=late)
    assert error(exc)[:2] == ("BadRequestException", 400)
