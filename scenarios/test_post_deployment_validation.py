"""Post-deployment validation of S3 and DynamoDB (003 §7 and its validation checklist), read-only.

S3 versioning, public access block, encryption, replication (PROD), tables ACTIVE, billing mode,
no alarms firing; the two write-read rows write one uniquely named test object/item and always
delete it.

    pytest scenarios/test_post_deployment_validation.py --env sit --target aws
"""

import pytest

pytestmark = [pytest.mark.readonly, pytest.mark.checklist("post-deployment")]


def test_checklist(checklist, row):
    """The row's check passes."""
    checklist.verify(row)
