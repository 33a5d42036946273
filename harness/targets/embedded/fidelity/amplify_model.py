"""The Amplify Hosting control plane the 004 procedures and the harness's actions call (moto has no
Amplify): apps, branches, jobs and domain associations, one store per account and region.

Over 450 lines because it is one service's model, as moto keeps one ``models.py`` per service: the job,
deployment and domain state machines share the store and the clock, and the wire layer is apart.

Semantics follow the Amplify API reference (2017-07-25):

- StartJob ``RELEASE`` builds the branch's latest commit (or ``commitId``) and is "available only for
  apps that are connected to a repository"; ``RETRY`` rebuilds an existing job (``jobId`` required).
  Jobs go PENDING -> PROVISIONING -> RUNNING -> SUCCEED/FAILED on the account's clock (``PENDING_S``,
  ``PROVISION_S``, ``BUILD_S``); StopJob makes a job CANCELLING for ``CANCEL_S``, then CANCELLED;
  job ids count up per branch; ListJobs lists newest first.
- CreateDeployment and StartDeployment are for "manually deployed apps", which "are not connected to
  a Git repository": StartDeployment deploys the job CreateDeployment created (``jobId``) or a
  ``sourceUrl``; anything else is a BadRequestException. "The maximum duration between the
  CreateDeployment call and the StartDeployment call cannot exceed 8 hours. If the duration exceeds 8
  hours, the StartDeployment call and the associated Job will fail" (``DEPLOYMENT_TTL``): a later
  StartDeployment is a BadRequestException and the job is FAILED from then on.
- A branch serves the build of its newest successful job (``Branch.activeJobId``): a failed build
  never replaces what users get. A domain association maps each sub-domain prefix to a branch.
- UpdateDomainAssociation *replaces* the sub-domain settings (the prefixes not passed are dropped:
  aws-cli#5556, amplify-hosting#482); the domain is UPDATING for ``PROPAGATION_S`` and an update
  while UPDATING is refused with "Cannot update domain while the domain is in UPDATING status."
  (amplify-hosting#3878).

What a build produces is deterministic, so a rehearsal can stage both kinds of bad release: a commit
(or a manual deployment's ``sourceUrl``) whose text contains ``harness-build-fails`` builds FAILED; one
containing ``harness-bad-release`` builds SUCCEED but serves a release that answers 5XX (see
``amplify_traffic``). A RETRY or a RELEASE of the same commit builds the same way again.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

# Rehearsal timings (not AWS figures): long enough that a caller has to wait, short on a rehearsal clock.
PENDING_S = 10.0
BUILD_S = 170.0
# Amplify API reference, JobSummary status: PENDING | PROVISIONING | RUNNING | ... | CANCELLING | CANCELLED.
# Assumed durations (AWS publishes none; the console's "Provision" step of a build takes tens of seconds):
# the first PROVISION_S of the build provision the build container, a stopped job is CANCELLING for CANCEL_S.
PROVISION_S = 30.0
CANCEL_S = 10.0
PROPAGATION_S = 60.0
# Amplify API reference, CreateDeployment/StartDeployment: at most 8 hours between the two calls.
DEPLOYMENT_TTL = timedelta(hours=8)
BUILD_FAILS = "harness-build-fails"
BAD_RELEASE = "harness-bad-release"
FINAL = ("SUCCEED", "FAILED", "CANCELLED")


class AmplifyError(Exception):
    """An Amplify error answer: HTTP status, error type and message (``{"message": ...}``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def not_found(message: str) -> AmplifyError:
    """NotFoundException (HTTP 404)."""
    return AmplifyError(404, "NotFoundException", message)


def bad_request(message: str) -> AmplifyError:
    """BadRequestException (HTTP 400)."""
    return AmplifyError(400, "BadRequestException", message)


@dataclass
class Commit:
    """What a build of this source produces (from the marks in its message or URL)."""

    commit_id: str
    message: str
    time: datetime

    @property
    def build_fails(self) -> bool:
        return BUILD_FAILS in self.message

    @property
    def bad_release(self) -> bool:
        return BAD_RELEASE in self.message


@dataclass
class Job:
    """One build/deploy of a branch; its status follows the clock from ``start``."""

    app_id: str
    branch: str
    job_id: str
    job_type: str
    commit: Commit
    created: datetime
    start: datetime | None  # None: a CreateDeployment job not yet started
    reason: str = ""
    source_url: str | None = None
    source_url_type: str | None = None
    cancelled_at: datetime | None = None
    expired_at: datetime | None = None  # a CreateDeployment job started too late: FAILED from then on

    def status(self, now: datetime) -> str:
        """CREATED, PENDING, PROVISIONING, RUNNING, SUCCEED, FAILED, CANCELLING or CANCELLED at ``now``."""
        if self.expired_at is not None and now >= self.expired_at:
            return "FAILED"
        if self.cancelled_at is not None and now >= self.cancelled_at:
            cancelling = (now - self.cancelled_at).total_seconds() < CANCEL_S
            return "CANCELLING" if cancelling else "CANCELLED"
        if self.start is None:
            return "CREATED"
        elapsed = (now - self.start).total_seconds()
        if elapsed < PENDING_S:
            return "PENDING"
        if elapsed < PENDING_S + PROVISION_S:
            return "PROVISIONING"
        if elapsed < PENDING_S + BUILD_S:
            return "RUNNING"
        return "FAILED" if self.commit.build_fails else "SUCCEED"

    def end(self, now: datetime) -> datetime | None:
        """When the job finished (None while it runs)."""
        if self.expired_at is not None and now >= self.expired_at:
            return self.expired_at
        if self.cancelled_at is not None and now >= self.cancelled_at:
            done = self.cancelled_at + timedelta(seconds=CANCEL_S)
            return done if now >= done else None
        if self.start is None:
            return None
        done = self.start + timedelta(seconds=PENDING_S + BUILD_S)
        return done if now >= done else None


@dataclass
class Branch:
    app_id: str
    name: str
    stage: str
    created: datetime
    description: str = ""
    framework: str = ""
    enable_auto_build: bool = True
    jobs: dict[str, Job] = field(default_factory=dict)
    head: Commit | None = None  # the latest commit pushed to the branch (RELEASE builds it)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def next_job_id(self) -> str:
        return str(next(self._ids))

    def active_job(self, now: datetime) -> Job | None:
        """The job whose build users get: the newest one that finished SUCCEED."""
        done = [j for j in self.jobs.values() if j.status(now) == "SUCCEED"]
        return max(done, key=lambda j: (j.end(now), int(j.job_id)), default=None)


@dataclass
class Domain:
    app_id: str
    name: str
    settings: list[dict[str, str]]  # [{"prefix": ..., "branchName": ...}]
    created: datetime
    enable_auto_sub_domain: bool = False
    updated: datetime | None = None

    def status(self, now: datetime) -> tuple[str, str | None]:
        """(domainStatus, updateStatus) at ``now``: UPDATING while an update propagates."""
        if self.updated is not None and (now - self.updated).total_seconds() < PROPAGATION_S:
            return "UPDATING", "PENDING_DEPLOYMENT"
        return "AVAILABLE", "UPDATE_COMPLETE" if self.updated is not None else None


@dataclass
class App:
    app_id: str
    name: str
    created: datetime
    repository: str = ""
    description: str = ""
    platform: str = "WEB"
    environment_variables: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    branches: dict[str, Branch] = field(default_factory=dict)
    domains: dict[str, Domain] = field(default_factory=dict)

    @property
    def manual(self) -> bool:
        """True for a manually deployed app (no Git repository)."""
        return not self.repository


class AmplifyStore:
    """One account's Amplify resources in one region, read and changed at the account clock's "now"."""

    def __init__(self, account: str, region: str) -> None:
        self.account, self.region = account, region
        self.apps: dict[str, App] = {}
        self.lock = threading.RLock()
        self._app_ids = itertools.count(1)

    # -- lookups -------------------------------------------------------------------------------
    def app(self, app_id: str) -> App:
        """The app, or NotFoundException."""
        if app_id not in self.apps:
            raise not_found(f"App {app_id} not found.")
        return self.apps[app_id]

    def branch(self, app_id: str, name: str) -> Branch:
        """The branch, or NotFoundException."""
        app = self.app(app_id)
        if name not in app.branches:
            raise not_found(f"Branch {name} not found for app {app_id}.")
        return app.branches[name]

    def job(self, app_id: str, branch: str, job_id: str) -> Job:
        """The job, or NotFoundException."""
        b = self.branch(app_id, branch)
        if job_id not in b.jobs:
            raise not_found(f"Job {job_id} not found for branch {branch} of app {app_id}.")
        return b.jobs[job_id]

    def domain(self, app_id: str, name: str) -> Domain:
        """The domain association, or NotFoundException."""
        app = self.app(app_id)
        if name not in app.domains:
            raise not_found(f"Domain {name} not found for app {app_id}.")
        return app.domains[name]

    # -- apps and branches -----------------------------------------------------------------------
    def create_app(self, name: str, now: datetime, app_id: str | None = None, **fields: Any) -> App:
        """A new app (``app_id`` lets a rehearsal use the inventory's id; AWS generates ``d...``)."""
        app_id = app_id or f"d{next(self._app_ids):013d}"
        if app_id in self.apps:
            raise bad_request(f"App {app_id} already exists.")
        app = App(app_id, name, now, **fields)
        self.apps[app_id] = app
        return app

    def create_branch(self, app_id: str, name: str, now: datetime, **fields: Any) -> Branch:
        """A new branch of an app; BadRequestException if it exists."""
        app = self.app(app_id)
        if name in app.branches:
            raise bad_request(f"Branch {name} already exists for app {app_id}.")
        branch = Branch(app_id, name, fields.pop("stage", None) or "NONE", now, **fields)
        app.branches[name] = branch
        return branch

    # -- jobs -----------------------------------------------------------------------------------
    def start_job(
        self,
        app_id: str,
        branch: str,
        now: datetime,
        job_type: str,
        *,
        job_id: str | None = None,
        commit_id: str | None = None,
        commit_message: str | None = None,
        commit_time: datetime | None = None,
        reason: str = "",
    ) -> Job:
        """StartJob: RELEASE (repository apps: the commit given or the branch's latest) or RETRY (``job_id``)."""
        app, b = self.app(app_id), self.branch(app_id, branch)
        if job_type == "RELEASE":
            if app.manual:
                raise bad_request("The job type RELEASE is available only for apps that are connected to a repository.")
            commit = self._commit(b, commit_id, commit_message, commit_time, now)
        elif job_type == "RETRY":
            if not job_id:
                raise bad_request("jobId is required when jobType is RETRY.")
            old = self.job(app_id, branch, job_id)
            commit = old.commit
            if app.manual:  # a manual deployment is retried from its own artifact
                return self._add_job(b, "RETRY", commit, now, now, reason, old.source_url, old.source_url_type)
        else:
            raise bad_request(
                f"StartJob does not accept jobType {job_type}: use RELEASE or RETRY (MANUAL jobs come from "
                "CreateDeployment)."
            )
        return self._add_job(b, job_type, commit, now, now, reason)

    def _commit(
        self, b: Branch, commit_id: str | None, message: str | None, time: datetime | None, now: datetime
    ) -> Commit:
        """The commit a RELEASE builds: the one named (known or new), else the branch's latest."""
        if commit_id:
            known = next((j.commit for j in b.jobs.values() if j.commit.commit_id == commit_id), None)
            if known is not None and message is None:
                return known
            commit = Commit(
                commit_id, message if message is not None else (known.message if known else ""), time or now
            )
            if b.head is None or commit.time >= b.head.time:
                b.head = commit
            return commit
        if b.head is None:
            raise bad_request(f"Branch {b.name} has no commit to release.")
        return b.head

    def _add_job(
        self,
        b: Branch,
        job_type: str,
        commit: Commit,
        created: datetime,
        start: datetime | None,
        reason: str,
        source_url: str | None = None,
        source_url_type: str | None = None,
    ) -> Job:
        job = Job(
            b.app_id, b.name, b.next_job_id(), job_type, commit, created, start, reason, source_url, source_url_type
        )
        b.jobs[job.job_id] = job
        return job

    def history_job(
        self, app_id: str, branch: str, *, commit_id: str, message: str, started: datetime, job_type: str = "RELEASE"
    ) -> Job:
        """A job that ran at ``started`` (seeding a rehearsal's history; the API cannot backdate)."""
        b = self.branch(app_id, branch)
        commit = Commit(commit_id, message, started)
        if b.head is None or commit.time >= b.head.time:
            b.head = commit
        return self._add_job(b, job_type, commit, started, started, "rehearsal history")

    def stop_job(self, app_id: str, branch: str, job_id: str, now: datetime) -> Job:
        """StopJob: a job still PENDING, PROVISIONING or RUNNING is CANCELLING, then CANCELLED; a finished (or
        already stopping) one is a BadRequestException."""
        job = self.job(app_id, branch, job_id)
        status = job.status(now)
        if status in FINAL or status == "CANCELLING":
            raise bad_request(f"Job {job_id} is already {status} and cannot be stopped.")
        job.cancelled_at = now
        return job

    def create_deployment(self, app_id: str, branch: str, now: datetime) -> Job:
        """CreateDeployment: a MANUAL job waiting for StartDeployment (manually deployed apps only)."""
        app, b = self.app(app_id), self.branch(app_id, branch)
        if not app.manual:
            raise bad_request(
                "CreateDeployment is only for manually deployed apps; this app is connected to a repository."
            )
        commit = Commit(f"manual-{len(b.jobs) + 1}", "manual deployment", now)
        return self._add_job(b, "MANUAL", commit, now, None, "")

    def start_deployment(
        self,
        app_id: str,
        branch: str,
        now: datetime,
        *,
        job_id: str | None = None,
        source_url: str | None = None,
        source_url_type: str | None = None,
    ) -> Job:
        """StartDeployment: start the CreateDeployment job ``job_id``, or deploy ``source_url`` (manual apps only)."""
        app, b = self.app(app_id), self.branch(app_id, branch)
        if not app.manual:
            raise bad_request(
                "StartDeployment is only for manually deployed apps; this app is connected to a repository (use "
                "StartJob)."
            )
        if job_id:
            job = self.job(app_id, branch, job_id)
            if job.job_type != "MANUAL" or job.start is not None:
                raise bad_request(f"Job {job_id} was not created by CreateDeployment or was already started.")
            if now - job.created > DEPLOYMENT_TTL:
                job.expired_at = job.expired_at or now
                raise bad_request(
                    f"Job {job_id} was created by CreateDeployment at {job.created:%Y-%m-%dT%H:%M:%SZ}, more than 8 "
                    "hours ago: StartDeployment must follow CreateDeployment within 8 hours."
                )
            job.start = now
            return job
        if not source_url:
            raise bad_request("StartDeployment needs the jobId of a CreateDeployment job or a sourceUrl.")
        commit = Commit(f"manual-{len(b.jobs) + 1}", source_url, now)
        return self._add_job(b, "MANUAL", commit, now, now, "", source_url, source_url_type or "ZIP")

    # -- domains --------------------------------------------------------------------------------
    def _check_settings(self, app: App, settings: list[dict[str, str]]) -> list[dict[str, str]]:
        clean = []
        for s in settings:
            if "branchName" not in s or "prefix" not in s:
                raise bad_request("Each subDomainSetting needs prefix and branchName.")
            if s["branchName"] not in app.branches:
                raise not_found(f"Branch {s['branchName']} not found for app {app.app_id}.")
            clean.append({"prefix": s["prefix"], "branchName": s["branchName"]})
        prefixes = [s["prefix"] for s in clean]
        if len(set(prefixes)) != len(prefixes):
            raise bad_request("Duplicate prefixes in subDomainSettings.")
        return clean

    def create_domain(
        self,
        app_id: str,
        name: str,
        settings: list[dict[str, str]],
        now: datetime,
        enable_auto_sub_domain: bool = False,
    ) -> Domain:
        """CreateDomainAssociation (the certificate is taken as verified at once in a rehearsal)."""
        app = self.app(app_id)
        if name in app.domains:
            raise bad_request(f"Domain {name} is already associated with app {app_id}.")
        domain = Domain(app_id, name, self._check_settings(app, settings), now, enable_auto_sub_domain)
        app.domains[name] = domain
        return domain

    def update_domain(
        self,
        app_id: str,
        name: str,
        settings: list[dict[str, str]] | None,
        now: datetime,
        enable_auto_sub_domain: bool | None = None,
    ) -> Domain:
        """UpdateDomainAssociation: the settings given replace the old ones; refused while UPDATING."""
        app, domain = self.app(app_id), self.domain(app_id, name)
        if domain.status(now)[0] == "UPDATING":
            raise bad_request("Cannot update domain while the domain is in UPDATING status.")
        if settings is not None:
            domain.settings = self._check_settings(app, settings)
        if enable_auto_sub_domain is not None:
            domain.enable_auto_sub_domain = enable_auto_sub_domain
        domain.updated = now
        return domain

    # -- what users get -------------------------------------------------------------------------
    def serving(self, app_id: str, domain: str, prefix: str, now: datetime) -> tuple[Branch, Job | None] | None:
        """The branch a domain prefix maps to and the job whose build it serves (None: prefix unmapped)."""
        d = self.domain(app_id, domain)
        setting = next((s for s in d.settings if s["prefix"] == prefix), None)
        if setting is None:
            return None
        branch = self.branch(app_id, setting["branchName"])
        return branch, branch.active_job(now)


_stores: dict[tuple[str, str], AmplifyStore] = {}
_stores_lock = threading.Lock()


def store(account: str, region: str) -> AmplifyStore:
    """The account's store in ``region`` (created on first use)."""
    with _stores_lock:
        key = (account, region)
        if key not in _stores:
            _stores[key] = AmplifyStore(account, region)
        return _stores[key]


def reset(account: str) -> None:
    """Forget every Amplify resource of ``account`` (a target starting on it begins empty, as moto's do)."""
    with _stores_lock:
        for key in [k for k in _stores if k[0] == account]:
            del _stores[key]
