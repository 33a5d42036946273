"""A plugin for subprocess runs (``-p tests.crash_worker``): the xdist worker that runs the test whose node id
contains ``$CRASH_NODE`` dies at once (``os._exit``), as a worker killed by the OOM killer would."""

from __future__ import annotations

import os

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    marker = os.environ.get("CRASH_NODE")
    if marker and marker in item.nodeid and os.environ.get("PYTEST_XDIST_WORKER"):
        os._exit(3)
