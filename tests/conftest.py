"""Shared fixtures for the project's own tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.inventory import load_inventory
from harness.targets.embedded import EmbeddedTarget

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def make_embedded() -> Iterator[Callable[..., EmbeddedTarget]]:
    """Start embedded targets (``make_embedded("bbws", "sit")``) and close them after the test."""
    started: list[EmbeddedTarget] = []

    def start(inventory: str, env: str, **kwargs: object) -> EmbeddedTarget:
        target = EmbeddedTarget(load_inventory(inventory).environment(env), **kwargs).start()  # type: ignore[arg-type]
        started.append(target)
        return target

    yield start
    for target in started:
        target.close()


def run_pytest(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run pytest in a subprocess from the repository root; returns the completed process."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_", "PYTEST_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def aws_env(endpoint: str) -> dict[str, str]:
    """Process environment for an ordinary AWS client pointed at ``endpoint`` with dummy credentials."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "dummy",
        "AWS_SECRET_ACCESS_KEY": "dummy",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
