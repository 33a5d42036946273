"""Game day (000 §6; 004 "DynamoDB Rollback"; 002 "Database schema issue", RTO < 60 min): data corruption -> PITR
restore.

The drill writes its own items into the first PITR-required table, snapshots the table, corrupts some items (bulk
update and delete), must see ``data-integrity`` go red, restores the table to the moment before the fault,
verifies the restored table against the snapshot, switches the table's functions to it, and verifies them; then
switches back, undoes the corruption and drops the restored table. ``--gameday-items`` sets the item count.

    pytest scenarios/gameday/test_data_corruption_pitr.py --env sit
"""

import pytest

from harness.drills.pitr_drill import data_corruption_drill

pytestmark = [pytest.mark.gameday, pytest.mark.mutating]


def test_corrupted_table_is_restored_from_pitr(gameday, target, require):
    """Snapshot -> corruption -> data-integrity red -> restore, verify, switch -> green within the database RTO."""
    require("pitr-restore")
    result = gameday.run(
        lambda: data_corruption_drill(
            target, gameday.authority, gameday.probe, items=gameday.items, snapshot_dir=gameday.reports_dir
        )
    )
    assert result.restored is True, result.differences
