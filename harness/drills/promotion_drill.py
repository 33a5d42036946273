"""Bad promotion into the next environment -> automatic rollback inside the monitor window (001 §4.3.1, §6.3.1).

The source environment (SIT) gets a bad release candidate (harness/faults/deployment.py ``bad_release``: its
handler raises); the harness promotes it (001 §4: gates on the source, approvals, the maintenance window, a
backup alias) into the destination (PROD's rehearsal: a seeded peer on its own clock, inside a window). The
fault *lands* when the destination's alias moves to the bad version: that moment starts the RTO.

- detection: the post-deployment monitor's trigger (001 §6.3.1 "Health check failure | Status != 200 |
  Immediate rollback"), reported as the row ``auto-rollback-trigger``; no trigger in the window = undetected;
- recovery: the monitor's automatic rollback to the backup version (the promotion's own, no operator);
- verification: the destination's ``lambda-alias-version`` (expecting the version it served before) and
  ``health-endpoint``; settle: a verification window of healthy traffic later, its windowed rows.

The bad release answers 500 (``error``): the monitor's health trigger fires on it as on an exception, and it
adds no Lambda Errors datapoint to the destination's 24-hour promotion gate (001 §2.1) for the rest of the session.

Cleanup (the fault's undo): the destination's alias back where it was if the automatic rollback did not put it
there (a recorded rollback, with the destination's rollback approvals), its ``$LATEST`` back to the served
version's package and settings, the bad version the promotion published deleted; the source's bad release
deleted and its ``$LATEST`` restored. Both environments' digests must equal what they were.

RTO kind: "Lambda code bug | Alias update | < 5 min" (002), on the destination's clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from harness import aws
from harness.actions import lambda_versions as lv
from harness.actions.base import REFUSED, ActionResult
from harness.actions.guards import Authority
from harness.actions.promote import RELEASE_SETTINGS, counterpart, promote, stack_order
from harness.clock import parse_utc
from harness.drills.base import BaseDrill, DrillRun, UndoStep
from harness.drills.model import (
    SETTLE,
    STEADY,
    VERIFICATION,
    Check,
    Detection,
    DrillSkipped,
    Probe,
    Recovery,
    Row,
    is_bad,
    row,
)
from harness.drills.rows import STATE_ROWS, WINDOW_ROWS, function_resource
from harness.drills.traffic import let_window_pass
from harness.faults.base import Fault
from harness.faults.deployment import bad_release, describe_mode, put_back
from harness.targets.base import TargetLike

NAME = "bad-promotion-auto-rollback"
GATE_ROWS = ("source-errors", "source-throttles", "source-health")  # 001 §2.1, §3.1.1, §4.1.1
TRIGGER = "auto-rollback-trigger"
SEVERITY = "P1 (001 §6.1 Critical: automatic rollback)"


def promoted_function(source: TargetLike) -> str:
    """The source function the drill promotes: the last function of the last service in 001 §5.1's order."""
    env = source.env
    listed = lv.service_functions(env, None, source.client("lambda"))  # one ListFunctions for every prefix
    for service in reversed(stack_order(env)):
        names = [fn for fn, of in listed if of == service]
        if names:
            return names[-1]
    raise DrillSkipped(f"{env.inventory}/{env.name} has no function to promote")


def _alias_moved_at(result: ActionResult, fn: str, alias: str, version: str) -> datetime | None:
    """When the promotion moved ``fn``'s alias to the new version (the bad release went live)."""
    for at, change in result.applied:
        if (
            change.resource == f"lambda:{fn}:alias/{alias}"
            and change.attribute == "FunctionVersion"
            and change.before == version
        ):
            return at
    return None


def _restore_latest(dest: TargetLike, fn: str, before: dict[str, Any], served: str) -> list[str]:
    """``$LATEST`` of ``fn`` back to the served version's package and its own previous settings and variables."""
    lam = dest.client("lambda")
    now = lam.get_function_configuration(FunctionName=fn)
    done = []
    if now.get("CodeSha256") != before.get("CodeSha256"):
        got = lam.get_function(FunctionName=fn, Qualifier=served)
        code = lv.function_code(dest, fn, served, got.get("Code", {}).get("Location"))
        lam.update_function_code(FunctionName=fn, ZipFile=code)
        aws.wait(lam, "function_updated_v2", getattr(dest, "waiter_config", None), FunctionName=fn)
        done.append(f"{dest.env.name} {fn}: $LATEST package back to version {served}'s")
    settings = {k: before[k] for k in RELEASE_SETTINGS if k in before and now.get(k) != before[k]}
    variables = (before.get("Environment") or {}).get("Variables") or {}
    if settings or ((now.get("Environment") or {}).get("Variables") or {}) != variables:
        lam.update_function_configuration(FunctionName=fn, Environment={"Variables": variables}, **settings)
        aws.wait(lam, "function_updated_v2", getattr(dest, "waiter_config", None), FunctionName=fn)
        done.append(f"{dest.env.name} {fn}: $LATEST settings and variables restored")
    return done


