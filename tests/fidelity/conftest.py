"""Fixtures for the fidelity extension tests: embedded targets on accounts no other test uses.

``reset_account`` wipes an account's moto state when a target starts, so every target here gets
its own 12-digit account (the environment is otherwise the bundled inventory's): tests can run in
any order, in parallel under xdist, next to other targets in the same process.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import os
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness.inventory import Environment, load_inventory
from harness.targets.embedded import EmbeddedTarget

_accounts = itertools.count(1)
ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def fresh_account() -> str:
    """A 12-digit account id unique in this process (and unlike any inventory's)."""
    return f"9{os.getpid() % 100000:05d}{next(_accounts):06d}"


def isolated(environment: Environment, account: str) -> Environment:
    """``environment`` on ``account``, with S3 bucket names made unique too.

    S3 bucket names are global in moto as in AWS, and a closed target's buckets stay registered:
    a seeded copy of an inventory's environment would collide with any other test seeding it.
    """
    buckets = tuple(
        dataclasses.replace(
            b,
            name=f"{b.name}-{account}",
            replication_destination=f"{b.replication_destination}-{account}" if b.replication_destination else None,
        )
        for b in environment.buckets
    )
    tf = environment.terraform
    if tf is not None:
        tf = dataclasses.replace(tf, state_bucket=f"{tf.state_bucket}-{account}")
    return dataclasses.replace(environment, account=account, buckets=buckets, terraform=tf)


def start_target(inventory: str = "bbws", env: str = "sit", **kwargs: Any) -> EmbeddedTarget:
    """An embedded target for ``inventory``/``env`` on a fresh account (started)."""
    environment = isolated(load_inventory(inventory).environment(env), fresh_account())
    return EmbeddedTarget(environment, **kwargs).start()


@pytest.fixture
def make_target() -> Iterator[Callable[..., EmbeddedTarget]]:
    """Start targets on fresh accounts; all are closed after the test."""
    started: list[EmbeddedTarget] = []

    def make(inventory: str = "bbws", env: str = "sit", **kwargs: Any) -> EmbeddedTarget:
        target = start_target(inventory, env, **kwargs)
        started.append(target)
        return target

    yield make
    for target in started:
        target.close()


def handler_zip(source: str, name: str = "handler.py") -> bytes:
    """A deployment package holding one module."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, source)
    return buf.getvalue()


def sample_zip(label: str) -> bytes:
    """The seed's sample handler, stamped with a release label (distinct CodeSha256 per label)."""
    from harness.targets.embedded.seed import function_zip

    return function_zip(label)


def role_arn(target: EmbeddedTarget) -> str:
    """An execution role in the target's account (created once)."""
    iam = target.client("iam")
    try:
        return iam.create_role(RoleName="fidelity-test-role", AssumeRolePolicyDocument=ROLE_POLICY)["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName="fidelity-test-role")["Role"]["Arn"]


def publish(target: EmbeddedTarget, name: str, code: bytes, variables: dict[str, str], timeout: int = 30) -> str:
    """Create ``name`` or update it, publish a version with ``code`` and ``variables``; returns the version."""
    lam = target.client("lambda")
    try:
        lam.get_function(FunctionName=name)
    except lam.exceptions.ResourceNotFoundException:
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role_arn(target),
            Handler="handler.handler",
            Code={"ZipFile": code},
            Timeout=timeout,
            Environment={"Variables": variables},
        )
    else:
        lam.update_function_code(FunctionName=name, ZipFile=code)
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables}, Timeout=timeout)
    return lam.publish_version(FunctionName=name)["Version"]


@pytest.fixture(scope="session")
def seeded_sit() -> Iterator[EmbeddedTarget]:
    """One fully seeded bbws/sit rehearsal (FixedClock) shared by read-only tests of this process."""
    from harness.clock import FixedClock

    target = start_target("bbws", "sit", clock=FixedClock())
    yield target
    target.close()
