"""One vocabulary of outcomes for actions, records and drills.

A ``StrEnum``: each member *is* its wire string, so records keep the values the runbooks write
(001 §6.3.2 and 002's ``status``: IN_PROGRESS -> COMPLETE / FAILED) and comparisons with stored
strings keep working.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """How an action, an audit record or a drill ended (or where it stands)."""

    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    REFUSED = "REFUSED"
    DRY_RUN = "DRY_RUN"
    SKIPPED = "SKIPPED"
    IN_PROGRESS = "IN_PROGRESS"
    INTERRUPTED = "INTERRUPTED"
    PASS = "PASS"
    FAIL = "FAIL"
