"""pytest plugin for the read-only test: records every AWS operation any boto3 session makes.

Loaded with ``-p tests.checks.op_recorder``; appends ``service.Operation`` lines to the file named
by ``HARNESS_OP_LOG`` (one line per call, from every process, xdist workers included).
"""

from __future__ import annotations

import os
from typing import Any

import boto3.session

_LOG = os.environ.get("HARNESS_OP_LOG")
_original_init = boto3.session.Session.__init__


def _record(model: Any, **_: Any) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as fh:
            fh.write(f"{model.service_model.service_name}.{model.name}\n")


def _init(self: boto3.session.Session, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    self.events.register("before-call", _record)  # botocore event hook: before every API call


boto3.session.Session.__init__ = _init  # type: ignore[method-assign]
