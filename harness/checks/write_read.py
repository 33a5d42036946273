"""What the S3 and DynamoDB write-read rows share (003 §7): the problems one probe met, and its verdict.

A throttle still there after botocore's retries says nothing about the bucket or table: the row is
ERROR (not measured), never FAIL; any other refusal, a read-back that differs or a test item left
behind is FAIL.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from harness.checks.context import Row
from harness.checks.result import CheckResult, Verdict
from harness.targets.base import throttle_code


class Probe:
    """The problems of one write-read probe, in the order met."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.throttled = False

    def problem(self, text: str, exc: ClientError | None = None) -> None:
        """Note a problem; ``exc`` a throttle makes the row ERROR instead of FAIL."""
        self.problems.append(text)
        self.throttled = self.throttled or (exc is not None and bool(throttle_code(exc)))

    def result(self, row: Row, expected: str, passed: str, evidence: dict[str, Any]) -> CheckResult:
        """PASS with ``passed``, else every problem with the evidence as it ended (deleted or not)."""
        if not self.problems:
            return row.result(expected, passed, Verdict.PASS, **evidence)
        observed = "; ".join(self.problems)
        if self.throttled:
            return row.result(
                expected, f"{observed} (throttled after retries: not measured)", Verdict.ERROR, **evidence
            )
        return row.result(expected, observed, Verdict.FAIL, **evidence)
