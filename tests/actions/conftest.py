"""Fixtures for the action tests: seeded rehearsals on accounts no other test uses, and state snapshots.

Targets are module-scoped (one seeding per module and xdist worker); tests only read, or change
functions no other test of the module reads, or put back what they change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from harness import aws
from harness.actions import Authority
from harness.actions import lambda_versions as lv
from harness.inventory import Environment, load_inventory
from harness.targets.embedded import EmbeddedTarget
from harness.targets.embedded.peer import start_peer
from tests.fidelity.conftest import fresh_account, isolated

REHEARSAL = Authority(reason="rehearsal", actor="tests")


def lean(environment: Environment) -> Environment:
    """Only what Lambda actions and their rows read: functions, the deployments table, the API, SSM, metrics.

    Buckets, Terraform state, ECS, stacks and data tables cost seeding time and no action here touches them.
    """
    deployments = tuple(t for t in environment.tables if t.purpose == "deployments")
    return dataclasses.replace(
        environment, tables=deployments, buckets=(), terraform=None, ecs=None, sam_stacks=(), cfn_stacks=()
    )


def start(inventory: str, env: str, **kwargs: Any) -> EmbeddedTarget:
    """A seeded (lean) target for ``inventory``/``env`` on a fresh account (its own server)."""
    return EmbeddedTarget(lean(isolated(load_inventory(inventory).environment(env), fresh_account())), **kwargs).start()


def peer(of: EmbeddedTarget, inventory: str, env: str, **kwargs: Any) -> EmbeddedTarget:
    """A seeded (lean) peer of ``of`` (same server) for ``inventory``/``env`` on a fresh account."""
    return start_peer(of, lean(isolated(load_inventory(inventory).environment(env), fresh_account())), **kwargs)


def in_window(env_name: str = "prod") -> datetime:
    """A moment one minute into a maintenance window of bbws/prod (001 §4.1.2)."""
    from harness.actions.promote import next_window_start

    return next_window_start(load_inventory("bbws").environment(env_name), datetime.now(timezone.utc)) + timedelta(
        minutes=1
    )


@pytest.fixture(scope="module")
def sit() -> Iterator[EmbeddedTarget]:
    """bbws/sit, seeded, on a fresh account."""
    target = start("bbws", "sit")
    yield target
    target.close()


class KeptTarget:
    """A target that is not disposable (a real account or a shared LocalStack) over an embedded one."""

    name = "aws"
    disposable = False
    is_real_account = True
    in_process = False
    waiter_config = None

    def __init__(self, inner: EmbeddedTarget) -> None:
        self.inner, self.env, self.clock = inner, inner.env, inner.clock

    def client(self, service: str, region: str | None = None) -> Any:
        return self.inner.client(service, region)

    def supports(self, capability: str) -> bool:
        return self.inner.supports(capability)

    def unsupported_reason(self, capability: str) -> str | None:
        return self.inner.unsupported_reason(capability)

    def add_call_listener(self, listener: Any) -> None:
        self.inner.add_call_listener(listener)

    def remove_call_listener(self, listener: Any) -> None:
        self.inner.remove_call_listener(listener)


def snapshot(target: Any) -> dict[str, Any]:
    """Everything a rollback or promotion may change: aliases, versions (with code), records, SSM."""
    env, lam = target.env, target.client("lambda")
    names = [n for n, _ in lv.service_functions(env, None, lam)]
    state: dict[str, Any] = {"aliases": {}, "versions": {}, "latest": {}}
    for fn in names:
        state["aliases"][fn] = sorted(
            (a["Name"], a["FunctionVersion"], str(a.get("RoutingConfig")))
            for a in aws.paginate(lam, "list_aliases", "Aliases", FunctionName=fn)
        )
        state["versions"][fn] = [(v.number, v.label, v.code_sha) for v in lv.published_versions(lam, fn)]
        cfg = lam.get_function_configuration(FunctionName=fn)
        state["latest"][fn] = (cfg.get("CodeSha256"), str(cfg.get("Environment")))
    table = env.deployments_table
    state["records"] = sorted(str(i) for i in aws.scan_items(target.client("dynamodb"), table.name)) if table else []
    if env.ssm_deployed_version:
        state["ssm"] = lv.ssm_history(target.client("ssm"), env.ssm_deployed_version)
    return state


def make_bad_version(target: Any, fn: str, fault: str = "raise") -> str:
    """Publish a version of ``fn`` whose handler misbehaves (the rehearsal app's HARNESS_FAULT); the alias stays."""
    lam = target.client("lambda")
    served = lam.get_function_configuration(FunctionName=fn, Qualifier=target.env.alias)
    variables = dict((served.get("Environment") or {}).get("Variables") or {})
    lam.update_function_configuration(FunctionName=fn, Environment={"Variables": {**variables, "HARNESS_FAULT": fault}})
    aws.wait(lam, "function_updated_v2", target.waiter_config, FunctionName=fn)
    version = lam.publish_version(FunctionName=fn, Description=f"bad-{fault}")["Version"]
    lam.update_function_configuration(FunctionName=fn, Environment={"Variables": variables})
    aws.wait(lam, "function_updated_v2", target.waiter_config, FunctionName=fn)
    return str(version)


def alias_version(target: Any, fn: str) -> str:
    """The version ``fn``'s env alias serves."""
    return target.client("lambda").get_alias(FunctionName=fn, Name=target.env.alias)["FunctionVersion"]


def tick(target: Any) -> None:
    """One second on: records carry second-resolution timestamps (001 §6.3.2), so actions stay ordered."""
    target.clock.sleep(1)


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, str]]:
    """A seeded SIT of this module's own, ``harness serve`` in a subprocess (its tests change it and put it back);
    what the server printed (``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``, ...)."""
    from tests.conftest import serve, stop

    proc, info = serve("sit")
    yield info
    stop(proc)


def observing(served: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """An ordinary AWS client view of the served SIT (what an operator's credentials would see), started."""
    from harness.targets.aws import AwsTarget
    from tests.conftest import aws_env

    for key, value in aws_env(served["AWS_ENDPOINT_URL"]).items():
        monkeypatch.setenv(key, value)
    return AwsTarget(load_inventory("bbws").environment("sit")).start()
