"""Bad Lambda deployment -> alias rollback (000 §4.2), and bad deployment of every service -> rollback all (000 §4.4,
002).

The fault (harness/faults/deployment.py) publishes a bad version of each function, moves the alias to it and
writes the deployment record a real deployment writes. Then:

- detection: ``health-endpoint`` of every drilled function (and ``api-health`` when one backs the API) must go
  red. ``lambda-alias-version`` stays green while the fault holds — the newest record is the bad deployment's, and
  the alias serves what it says — and a handler that answers 500 is no Lambda Error, so ``error-rate`` stays green
  too: only the health rows can see this fault (a finding worth knowing before an incident);
- recovery: the harness's rollback to the version before the one each alias serves (not ``Versions[-2]``:
  seed defect 4), or the team's own script (``--recovery-cmd``);
- verification: ``lambda-alias-version`` expecting the version each alias served before the fault, the health
  rows, the API rows; and whether the deployments table now names that version (001 §6.3.2 step 7; a script that
  writes no record leaves the table saying the bad version is deployed: WARN, and the cleanup closes it);
- settle: the verification window passes with healthy traffic, then ``error-rate``, ``latency-p95`` and
  ``log-errors`` must be green (000 §7.4 reads the last 5 minutes; until then they still see the fault).

RTO kinds (002): one function is a "Lambda code bug" (< 5 min), every service a "Full deployment failure" (< 30 min).
"""

from __future__ import annotations

from harness.actions.guards import Authority
from harness.actions.rollback import final_versions, rollback, rollback_all
from harness.drills.base import BaseDrill, DrillRun, UndoStep
from harness.drills.model import (
    DETECTION,
    SETTLE,
    STEADY,
    VERIFICATION,
    Check,
    Detection,
    DrillSkipped,
    Probe,
    Recovery,
    Row,
    row,
)
from harness.drills.rows import (
    API_ROWS,
    AUDIT,
    STATE_ROWS,
    WINDOW_ROWS,
    api_health_paths,
    function_resource,
    resources_for,
)
from harness.drills.traffic import every_function, let_window_pass
from harness.faults.base import Fault
from harness.faults.deployment import (
    RECORD_GAP_S,
    bad_deployment,
    deployment_records,
    describe_mode,
    expected_after,
    put_back,
    recorded_version,
)
from harness.targets.base import TargetLike

SINGLE, ALL = "lambda-bad-deployment", "all-services-bad-deployment"
SEVERITY = "P2 (001 §6.1 High: manual rollback within 15 min)"


def drilled_function(target: TargetLike) -> str:
    """The function a single-function drill breaks: the API's backing function (000 §4.2's example), else the first."""
    env = target.env
    if env.api:
        return env.api.function
    names = every_function(target)
    if not names:
        raise DrillSkipped(f"{env.inventory}/{env.name} has no function")
    return names[0]