def _delete_unserved(dest: TargetLike, fn: str, version: str) -> list[str]:
    """Delete the promotion's bad version unless an alias other than a checkpoint names it."""
    lam, env = dest.client("lambda"), dest.env
    on_it = [
        a["Name"]
        for a in aws.paginate(lam, "list_aliases", "Aliases", FunctionName=fn)
        if a["FunctionVersion"] == version
    ]
    kept = [n for n in on_it if not n.startswith((env.checkpoint_alias_prefix, env.incident_alias_prefix))]
    if kept:
        return [f"{env.name} {fn}: version {version} kept (alias {', '.join(kept)} names it)"]
    for name in on_it:
        lam.delete_alias(FunctionName=fn, Name=name)
    lam.delete_function(FunctionName=fn, Qualifier=version)
    return [f"{env.name} {fn}: the promoted bad version {version} deleted"]


class BadPromotionDrill(BaseDrill):
    """A bad release promoted into the next environment, rolled back by the monitor (see the module docstring)."""

    def __init__(
        self,
        source: TargetLike,
        dest: TargetLike,
        authority: Authority,
        probe: Probe,
        *,
        promote_as: Authority,
        rollback_as: Authority,
        mode: str = "error",
    ) -> None:
        src, dst = source.env, dest.env
        if src.promotes_to != dst.name:
            raise DrillSkipped(
                f"{src.inventory}/{src.name} promotes to {src.promotes_to or 'no environment'}, not {dst.name}"
            )
        self.fn = fn = promoted_function(source)
        try:
            self.dest_fn = counterpart(src, dst, fn)
        except (KeyError, IndexError, StopIteration):
            raise DrillSkipped(f"{fn} has no counterpart in {dst.inventory}/{dst.name}") from None
        self.target, self.dest, self.authority, self.probe = source, dest, authority, probe
        self.promote_as, self.rollback_as, self.mode = promote_as, rollback_as, mode
        self.src_res, self.dest_res = function_resource(src, fn), function_resource(dst, self.dest_fn)
        self.gated = src.name in src.gates
        self.name, self.kind, self.ref = NAME, "lambda_code", "001 §4.3.1, §6.3.1, §6.2.1; 002 Rollback Scenarios"
        self.title = f"Bad promotion {src.name} -> {dst.name} of {fn} -> automatic rollback in the monitor window"
        self.must_detect = ((TRIGGER, self.dest_res),)
        self.clock = dest.clock
        self.digest_of = (source, dest)
        self.severity = SEVERITY
        self.root_cause = (
            f"game-day fault: release {fn} {describe_mode(mode)}; it passed the source's gates and was "
            f"promoted into {dst.name}"
        )
        self.notes = [
            f"the destination {dst.name} runs on its own clock; the RTO starts when its alias moved to the bad version"
        ]
        # What the phases learn: the source's gates, the destination as it was, the promotion and what it published.
        self.gates: tuple[bool, str] = (True, "")
        self.dest_before = ""
        self.dest_latest: dict[str, Any] = {}
        self.promotion: ActionResult | None = None
        self.new_version: str | None = None

    def _promotion(self) -> ActionResult:
        if self.promotion is None:
            raise RuntimeError("no promotion: the fault phase has not run")
        return self.promotion

    def steady(self, run: DrillRun) -> list[Row]:
        """The destination's state rows and the source's gate rows; the destination's alias and $LATEST kept."""
        rows = self.probe(Check(STATE_ROWS, (self.dest_res,), target=self.dest), STEADY)
        gates = self.probe(Check(GATE_ROWS, (self.src_res,)), STEADY) if self.gated else []
        failed = [f"{r['slug']} {r['resource']}: {r['observed']}" for r in gates if is_bad(r)]
        self.gates = (not failed, "; ".join(failed) or f"{len(gates)} gate rows passed")
        lam, alias = self.dest.client("lambda"), self.dest.env.alias
        self.dest_before = lam.get_alias(FunctionName=self.dest_fn, Name=alias)["FunctionVersion"]
        self.dest_latest = lam.get_function_configuration(FunctionName=self.dest_fn)
        return rows + gates

    def inject(self, run: DrillRun) -> Fault:
        """A bad release in the source, promoted by the harness; the fault lands when the destination's alias moves."""
        src, dst, fn = self.target.env, self.dest.env, self.fn
        release = bad_release(self.target, fn, self.authority, mode=self.mode)
        version = str(release.after[fn]["release"])
        # Registered before the promotion runs, so a promotion that fails half-way is undone by the cleanup too.
        run.fault = fault = Fault(
            "bad-promotion",
            f"lambda:{self.dest_fn}:alias/{dst.alias} ({dst.name})",
            release.ref,
            before={self.dest_fn: {"version": self.dest_before}, fn: release.before[fn]},
            after={fn: release.after[fn]},
            injected_at=release.injected_at,
            undo=lambda: self._undo_promotion(release),
            detected_by=("health-endpoint",),
            children=[release],
            notes=[
                f"{src.name} {fn}:{version} {describe_mode(self.mode)}; promoted into {dst.name} by the harness "
                "(001 §4)"
            ],
        )
        result = promote(self.target, self.dest, self.promote_as, function=fn, version=version, gates=self.gates)
        self.promotion = result
        if result.outcome == REFUSED:
            raise DrillSkipped(f"the promotion was refused (nothing changed in {dst.name}): {result.message}")
        self.new_version = _new_version(result, self.dest_fn)
        fault.after[self.dest_fn] = {"version": self.new_version, "release": f"{src.name} {fn}:{version}"}
        # The bad release went live when the destination's alias moved to it.
        fault.injected_at = _alias_moved_at(result, self.dest_fn, dst.alias, self.dest_before) or self.dest.clock.now()
        return fault

    def _undo_promotion(self, release: Fault) -> list[str]:
        """The destination's alias, $LATEST and published version put back, then the source's release undone."""
        dest, fn, before = self.dest, self.dest_fn, self.dest_before
        done = put_back(dest, self.rollback_as, {fn: before}, f"game-day cleanup of {NAME}")
        done += _restore_latest(dest, fn, self.dest_latest, before)
        new = self.new_version or _unserved_newer(dest, fn, before)
        if new:
            done += _delete_unserved(dest, fn, new)
        return done + release.revert(self.target.clock.now())

    def detect(self, run: DrillRun) -> Detection:
        """The monitor's trigger (001 §6.3.1) as the row ``auto-rollback-trigger``; none in the window = undetected."""
        result = self._promotion()
        trigger = result.evidence.get("trigger")
        monitor = result.evidence.get("monitor") or {}
        expected = "a 001 §6.3.1 trigger fires within the monitor window"
        if trigger:
            fired = row(TRIGGER, self.dest_res, expected, trigger["quote"], False, "001 §6.3.1", trigger=trigger)
            return Detection([fired], at=parse_utc(trigger["at"]))
        seen = (
            f"no trigger in {monitor.get('window_s', '?')} s ({len(monitor.get('samples') or [])} polls): the "
            "bad release stayed live"
        )
        return Detection([row(TRIGGER, self.dest_res, expected, seen, True, "001 §6.3.1")])

    def recover(self, run: DrillRun) -> Recovery:
        """The monitor's automatic rollback to the backup version (no operator)."""
        result = self._promotion()
        trigger = result.evidence.get("trigger") or {}
        back = next((e for e in result.timeline if "back on backup version" in e.what), None)
        final = result.evidence.get("final_version")
        ok = back is not None and final == self.dest_before
        return Recovery(
            "automatic rollback by the post-deployment monitor (001 §6.3.1), no operator",
            ok,
            result.message,
            actions=[result],
            started=parse_utc(trigger["at"]) if trigger.get("at") else None,
            ended=back.at if back else None,
            events=list(result.timeline),
            expect_versions={self.dest_fn: str(final)} if final else {},
        )

    def verify(self, run: DrillRun) -> list[Row]:
        """The destination's alias on the version it served before, healthy."""
        expect = {self.dest_fn: self.dest_before}
        return self.probe(Check(STATE_ROWS, (self.dest_res,), expect_versions=expect, target=self.dest), VERIFICATION)

    def settle(self, run: DrillRun) -> list[Row]:
        """A window of healthy traffic in the destination, then its windowed rows."""
        # The monitor's probes of the bad release logged ERROR lines in the destination: a window of healthy traffic
        # later, its windowed rows are green (and a later promotion's verification in this session reads a clean
        # window).
        let_window_pass(self.dest)
        return self.probe(Check(WINDOW_ROWS, (self.dest_res,), target=self.dest), SETTLE)

    def undo_steps(self) -> list[UndoStep]:
        """A clean verification window in the destination if the drill stopped early."""
        return [self.clear_windows]

    def clear_windows(self, run: DrillRun) -> list[str]:
        """Stopped before its settle phase: undo, then a window of healthy traffic in the destination (see settle)."""
        if run.fault is None or SETTLE in run.result.rows:
            return []
        done = run.revert_fault()
        let_window_pass(self.dest)
        return done + [
            f"a verification window of healthy traffic let pass in {self.dest.env.name} (the drill stopped before its "
            "settle phase)"
        ]


bad_promotion_drill = BadPromotionDrill  # the name scenarios build it by


def _unserved_newer(dest: TargetLike, fn: str, served: str) -> str | None:
    """The newest published version after ``served`` (what a promotion that failed half-way published), or None."""
    versions = lv.published_versions(dest.client("lambda"), fn)
    newer = [v.number for v in versions if lv.version_key(v.number) > lv.version_key(served)]
    return newer[-1] if newer else None


def _new_version(result: ActionResult, fn: str) -> str | None:
    """The version the promotion published in the destination (from the record's functions map or the changes)."""
    if result.record is not None and fn in result.record.functions:
        return result.record.functions[fn].to_version
    for _, change in result.applied:
        if change.resource == f"lambda:{fn}:version/{change.after}" or change.resource.startswith(
            f"lambda:{fn}:version/"
        ):
            return change.resource.rsplit("/", 1)[-1]
    return None
