"""Post-rollback verification (000 §7, checklist table §7.4, PITR table §6.7), read-only.

One test per checklist row: alias version, error rate, p95 latency, log errors, DynamoDB reads,
ECS tasks, Terraform state, PITR, health invoke of fn:alias, API health and responses. After a
rollback, name the version each alias must serve with ``--expect-version fn=VER``.

    pytest scenarios/test_post_rollback_verification.py --env prod --target aws --expect-version
bbws-tenant-instance-management-prod=41
"""

import pytest

pytestmark = [pytest.mark.readonly, pytest.mark.checklist("post-rollback")]


def test_checklist(checklist, row):
    """The row's check passes (WARN passes with its reason in the report; FAIL names resource, expected, observed)."""
    checklist.verify(row)
