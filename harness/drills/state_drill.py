"""Bad Terraform state -> lock release and state version restore (000 §5.2, §5.3, §7.3; 002 "Infrastructure issue").

On the inventory's last state key (the scenario file rehearses the first): the fault is a truncated latest
state version, as an interrupted ``aws s3 cp`` leaves it (Digest stale), plus the lock a crashed apply left
behind. ``terraform-state`` must go red. The recovery is the runbook's order: the stuck lock first (000 §5.3:
listed with age and owner, released with ``--force``, its ID and a reason — a restore refuses while the state
is locked), then the previous version restored with the Digest updated (000 §5.2.2, seed defect 2). Then
``terraform-state`` is green again. Cleanup: whatever the recovery left undone (the content, the lock) is
put back by the fault's undo; the restore's ``<key>.backup-<ts>`` copy stays (000 §5.2.2's backup).

For the drill with real Terraform plans (``terraform plan -detailed-exitcode``) see
harness/drills/terraform_state.py (``run_state_drill``).
"""

from __future__ import annotations

import dataclasses

from harness.actions.base import COMPLETE, ActionResult
from harness.actions.guards import Authority
from harness.actions.terraform_locks import list_locks, unlock_state
from harness.actions.terraform_state import restore_state
from harness.drills.base import BaseDrill, DrillRun
from harness.drills.model import DETECTION, STEADY, VERIFICATION, Check, Detection, DrillSkipped, Probe, Recovery, Row
from harness.drills.rows import STATE_KEY_ROWS
from harness.faults.base import Fault, compound
from harness.faults.deployment import RECORD_GAP_S
from harness.faults.terraform import CRASHED_BY, corrupted_state, stuck_lock
from harness.targets.base import TargetLike

NAME = "terraform-state-corruption"
SEVERITY = "P2 (001 §6.1 High: manual rollback within 15 min)"


def state_key(target: TargetLike) -> str:
    """The state key the drill breaks: the inventory's last (scenarios/test_terraform_state_rollback.py uses the
    first)."""
    tf = target.env.terraform
    if tf is None or not tf.state_keys:
        raise DrillSkipped(f"{target.env.inventory}/{target.env.name} has no Terraform state in its inventory")
    return tf.state_keys[-1]


class StateDrill(BaseDrill):
    """A corrupted state version and a stuck lock on one state key, recovered by unlock then restore."""

    def __init__(self, target: TargetLike, authority: Authority, probe: Probe) -> None:
        self.key = key = state_key(target)
        tf = target.env.terraform
        assert tf is not None
        self.bucket = tf.state_bucket
        self.target, self.authority, self.probe = target, authority, probe
        self.check = Check(STATE_KEY_ROWS, (key,))
        self.name, self.kind, self.ref = NAME, "infrastructure", "000 §5.2, §5.3, §7.3; 002 Rollback Scenarios"
        self.title = f"Bad Terraform state (corrupted version + stuck lock) on {key} -> unlock and restore"
        self.must_detect = (("terraform-state", key),)
        self.digest_of = (target,)
        self.severity = SEVERITY
        self.root_cause = (
            "game-day fault: an interrupted upload left a truncated latest version of "
            f"s3://{tf.state_bucket}/{key} (Digest stale) and a crashed apply left its lock ({CRASHED_BY})"
        )
        self.notes = [
            "000 §5.2.2 restores without updating the lock table's Digest (seed defect 2): the harness's restore "
            "sets it",
            "a restore refuses while the state is locked: the stuck lock is released first (000 §5.3)",
        ]

    def steady(self, run: DrillRun) -> list[Row]:
        """``terraform-state`` on the key, green."""
        return self.probe(self.check, STEADY)

    def inject(self, run: DrillRun) -> Fault:
        """A truncated latest version, then a crashed apply's lock (the first undone if the second fails)."""
        target, key = self.target, self.key
        parts = [corrupted_state(target, key, self.authority)]
        try:
            parts.append(stuck_lock(target, key, self.authority))
        except Exception:
            parts[0].revert(target.clock.now())
            raise
        return compound(
            "bad-terraform-state",
            f"s3://{self.bucket}/{key}",
            "000 §5.2, §5.3; 002 Rollback Scenarios (infrastructure issue)",
            parts,
            clock=target.clock,
        )

    def detect(self, run: DrillRun) -> Detection:
        """``terraform-state`` on the key (must be red)."""
        return Detection(self.probe(self.check, DETECTION))

    def verify(self, run: DrillRun) -> list[Row]:
        """``terraform-state`` on the key, green again."""
        return self.probe(self.check, VERIFICATION)

    def recover(self, run: DrillRun) -> Recovery:
        """The runbook's order: the stuck lock released first (000 §5.3), then the previous version restored."""
        target, key = self.target, self.key
        reason = (
            self.authority.reason
            or "game day: release the crashed apply's lock and restore the last good state (000 §5.2, §5.3)"
        )
        who = dataclasses.replace(self.authority, reason=reason)
        actions: list[ActionResult] = []
        locks = [lk for lk in list_locks(target) if lk.key == key]
        for lock in locks:
            if not lock.stuck:
                return Recovery(
                    "harness state-unlock + state-restore (000 §5.3, §5.2.2)",
                    False,
                    f"{lock.line()}: not stuck, probably a running apply: not released",
                    actions=actions,
                )
            target.clock.sleep(RECORD_GAP_S)
            released = unlock_state(target, key, lock_id=lock.lock_id, force=True, authority=who)
            actions.append(released)
            if released.outcome != COMPLETE:
                return Recovery(
                    "harness state-unlock (000 §5.3)", False, f"{released.outcome}: {released.message}", actions=actions
                )
        target.clock.sleep(RECORD_GAP_S)
        restored = restore_state(target, key, authority=who, previous=True)
        actions.append(restored)
        return Recovery(
            "harness state-unlock --force (000 §5.3), then state-restore --previous with the Digest (000 §5.2.2)",
            restored.outcome == COMPLETE,
            f"{len(locks)} lock(s) released; restore {restored.outcome}: {restored.message}",
            actions=actions,
            events=[e for a in actions for e in a.timeline],
        )


state_drill = StateDrill  # the name scenarios build it by
