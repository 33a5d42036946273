"""A pytest plugin (``-p tests.fidelity.shape_plugin``): every response any target's client receives in the
run is validated against botocore's output shape; violations are appended, one JSON line each, to the file
named by ``$HARNESS_SHAPE_LOG`` (tests/fidelity/test_shape_contract.py runs the scenarios with it)."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from harness.targets import base
from tests.fidelity.shapes import violations

LOG_VAR = "HARNESS_SHAPE_LOG"
_seen: set[str] = set()


def _record(model: Any, parsed: Any, http_response: Any = None, **_: Any) -> None:
    status = getattr(http_response, "status_code", 200)
    if status >= 300 or model is None or model.output_shape is None:
        return
    _seen.add(f"{model.service_model.service_name}:{model.name}")
    found = violations(model.output_shape, parsed)
    if found:
        with open(os.environ[LOG_VAR], "a") as out:
            out.write(
                json.dumps({"operation": f"{model.service_model.service_name}:{model.name}", "errors": found}) + "\n"
            )


def _instrument() -> None:
    """Register the validator on every target session made in this process (at import: ``-p`` plugins load
    before the harness plugin starts the session's target)."""
    getter = base.Target.session.fget
    instrumented: set[int] = set()

    def session(self: Any) -> Any:
        made = getter(self)
        if id(made) not in instrumented:
            instrumented.add(id(made))
            made.events.register("after-call", _record)
        return made

    base.Target.session = property(session)  # type: ignore[method-assign,assignment] (a test plugin instruments)


_instrument()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Say which operations were validated (the test reads them)."""
    with open(os.environ[LOG_VAR], "a") as out:
        out.write(json.dumps({"validated": sorted(_seen)}) + "\n")
