"""Amplify on the embedded target (moto has none): the REST API as a middleware of the embedded server
(``amplify_api``) over an in-process control plane (``amplify_model``), and one target's handle
(``target.extensions.amplify``) for what only a rehearsal can do: seed history that ran before the
rehearsal began, and play users' traffic against whatever the domain serves (``amplify_traffic``).

Nothing of moto's is patched (``PATCHES`` is empty): requests signed for the service ``amplify`` are
answered before they reach moto, for the accounts the extensions serve; the others reach moto, which
fails them as it always has.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Callable

from harness.inventory.model import Environment
from harness.targets.embedded.fidelity import amplify_model, amplify_traffic, registry
from harness.targets.embedded.fidelity.amplify_api import AmplifyApi, WsgiApp
from harness.targets.embedded.fidelity.amplify_model import AmplifyStore, Branch, Job
from harness.targets.embedded.fidelity.registry import AccountContext

PATCHES: tuple[registry.Patch, ...] = ()


def install() -> None:
    """Nothing to patch process-wide; ``middleware`` joins one target's server."""


def middleware(default_account: str) -> Callable[[WsgiApp], WsgiApp]:
    """The wrapper ``EmbeddedServer.middlewares`` applies at start (Amplify answered in front of moto)."""
    return lambda app: AmplifyApi(app, default_account)


class AmplifyHandle:
    """One target's Amplify: its store (account and region of the environment) and rehearsal faculties."""

    def __init__(self, ctx: AccountContext, env: Environment, client: Callable[..., Any]) -> None:
        self.ctx, self.env, self.client = ctx, env, client
        amplify_model.reset(ctx.account)  # a target starting on an account starts without Amplify resources

    @property
    def store(self) -> AmplifyStore:
        """The control plane this target's requests reach."""
        return amplify_model.store(self.ctx.account, self.ctx.region)

    def history_job(self, app_id: str, branch: str, *, commit_id: str, message: str, started: datetime) -> Job:
        """A RELEASE job that ran at ``started`` (seeding: history before the rehearsal; the API cannot backdate)."""
        with self.store.lock:
            return self.store.history_job(app_id, branch, commit_id=commit_id, message=message, started=started)

    def serving(
        self, app_id: str | None = None, domain: str | None = None, prefix: str | None = None
    ) -> tuple[Branch, Job | None] | None:
        """The branch the inventory's domain prefix maps to and the job whose build it serves."""
        amp = self.env.amplify
        if amp is None:
            assert app_id and domain and prefix is not None, "no [amplify] in the inventory"
        else:
            app_id, domain = app_id or amp.app_id, domain or amp.domain
            prefix = amp.domain_prefix if prefix is None else prefix
        with self.store.lock:
            return self.store.serving(app_id, domain, prefix, self.ctx.clock.now())

    def release(
        self, branch: str, release: str, *, bad_release: bool = False, build_fails: bool = False, wait: bool = True
    ) -> dict[str, Any]:
        """A rehearsal fault or deployment: a RELEASE job of a new commit on ``branch`` (a release that builds
        but serves 5XX, or one that fails to build), waited for on the target's clock; returns its summary."""
        amp = self.env.amplify
        assert amp is not None, "no [amplify] in the inventory"
        mark = (f" {amplify_model.BAD_RELEASE}" if bad_release else "") + (
            f" {amplify_model.BUILD_FAILS}" if build_fails else ""
        )
        client = self.client("amplify")
        commit = uuid.uuid4().hex + uuid.uuid4().hex[:8]
        job: dict[str, Any] = client.start_job(
            appId=amp.app_id,
            branchName=branch,
            jobType="RELEASE",
            commitId=commit,
            commitMessage=f"release {release}{mark}",
        )["jobSummary"]
        while wait and job["status"] not in amplify_model.FINAL:
            self.ctx.clock.sleep(amplify_model.PENDING_S)
            job = client.get_job(appId=amp.app_id, branchName=branch, jobId=job["jobId"])["job"]["summary"]
        return job

    def go_live(self, branch: str) -> dict[str, Any]:
        """A blue/green go-live: every prefix of the inventory's domain onto ``branch`` (waits until AVAILABLE)."""
        amp = self.env.amplify
        assert amp is not None, "no [amplify] in the inventory"
        client = self.client("amplify")
        assoc = client.get_domain_association(appId=amp.app_id, domainName=amp.domain)["domainAssociation"]
        settings = [{"prefix": s["subDomainSetting"]["prefix"], "branchName": branch} for s in assoc["subDomains"]]
        client.update_domain_association(appId=amp.app_id, domainName=amp.domain, subDomainSettings=settings)
        self.ctx.clock.sleep(amplify_model.PROPAGATION_S)
        live: dict[str, Any] = client.get_domain_association(appId=amp.app_id, domainName=amp.domain)[
            "domainAssociation"
        ]
        return live

    def run_traffic(self, minutes: int) -> list[tuple[datetime, bool]]:
        """Play ``minutes`` of users' traffic, one minute at a time on the target's clock, publishing the
        trigger metrics of whatever the domain serves then; returns (minute, served a bad release)."""
        played = []
        for _ in range(minutes):
            self.ctx.clock.sleep(60)
            now = self.ctx.clock.now()
            served = self.serving()
            bad = bool(served and served[1] is not None and served[1].commit.bad_release)
            amplify_traffic.publish(self.client("cloudwatch"), amplify_traffic.minute(self.env, now, bad_release=bad))
            played.append((now, bad))
        return played

    def close(self) -> None:
        """Nothing to release (the store goes with the account's next reset)."""
