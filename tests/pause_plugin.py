"""Test helper plugin (``-p tests.pause_plugin``): makes a pytest run wait where a test can interrupt it.

- ``HARNESS_TEST_PAUSE_AFTER=N`` and ``HARNESS_TEST_PAUSE_FILE=path``: after N checklist rows ran
  (in each process), write ``path.<pid>`` and sleep, so the test sends SIGINT after the first rows.
- ``HARNESS_TEST_START_LOG=path``: every ``Target.start`` (and embedded seeding) appends a line to
  ``path`` first, so a test can tell that a refused run never started (or seeded) a target.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_finished = 0


def _log_starts(path: str) -> None:
    from harness.targets.aws import AwsTarget
    from harness.targets.base import Target
    from harness.targets.embedded import EmbeddedTarget
    from harness.targets.localstack import LocalstackTarget

    for cls in (Target, EmbeddedTarget, LocalstackTarget, AwsTarget):
        original = cls.__dict__.get("start")
        if original is None:
            continue

        def start(self, _original=original, _cls=cls):
            with open(path, "a", encoding="utf-8") as log:
                log.write(f"{_cls.__name__}.start {self.env.name}\n")
            return _original(self)

        cls.start = start  # type: ignore[method-assign]


if os.environ.get("HARNESS_TEST_START_LOG"):
    _log_starts(os.environ["HARNESS_TEST_START_LOG"])


def pytest_runtest_logreport(report) -> None:
    global _finished
    if report.when == "call" and "test_checklist[" in report.nodeid:
        _finished += 1


def pytest_runtest_logfinish(nodeid: str, location: tuple) -> None:
    after = os.environ.get("HARNESS_TEST_PAUSE_AFTER")
    if after and "test_checklist[" in nodeid and _finished == int(after):
        Path(f"{os.environ['HARNESS_TEST_PAUSE_FILE']}.{os.getpid()}").write_text(nodeid, encoding="utf-8")
        time.sleep(120)  # interrupted here
