"""Seed what the 004 procedures act on (PropIE): the Amplify app with its blue and green branches, their
build history and the custom domain; the AppSync stack's template history; a healthy baseline of the
automated-rollback trigger metrics.

- Amplify (004 Blue/Green Deployment Rollback): the app (the inventory's id, connected to the inventory's
  repository), the production (blue) branch and the green branch, each with several builds, good and
  bad, each with a commit id: production's history has a build that failed between two good ones, the
  newest good one serving; green's newest build is the next release. The domain maps the inventory's
  prefix (and its other prefixes) to production. History jobs ran before the rehearsal began, so they
  are placed through the target's handle (the API cannot backdate); everything else through the API.
  Without the fidelity extensions there is no Amplify, and nothing of it is seeded.
- CloudFormation (004 Rollback Infrastructure Changes): each inventory stack (created by ``seed.py``) is
  updated ``versions_per_function`` times with an AppSync stand-in template whose Description names the
  release, so the stack has a history and the previous template is known.
- Triggers (004 Automated Rollback Triggers): ``METRIC_HOURS`` of healthy 5-minute datapoints of every
  ``[auto_rollback.sources]`` metric, newest at seeding time (``fidelity/amplify_traffic``).
"""

from __future__ import annotations

import hashlib
import json
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Any

from harness.inventory.model import Environment

METRIC_PERIOD = timedelta(minutes=5)
METRIC_HOURS = 3  # the triggers' windows are 5 minutes; 3 h outlasts a rehearsal's waits (24 h cost 1.7 s to seed)
HISTORY_SPACING = timedelta(hours=6)  # between seeded builds of a branch


def release_label(n: int) -> str:
    """The release a seeded build or template carries (as the Lambda seed's version Descriptions)."""
    return f"1.0.{n}"


def commit_id(branch: str, n: int) -> str:
    """A stable 40-hex commit id for the n-th commit of a branch."""
    return hashlib.sha1(f"{branch}:{n}".encode()).hexdigest()


def appsync_template(stack: str, release: str, *, fails_with: str | None = None) -> str:
    """The AppSync stack stand-in: a parameter holding the release (moto's CloudFormation supports
    AWS::SSM::Parameter; AppSync resource types it does not), Description naming the release."""
    resource: dict[str, Any] = {
        "Type": "AWS::SSM::Parameter",
        "Properties": {"Name": f"/{stack}/release", "Type": "String", "Value": {"Ref": "SchemaVersion"}},
    }
    if fails_with:  # fidelity/cloudformation_states: this resource fails when created or changed
        resource["Metadata"] = {"HarnessRehearsal": {"FailsWith": fails_with}}
    return json.dumps(
        {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": f"PropIE AppSync API (rehearsal stand-in) release {release}",
            "Parameters": {"Environment": {"Type": "String"}, "SchemaVersion": {"Type": "String"}},
            "Resources": {"ApiRelease": resource},
        },
        indent=2,
    )


def appsync_parameters(env: Environment, release: str) -> list[dict[str, str]]:
    """The stand-in's parameters for ``release`` (004's backup/appsync-parameters-previous.json format)."""
    return [
        {"ParameterKey": "Environment", "ParameterValue": env.name},
        {"ParameterKey": "SchemaVersion", "ParameterValue": release},
    ]


def stack_history(target: Any) -> Any:
    """A block in which the target's stack operations complete at once (they ran before the rehearsal began);
    a plain-moto target completes them at once anyway."""
    handle = getattr(getattr(target, "extensions", None), "cloudformation", None)
    return handle.history() if handle is not None else nullcontext()


def seed(target: Any, env: Environment, now: datetime) -> None:
    """Seed the Amplify app, the stacks' history and the trigger baseline for ``env``."""
    if env.amplify is not None:
        seed_amplify(target, env, now)
    for stack in env.cfn_stacks:
        seed_stack_history(target, env, stack)
    if env.triggers:
        seed_trigger_baseline(target, env, now)


