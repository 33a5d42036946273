"""The Terraform state-restore drill, with real Terraform (000 §5.2, §5.3, §7.3; 002 rollback-terraform.yml).

Against the target's state bucket and lock table, on a scratch key of its own:

1. apply a good configuration, then a bad one (two state versions);
2. restore the good state version — with the harness action (``mode="harness"``), or the runbook's
   way (``mode="runbook"``: 000 §5.2.2's backup and copy, Digest left stale);
3. ``terraform plan -detailed-exitcode``: with the harness, the good configuration exits 0 and the
   bad one 2 ("+0 ~1 -0"); the runbook's way depends on the backend's locking:

   - with a DynamoDB lock table (``dynamodb_table``) Terraform keeps the state's md5 there as the
     ``<bucket>/<key>-md5`` Digest item, the runbook's copy leaves it stale and every plan exits 1
     with Terraform's checksum error (seed defect 2) — the report shows why the harness's Digest
     step exists;
   - with S3-native locking only (``use_lockfile``: the inventory names no lock table, as
     bbws-access's 002 backend, or ``use_lockfile=True``) Terraform keeps no Digest at all, so the
     runbook's copy is enough: the plan exits 0 and the report says seed defect 2 does not apply;
4. (harness mode) a stuck lock as a crashed apply leaves it: plan exits 1 "Error acquiring the state
   lock"; ``state-unlock`` without --force is refused; with --force, the ID and a reason it is
   released and the plan exits 0 again (000 §5.3).

Everything the drill wrote (every version of the scratch key, backups, its Digest item, locks) is
deleted afterwards, so the inventory's own state keys and the checklist never see it. Needs the
``terraform`` extra; :func:`harness.terraform.unavailable` says why not.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import aws
from harness.actions import Authority
from harness.actions.base import COMPLETE, REFUSED, ActionResult
from harness.actions.terraform_locks import unlock_state
from harness.actions.terraform_state import backup_key, digest_item_id, list_versions, read_version, restore_state
from harness.faults.base import FaultRefused
from harness.faults.terraform import crashed_lock
from harness.markdown import header, row
from harness.targets.base import TargetLike
from harness.terraform import (
    PlanOutcome,
    Run,
    Workspace,
    backend_settings,
    hcl,
    isolated_env,
    target_credentials,
    unavailable,
)

DRILL_PREFIX = "runbook-harness-drill"  # scratch keys: <prefix>/<uuid>/terraform.tfstate
CONFIG = """terraform {{
  backend "s3" {{}}
}}

# A release marker: terraform_data needs no provider download (offline drill).
resource "terraform_data" "release" {{
  input = "{release}"
}}

output "release" {{
  value = terraform_data.release.output
}}
"""
GOOD, BAD = "known-good", "bad-release"
CRASHED_BY = "ci@crashed-runner"  # who the drill's stuck lock names: a CI runner's apply that died


@dataclass
class DrillStep:
    """One step: what was done, what was seen, whether it is what the drill expects."""

    name: str
    detail: str
    ok: bool


@dataclass
class DrillReport:
    """The drill's steps, plans and restore result."""

    mode: str
    key: str
    terraform: str
    steps: list[DrillStep] = field(default_factory=list)
    lockfile: bool = False  # S3-native locking only (no lock table): Terraform keeps no md5 Digest
    plans: dict[str, PlanOutcome] = field(default_factory=dict)
    restore: ActionResult | None = None

    @property
    def ok(self) -> bool:
        """True when every step did what the drill expects."""
        return bool(self.steps) and all(s.ok for s in self.steps)

    def step(self, name: str, detail: str, ok: bool) -> bool:
        """Record a step; returns ``ok``."""
        self.steps.append(DrillStep(name, detail, ok))
        return ok

    def render(self) -> str:
        """Markdown: one row per step, then the failing plans' Terraform errors."""
        if self.mode == "harness":
            how = "the harness's state-restore" + (
                " (lockfile locking: no Digest to update)" if self.lockfile else " (Digest updated)"
            )
        elif self.lockfile:
            how = (
                "the runbook's 000 §5.2.2 copy. The backend locks with an S3 lockfile (use_lockfile) and has no "
                "DynamoDB "
                "lock table, so Terraform keeps no md5 Digest: the copy alone is enough and seed defect 2 (Digest left "
                "stale) does not apply here"
            )
        else:
            how = "the runbook's 000 §5.2.2 copy (Digest left stale: seed defect 2)"
        lines = [
            f"### Terraform state drill ({self.mode}): {'as expected' if self.ok else 'NOT as expected'}",
            "",
            f"Terraform {self.terraform}, scratch key `{self.key}`, restore by {how}.",
            "",
            *header(("step", "observed", "as expected")),
        ]
        lines += [row((s.name, s.detail, "yes" if s.ok else "NO")) for s in self.steps]
        errors = [(n, p.error_line()) for n, p in self.plans.items() if p.exit_code == 1 and p.error_line()]
        if errors:
            lines += ["", "Terraform said:", ""] + [f"- {n}: `{e}`" for n, e in errors]
        return "\n".join(lines) + "\n"


