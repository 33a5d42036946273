"""A plugin for subprocess runs (``-p tests.gameday.hook_recorder``): appends every fault hook to the file named by
``GAMEDAY_HOOK_LOG``, proving drills announce their faults through ``pytest_harness_fault_injected`` /
``..._reverted``."""

from __future__ import annotations

import os
from typing import Any


def _log(event: str, fault: Any) -> None:
    path = os.environ.get("GAMEDAY_HOOK_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{event} {fault.name} {'active' if fault.active else 'reverted'}\n")


def pytest_harness_fault_injected(config: Any, fault: Any) -> None:
    _log("injected", fault)


def pytest_harness_fault_reverted(config: Any, fault: Any) -> None:
    _log("reverted", fault)