def seed_amplify(target: Any, env: Environment, now: datetime) -> None:
    """App, blue and green branches with build history, the domain on blue (fidelity extensions only)."""
    handle = getattr(getattr(target, "extensions", None), "amplify", None)
    amp = env.amplify
    if handle is None or amp is None:
        return  # moto alone has no Amplify: EmbeddedTarget(fidelity=False) shows exactly that
    from harness.targets.embedded.fidelity.amplify_model import BUILD_FAILS  # the extensions are installed: importable

    n = env.rehearsal.versions_per_function
    # production: 1.0.1 good, a build of 1.0.2 that failed, then 1.0.2 fixed and serving ...
    history = [(1, "")] + [(i, f" {BUILD_FAILS}" if k == 0 else "") for i in range(2, n + 1) for k in (0, 1)]
    # The app and its branches exist before their first build (one clock: no job starts before its branch).
    created = now - HISTORY_SPACING * (len(history) + 1)
    with handle.store.lock:  # the API can neither choose an app id (the rehearsal uses the inventory's) nor backdate
        handle.store.create_app(
            env.inventory, created, app_id=amp.app_id, repository=amp.repository or "", description=amp.ref
        )
        handle.store.create_branch(amp.app_id, amp.branch, created, stage="PRODUCTION", description="blue (004)")
        if amp.green_branch:
            handle.store.create_branch(amp.app_id, amp.green_branch, created, stage="BETA", description="green (004)")
    client = target.client("amplify")
    _history(handle, amp.app_id, amp.branch, history, now)
    if amp.green_branch:
        # green: what production serves, then the next release staged for the switch
        _history(handle, amp.app_id, amp.green_branch, [(n, ""), (n + 1, "")], now)
    prefixes = [amp.domain_prefix, *amp.other_prefixes]
    client.create_domain_association(
        appId=amp.app_id,
        domainName=amp.domain,
        subDomainSettings=[{"prefix": p, "branchName": amp.branch} for p in prefixes],
    )


def _history(handle: Any, app_id: str, branch: str, builds: list[tuple[int, str]], now: datetime) -> None:
    for k, (n, mark) in enumerate(builds):
        started = now - HISTORY_SPACING * (len(builds) - k)
        attempt = sum(1 for m, _ in builds[:k] if m == n)
        handle.history_job(
            app_id,
            branch,
            commit_id=commit_id(branch, 2 * n + attempt),
            message=f"release {release_label(n)}{mark}",
            started=started,
        )


def seed_stack_history(target: Any, env: Environment, stack: str) -> None:
    """Update the (seed-created) stack through ``versions_per_function`` AppSync releases."""
    cfn = target.client("cloudformation")
    for n in range(1, env.rehearsal.versions_per_function + 1):
        release = release_label(n)
        cfn.update_stack(
            StackName=stack, TemplateBody=appsync_template(stack, release), Parameters=appsync_parameters(env, release)
        )


def bad_release_message(n: int) -> str:
    """A commit message whose build succeeds but serves a release that answers 5XX (fidelity/amplify_model)."""
    from harness.targets.embedded.fidelity.amplify_model import BAD_RELEASE

    return f"release {release_label(n)} {BAD_RELEASE}"


def seed_trigger_baseline(target: Any, env: Environment, now: datetime) -> None:
    """``METRIC_HOURS`` of healthy trigger datapoints at 5-minute resolution, newest at ``now``."""
    from harness.targets.embedded.fidelity import (
        amplify_traffic,
    )  # the traffic shape only: plain-moto targets get the baseline too

    end = now.replace(microsecond=0)
    points = int(timedelta(hours=METRIC_HOURS) / METRIC_PERIOD)
    minutes = int(METRIC_PERIOD.total_seconds() // 60)
    data: dict[str, list[dict[str, Any]]] = {}
    for p in range(points):
        for namespace, items in amplify_traffic.minute(env, end - METRIC_PERIOD * p, minutes=minutes).items():
            data.setdefault(namespace, []).extend(items)
    amplify_traffic.publish(target.client("cloudwatch"), data)