class _WithScratchKey:
    """The target, its inventory extended by the drill's scratch key (the actions accept only inventory keys)."""

    def __init__(self, target: TargetLike, key: str, use_lockfile: bool) -> None:
        tf = target.env.terraform
        assert tf is not None
        self._target = target
        # A lockfile-only backend has no lock table: no DynamoDB lock, no Digest (the actions follow the backend).
        scratch = dataclasses.replace(
            tf, state_keys=(*tf.state_keys, key), lock_table=None if use_lockfile else tf.lock_table
        )
        self.env = dataclasses.replace(target.env, terraform=scratch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def runbook_restore(target: TargetLike, key: str, version_id: str) -> None:
    """000 §5.2.2 as written: download the version, back the current state up, copy the old one over the key. No
    Digest."""
    tf = target.env.terraform
    assert tf is not None
    s3 = target.client("s3")
    previous = read_version(target, key, version_id)
    s3.copy_object(
        Bucket=tf.state_bucket,
        Key=backup_key(key, target.clock.now()),
        CopySource={"Bucket": tf.state_bucket, "Key": key},
    )
    s3.put_object(Bucket=tf.state_bucket, Key=key, Body=previous)


def cleanup(target: TargetLike, key: str) -> None:
    """Delete every version the drill wrote under its scratch prefix, its Digest item and any lock."""
    tf = target.env.terraform
    assert tf is not None
    s3 = target.client("s3")
    prefix = key.rsplit("/", 1)[0] + "/"
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=tf.state_bucket, Prefix=prefix):
        for v in (page.get("Versions") or []) + (page.get("DeleteMarkers") or []):
            s3.delete_object(Bucket=tf.state_bucket, Key=v["Key"], VersionId=v["VersionId"])
    if tf.lock_table:
        ddb = target.client("dynamodb")
        for lock_id in (f"{tf.state_bucket}/{key}", digest_item_id(tf, key)):
            ddb.delete_item(TableName=tf.lock_table, Key={"LockID": {"S": lock_id}})


def run_state_drill(
    target: TargetLike,
    *,
    authority: Authority,
    mode: str = "harness",
    use_lockfile: bool = False,
    workdir: str | Path | None = None,
) -> DrillReport:
    """Apply good, apply bad, restore the good state version, plan both configurations; see the module docstring.

    ``use_lockfile``: S3-native locking even where the inventory names a lock table. Without a lock table
    in the inventory the backend locks with a lockfile anyway (:func:`harness.terraform.backend_settings`),
    and the runbook's expectations follow the backend actually used.
    """
    missing = unavailable()
    if missing:
        raise RuntimeError(missing)
    if mode not in ("harness", "runbook"):
        raise ValueError(f"mode must be 'harness' or 'runbook', got {mode!r}")
    tf = target.env.terraform
    if tf is None:
        raise ValueError(
            f"{target.env.inventory}/{target.env.name} has no [terraform] section: no state bucket to drill on"
        )
    use_lockfile = (
        use_lockfile or not tf.lock_table
    )  # what backend_settings configures: no lock table, lockfile locking
    key = f"{DRILL_PREFIX}/{uuid.uuid4().hex[:12]}/terraform.tfstate"
    scratch = _WithScratchKey(target, key, use_lockfile)
    own_dir = workdir is None
    path = Path(workdir or tempfile.mkdtemp(prefix="harness-tf-drill-"))
    (path / "backend.hcl").write_text(hcl(backend_settings(target, key, use_lockfile=use_lockfile)))
    ws = Workspace(path, isolated_env(target_credentials(target)), path / "backend.hcl")
    report = DrillReport(mode, key, "?", lockfile=use_lockfile)
    try:
        _drill(scratch, ws, report, authority, mode, use_lockfile)
    finally:
        cleanup(target, key)
        if own_dir:
            shutil.rmtree(path, ignore_errors=True)
    return report


def _configure(ws: Workspace, release: str) -> None:
    (ws.workdir / "main.tf").write_text(CONFIG.format(release=release))


def _ran(report: DrillReport, name: str, run: Run) -> bool:
    return report.step(
        name, f"exit {run.exit_code}" + ("" if run.exit_code == 0 else f": {run.output[-200:]}"), run.exit_code == 0
    )


