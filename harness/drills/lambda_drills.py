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
from harness.drills.model import DETECTION, SETTLE, STEADY, VERIFICATION, Check, Detection, Probe, Recovery, Row, row
from harness.drills.rows import (
    API_ROWS,
    AUDIT,
    STATE_ROWS,
    WINDOW_ROWS,
    api_health_paths,
    function_resource,
    resources_for,
)
from harness.drills.runner import DrillRun, DrillSpec
from harness.drills.traffic import every_function, let_window_pass
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
        from harness.drills.model import DrillSkipped

        raise DrillSkipped(f"{env.inventory}/{env.name} has no function")
    return names[0]


def bad_deployment_drill(
    target: TargetLike,
    authority: Authority,
    probe: Probe,
    *,
    all_services: bool = False,
    mode: str = "error",
    newer_undeployed: int = 0,
) -> DrillSpec:
    """The drill spec: one function (``all_services=False``) or every function of the environment."""
    env = target.env
    functions = every_function(target) if all_services else [drilled_function(target)]
    resources = resources_for(env, functions)
    must = tuple(("health-endpoint", function_resource(env, fn)) for fn in dict.fromkeys(functions))
    must += tuple(("api-health", p) for p in api_health_paths(env, functions))
    api = API_ROWS if env.api and env.api.function in functions else ()
    kind = "full_deployment" if all_services else "lambda_code"

    def steady(run: DrillRun) -> list[Row]:
        return probe(Check(STATE_ROWS + WINDOW_ROWS + api, resources), STEADY)

    def inject(run: DrillRun):  # type: ignore[no-untyped-def]
        fault = bad_deployment(target, functions, authority, mode=mode, newer_undeployed=newer_undeployed)
        run.data["expect"] = expected_after(fault)
        return fault

    def detect(run: DrillRun) -> Detection:
        return Detection(probe(Check(("health-endpoint", "api-health"), resources), DETECTION))

    def recover(run: DrillRun) -> Recovery:
        target.clock.sleep(RECORD_GAP_S)  # the recovery's record must be newer than the fault's (stamps are to the ms)
        if all_services:
            result = rollback_all(target, authority)
            method = (
                "harness rollback --all: the version before the one each alias serves (000 §4.4, 002; not Versions[-2])"
            )
        else:
            result = rollback(target, functions[0], authority)
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

    def verify(run: DrillRun) -> list[Row]:
        rows = probe(Check(STATE_ROWS + api, resources, expect_versions=run.data["expect"]), VERIFICATION)
        return rows + audit_rows(target, run.data["expect"])

    def settle(run: DrillRun) -> list[Row]:
        let_window_pass(target)
        return probe(Check(WINDOW_ROWS, resources), SETTLE)

    def restore_aliases(run: DrillRun) -> list[str]:
        # Safety net for external scripts that move more than the drilled functions (000 §4.4 rolls back everything).
        steady_versions = run.data.get("steady_versions") or {}
        return (
            put_back(target, authority, steady_versions, f"game-day cleanup of {run.spec.name}")
            if steady_versions
            else []
        )

    def clear_windows(run: DrillRun) -> list[str]:
        # A drill that stopped before its settle phase leaves the fault's errors in the verification window: undo the
        # fault first, then let a window of healthy traffic pass, so whatever runs next reads a clean window.
        if run.fault is None or SETTLE in run.result.rows:
            return []
        done = run.revert_fault()
        let_window_pass(target)
        return done + ["a verification window of healthy traffic let pass (the drill stopped before its settle phase)"]

    def remember(run: DrillRun) -> list[Row]:
        lam = target.client("lambda")
        run.data["steady_versions"] = {
            fn: lam.get_alias(FunctionName=fn, Name=env.alias)["FunctionVersion"] for fn in every_function(target)
        }
        return steady(run)

    return DrillSpec(
        name=ALL if all_services else SINGLE,
        title=(
            f"Bad deployment of every service ({len(functions)} functions) -> rollback all"
            if all_services
            else f"Bad Lambda deployment of {functions[0]} -> alias rollback"
        ),
        kind=kind,
        ref="000 §1.2, §4.4, §7.4; 002 rollback-lambda.yml, Rollback Scenarios"
        if all_services
        else "000 §1.2, §4.2, §7.4; 002 Rollback Scenarios",
        target=target,
        steady=remember,
        inject=inject,
        detect=detect,
        must_detect=must,
        recover=recover,
        verify=verify,
        settle=settle,
        cleanup=[restore_aliases, clear_windows],
        digest_of=(target,),
        severity=SEVERITY,
        root_cause=f"game-day fault: a bad deployment of {', '.join(functions)}: the new version {describe_mode(mode)}",
        notes=["recovery by the harness's rollback"]
        + (
            [
                f"{newer_undeployed} newer version(s) published but not deployed: the alias is not on the newest "
                "version, where Versions[-2] picks the wrong target (000 §4.4, seed defect 4)"
            ]
            if newer_undeployed
            else []
        ),
    )


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