class BadDeploymentDrill(BaseDrill):
    """A bad deployment of one function (``all_services=False``) or of every function, recovered by a rollback."""

    def __init__(
        self,
        target: TargetLike,
        authority: Authority,
        probe: Probe,
        *,
        all_services: bool = False,
        mode: str = "error",
        newer_undeployed: int = 0,
    ) -> None:
        env = target.env
        self.target, self.authority, self.probe = target, authority, probe
        self.all_services, self.mode, self.newer_undeployed = all_services, mode, newer_undeployed
        self.functions = every_function(target) if all_services else [drilled_function(target)]
        self.resources = resources_for(env, self.functions)
        must = tuple(("health-endpoint", function_resource(env, fn)) for fn in dict.fromkeys(self.functions))
        self.must_detect = must + tuple(("api-health", p) for p in api_health_paths(env, self.functions))
        self.api_rows = API_ROWS if env.api and env.api.function in self.functions else ()
        self.name = ALL if all_services else SINGLE
        self.kind = "full_deployment" if all_services else "lambda_code"
        self.title = (
            f"Bad deployment of every service ({len(self.functions)} functions) -> rollback all"
            if all_services
            else f"Bad Lambda deployment of {self.functions[0]} -> alias rollback"
        )
        self.ref = (
            "000 §1.2, §4.4, §7.4; 002 rollback-lambda.yml, Rollback Scenarios"
            if all_services
            else "000 §1.2, §4.2, §7.4; 002 Rollback Scenarios"
        )
        self.digest_of = (target,)
        self.severity = SEVERITY
        self.root_cause = (
            f"game-day fault: a bad deployment of {', '.join(self.functions)}: the new version {describe_mode(mode)}"
        )
        self.notes = ["recovery by the harness's rollback"] + (
            [
                f"{newer_undeployed} newer version(s) published but not deployed: the alias is not on the newest "
                "version, where Versions[-2] picks the wrong target (000 §4.4, seed defect 4)"
            ]
            if newer_undeployed
            else []
        )
        # What the phases learn: the version each alias served before the fault, and where it must stand after.
        self.steady_versions: dict[str, str] = {}
        self.expect: dict[str, str] = {}

    def steady(self, run: DrillRun) -> list[Row]:
        """Every alias's version remembered (the cleanup's safety net), then the state, window and API rows."""
        lam, alias = self.target.client("lambda"), self.target.env.alias
        self.steady_versions = {
            fn: lam.get_alias(FunctionName=fn, Name=alias)["FunctionVersion"] for fn in every_function(self.target)
        }
        return self.probe(Check(STATE_ROWS + WINDOW_ROWS + self.api_rows, self.resources), STEADY)

    def inject(self, run: DrillRun) -> Fault:
        """A bad version behind each drilled alias, with the deployment record a real deployment writes."""
        fault = bad_deployment(
            self.target, self.functions, self.authority, mode=self.mode, newer_undeployed=self.newer_undeployed
        )
        self.expect = expected_after(fault)
        return fault

    def detect(self, run: DrillRun) -> Detection:
        """The health rows (the only rows that can see this fault)."""
        return Detection(self.probe(Check(("health-endpoint", "api-health"), self.resources), DETECTION))

    def recover(self, run: DrillRun) -> Recovery:
        """The harness's rollback (000 §4.2), or rollback all (000 §4.4)."""
        # The recovery's record must be newer than the fault's (stamps are to the ms).
        self.target.clock.sleep(RECORD_GAP_S)
        if self.all_services:
            result = rollback_all(self.target, self.authority)
            method = (
                "harness rollback --all: the version before the one each alias serves (000 §4.4, 002; not Versions[-2])"
            )
        else:
            result = rollback(self.target, self.functions[0], self.authority)
            method = (
                "harness rollback: the version before the one the alias serves, checkpoint alias, /health "
                "through fn:alias (000 §4.2)"
            )
        return Recovery(
            method,
            result.ok,
            f"{result.outcome}: {result.message}",
            actions=[result],
            events=list(result.timeline),
            expect_versions=final_versions(result),
        )

    def verify(self, run: DrillRun) -> list[Row]:
        """The aliases back where they were, healthy, and the deployments table saying so."""
        rows = self.probe(Check(STATE_ROWS + self.api_rows, self.resources, expect_versions=self.expect), VERIFICATION)
        return rows + audit_rows(self.target, self.expect)

    def settle(self, run: DrillRun) -> list[Row]:
        """A verification window of healthy traffic later, the windowed rows (000 §7.4)."""
        let_window_pass(self.target)
        return self.probe(Check(WINDOW_ROWS, self.resources), SETTLE)

    def undo_steps(self) -> list[UndoStep]:
        """Aliases back, then a clean verification window if the drill stopped early."""
        return [self.restore_aliases, self.clear_windows]

    def restore_aliases(self, run: DrillRun) -> list[str]:
        """Every alias on the version it served before the fault (a safety net for scripts that move more)."""
        # 000 §4.4 rolls back everything: an external script may move more than the drilled functions.
        if not self.steady_versions:
            return []
        return put_back(self.target, self.authority, self.steady_versions, f"game-day cleanup of {self.name}")

    def clear_windows(self, run: DrillRun) -> list[str]:
        """Stopped before its settle phase: undo the fault, then let a window of healthy traffic pass."""
        # The fault's errors would stay in the verification window: whatever runs next must read a clean one.
        if run.fault is None or SETTLE in run.result.rows:
            return []
        done = run.revert_fault()
        let_window_pass(self.target)
        return done + ["a verification window of healthy traffic let pass (the drill stopped before its settle phase)"]


bad_deployment_drill = BadDeploymentDrill  # the name scenarios build it by


def audit_rows(target: TargetLike, expect: dict[str, str]) -> list[Row]:
    """``audit-record`` per function: the newest deployment record names the version the alias must serve (001 §6.3.2
    step 7).

    WARN, not FAIL: the alias is right either way; a recovery that records nothing leaves ``lambda-alias-version``
    (which reads the newest record) red for every later run until someone records the rollback.
    """
    env = target.env
    if env.deployments_table is None or not expect:
        return []
    records = deployment_records(target)  # one scan for every function (the rows only read)
    out = []
    for fn, version in sorted(expect.items()):
        on_record = recorded_version(target, fn, records)
        ok = on_record == version
        observed = f"newest record names version {on_record}" + (
            "" if ok else f", not {version}: the recovery wrote no rollback record"
        )
        out.append(
            row(
                AUDIT,
                fn,
                f"the newest record in {env.deployments_table.name} names version {version}",
                observed,
                True if ok else "warn",
                "001 §6.3.2 step 7, 002 §4",
            )
        )
    return out