def _planned(
    report: DrillReport,
    ws: Workspace,
    name: str,
    release: str,
    want: int,
    *,
    checksum: bool = False,
    lock: bool = False,
) -> PlanOutcome:
    _configure(ws, release)
    outcome = ws.plan()
    report.plans[name] = outcome
    ok = outcome.exit_code == want and (not checksum or outcome.checksum_mismatch) and (not lock or outcome.lock_error)
    expect = (
        f"exit {want}" + (" with the checksum error" if checksum else "") + (" with the lock error" if lock else "")
    )
    report.step(name, f"{outcome.line()} (expected {expect})", ok)
    return outcome


def _drill(
    target: Any, ws: Workspace, report: DrillReport, authority: Authority, mode: str, use_lockfile: bool
) -> None:
    key = report.key
    _configure(ws, GOOD)
    if not _ran(
        report, "terraform init (S3 backend" + (", lockfile)" if use_lockfile else ", DynamoDB lock table)"), ws.init()
    ):
        return
    version = ws.terraform("version")
    report.terraform = version.stdout.split("\n", 1)[0].removeprefix("Terraform ").strip() or "?"
    if not _ran(report, f"apply good configuration ({GOOD})", ws.apply()):
        return
    good = next(v for v in list_versions(target, key)[0] if v.is_latest)
    _configure(ws, BAD)
    if not _ran(report, f"apply bad configuration ({BAD})", ws.apply()):
        return
    _planned(report, ws, "plan good config before the restore", GOOD, 2)
    if mode == "harness":
        result = restore_state(target, key, authority=authority, version_id=good.version_id)
        report.restore = result
        if not report.step(
            "harness state-restore of the good version",
            f"{result.outcome}: {result.message}",
            result.outcome == COMPLETE,
        ):
            return
        _planned(report, ws, "plan good config after the restore", GOOD, 0)
        _planned(report, ws, "plan bad config after the restore", BAD, 2)
        _stuck_lock_steps(target, ws, report, authority)
    else:
        runbook_restore(target, key, good.version_id)
        same = read_version(target, key) == read_version(target, key, good.version_id)
        copied = "(lockfile locking: Terraform keeps no Digest)" if use_lockfile else "(Digest untouched)"
        report.step(
            f"000 §5.2.2 copy of the good version {copied}",
            "latest equals the good version" if same else "copy differs",
            same,
        )
        if use_lockfile:
            # No lock table, no Digest: the runbook's copy is enough there (seed defect 2 does not apply).
            _planned(report, ws, "plan good config after the runbook's restore", GOOD, 0)
        else:
            _planned(report, ws, "plan good config after the runbook's restore", GOOD, 1, checksum=True)


def _stuck_lock_steps(target: Any, ws: Workspace, report: DrillReport, authority: Authority) -> None:
    key = report.key
    try:
        # The game-day fault's writer (no fault guard: the scratch key is the drill's own); conditional, never over a
        # held lock.
        lock_id = crashed_lock(target, key, who=CRASHED_BY).lock_id
    except FaultRefused as exc:
        report.step("leave a crashed apply's stuck lock (000 §5.3)", str(exc), False)
        return
    _planned(report, ws, "plan with a stuck lock (a crashed apply's)", GOOD, 1, lock=True)
    refused = unlock_state(target, key, lock_id=lock_id, force=False, authority=authority)
    report.step("state-unlock without --force", f"{refused.outcome}: {refused.message}", refused.outcome == REFUSED)
    reason = authority.reason or "drill: release the crashed apply's lock (000 §5.3)"
    released = unlock_state(
        target, key, lock_id=lock_id, force=True, authority=dataclasses.replace(authority, reason=reason)
    )
    report.step(
        "state-unlock --force --lock-id ID --reason",
        f"{released.outcome}: {released.message}",
        released.outcome == COMPLETE,
    )
    _planned(report, ws, "plan after the release", GOOD, 0)


def leftovers(target: TargetLike, key: str) -> list[str]:
    """What the drill left under its scratch key (empty after cleanup)."""
    tf = target.env.terraform
    assert tf is not None
    found = [
        v["Key"]
        for v in aws.paginate(
            target.client("s3"), "list_object_versions", "Versions", Bucket=tf.state_bucket, Prefix=key
        )
    ]
    if tf.lock_table:
        for lock_id in (f"{tf.state_bucket}/{key}", digest_item_id(tf, key)):
            if target.client("dynamodb").get_item(TableName=tf.lock_table, Key={"LockID": {"S": lock_id}}).get("Item"):
                found.append(lock_id)
    return found
