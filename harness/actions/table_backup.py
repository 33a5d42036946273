"""An on-demand backup before every overwrite of a table's data, and the way back printed with it.

copy-back overwrites a table's items and switch-table moves its functions off a table; both first take
a ``CreateBackup`` of the table they leave (a real snapshot, on AWS and on the emulator:
docs/architecture.md "Emulator facts"), wait until it is AVAILABLE, and name its ARN with the exact
command that restores from it, in the result, the audit record and the report. DynamoDB restores a
backup only into a new table (``RestoreTableFromBackup``), so the way back is that restore, then
``harness copy-back`` from it (000 §6.6 option B, in place).

Both also need consent before data shrinks (:func:`shrink_refusal`): a replacement table that is
empty, or more than ``dynamodb.shrink_refusal_percent`` (default 10 %) smaller, is refused unless
``--allow-shrink`` — a restore taken too early is empty, and switching to it or copying it back would
empty the live table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from harness.clock import Clock
from harness.inventory.model import Table
from harness.poll import PollFailed, PollTimeout, Waiting, poll
from harness.targets.base import TargetLike

STAMP = "%Y%m%d-%H%M%S"
FROM_BACKUP = "-from-backup"  # the table a way back restores into: <table>-from-backup
BACKUP_TIMEOUT_S = 30 * 60.0  # on-demand backups are usually AVAILABLE in seconds, whatever the table size
BACKUP_POLL_S = 5.0
Progress = Callable[[str], None]


@dataclass(frozen=True)
class TableBackup:
    """A backup the harness took: which table, its name and ARN, and how to get the data back from it."""

    table: str
    name: str
    arn: str
    items: int  # the table's item count when the backup was requested
    restore_command: str

    def line(self) -> str:
        """``backup tenants-sit-before-copy-back-... (arn:...; 4 items); way back: aws dynamodb ...``."""
        return f"backup {self.name} ({self.arn}; {self.items} items); way back: {self.restore_command}"

    def record(self) -> dict[str, str]:
        """What the audit record keeps of it."""
        return {"backup_name": self.name, "backup_arn": self.arn, "restore_command": self.restore_command}


def shrink_refusal(spec: Table, live: int, replacement: int, what: str, live_name: str | None = None) -> str | None:
    """Why replacing ``live`` items (of ``live_name``, default the inventory table) with ``replacement`` items of
    ``what`` needs consent (empty, or more than the inventory's ``dynamodb.shrink_refusal_percent`` fewer); None when
    it does not shrink that much."""
    if live == 0:
        return None
    name, limit = live_name or spec.name, spec.shrink_refusal_percent
    fewer = 100.0 * (live - replacement) / live
    if replacement == 0:
        return f"{what} is EMPTY while {name} has {live} items"
    if fewer > limit:
        return (
            f"{what} has {replacement} items, {fewer:.0f} % fewer than {name}'s {live} "
            f"(more than dynamodb.shrink_refusal_percent {limit:g} %)"
        )
    return None


def backup_name(table: str, why: str, now: datetime) -> str:
    """``<table>-before-<why>-<UTC %Y%m%d-%H%M%S>`` (CreateBackup names allow letters, digits, ``-_.``)."""
    return f"{table}-before-{why}-{now.strftime(STAMP)}"


def restore_command(target: TargetLike, table: str, arn: str) -> str:
    """The exact commands that bring ``table``'s backed-up items back: restore to a new table, copy it back."""
    env = target.env
    scratch = f"{table}{FROM_BACKUP}"
    return (
        f"aws dynamodb restore-table-from-backup --backup-arn {arn} --target-table-name {scratch} "
        f"--region {env.region} && harness copy-back --inventory {env.inventory} --env {env.name} --table {table} "
        f"--from {scratch} --allow-shrink"
    )


def take_backup(target: TargetLike, table: str, name: str, items: int, *, progress: Progress) -> TableBackup:
    """CreateBackup, then wait (on the target's clock) until it is AVAILABLE; RuntimeError when it is not."""
    ddb = target.client("dynamodb")
    arn = str(ddb.create_backup(TableName=table, BackupName=name)["BackupDetails"]["BackupArn"])
    _wait_available(ddb, target.clock, arn, name, progress)
    return TableBackup(table, name, arn, items, restore_command(target, table, arn))


def _wait_available(ddb: Any, clock: Clock, arn: str, name: str, progress: Progress) -> None:
    def status() -> str:
        desc = ddb.describe_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"]
        return str(desc["BackupStatus"])

    waiting: Waiting[str] = Waiting(
        f"backup {name}",
        state=lambda s: s,
        done=lambda s: s == "AVAILABLE",
        failed=lambda s: s == "DELETED",
        timeout_s=BACKUP_TIMEOUT_S,
        interval_s=BACKUP_POLL_S,
    )
    try:
        poll(clock, status, waiting, progress=progress)
    except (PollTimeout, PollFailed) as exc:
        raise RuntimeError(f"{exc}: nothing was overwritten") from None
