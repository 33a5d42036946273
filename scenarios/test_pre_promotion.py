"""Pre-promotion gates on the SOURCE environment (001 §3.1 DEV -> SIT, §4.1 SIT -> PROD), read-only.

``--env`` is the environment being promoted from: errors and throttles over the gate's lookback
(DEV: < 10 in 1 h; SIT: <= 5 in 24 h; throttles 0) and a health invoke of each fn:alias.

    pytest scenarios/test_pre_promotion.py --env sit --target aws
"""

import pytest

pytestmark = [pytest.mark.readonly, pytest.mark.checklist("pre-promotion")]


def test_checklist(checklist, row):
    """The source environment meets the gate (001 §2.1)."""
    checklist.verify(row)
