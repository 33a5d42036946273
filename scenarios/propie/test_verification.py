"""004 rollback verification, read-only: the automated rollback triggers (5XX rate, p99 latency,
authentication failures, memory over 5 minutes), which branch the domain serves and whether its latest
build succeeded, and the AppSync stack's state.

    pytest scenarios/propie/test_verification.py --inventory propie --env production                # the embedded
rehearsal
    pytest scenarios/propie/test_verification.py --inventory propie --env production --target aws  # the real account
"""

import pytest

pytestmark = [pytest.mark.readonly, pytest.mark.checklist("propie-rollback")]


def test_checklist(checklist, row):
    """The row's check passes (WARN passes with its reason; a breached alert trigger is a WARN: 004 "manual
    decision")."""
    checklist.verify(row)
