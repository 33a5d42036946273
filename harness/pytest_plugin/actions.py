"""pytest glue for mutating scenarios: the caller's authority, running an action, and verifying it
with the runbook's checklist on a fresh context (the design card's "a plugin executes the actions
and asserts the Section 7 verification checklist").

Actions live in ``harness/actions`` and know nothing of pytest or Allure; this module runs them,
announces them through the ``pytest_harness_action_applied`` hook and turns checklist rows into
assertions, Allure steps and rows of the run's verification report.

Fixtures: ``rollback`` (runs a rollback and puts the aliases back afterwards),
``peer_target`` (another environment of the inventory: a promotion's other side),
``rehearsal_authority`` (stand-in approvers on a disposable rehearsal only), ``action_reports``
(the 000 §8 incident report and the 001 §7 checklists into reports/ and Allure); ``verify_checklist``
takes ``target=`` (verify a peer) and ``record=``. Every mutating step (``run_action``, the ``rollback``
fixture and its teardown) holds the environment's operation lease (harness/lease.py).

Slightly over 450 lines: the mutating scenarios' fixtures (actions, leases, peers, reports) share helpers
and read best together until the plugin is split into smaller modules.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import allure
import pytest

from harness.actions import ActionResult, Authority, lambda_versions
from harness.actions.decisions import Decision
from harness.actions.rollback import RollbackTo, final_versions, rollback_all
from harness.actions.rollback import rollback as rollback_one
from harness.checks.catalogue import PlannedRow, rows_for
from harness.checks.context import CheckContext
from harness.checks.result import CheckResult, Verdict
from harness.checks.runner import run_row
from harness.clock import Clock
from harness.errors import HarnessError
from harness.faults.deployment import RECORD_GAP_S, put_back
from harness.inventory import Environment, Inventory
from harness.lease import operation_lease
from harness.pytest_plugin.allure_tidy import status_step
from harness.pytest_plugin.checklist import row_meta
from harness.report import incident_facts, promotion_checklist, render_incident, rollback_checklist
from harness.report.labels import clock_note, file_token, label_report, rehearsal_label
from harness.targets.base import Target

EXTRA_ROWS_PROP = "checklist_rows"  # rows verified inside one test (the reporting plugin collects them)


@pytest.fixture(scope="session")
def authority(pytestconfig: pytest.Config) -> Authority:
    """The run's permission and approvals: --allow-mutation, --approved-by, --reason, --incident, --emergency."""
    return Authority(
        allow_mutation=bool(pytestconfig.getoption("--allow-mutation")),
        approvers=tuple(pytestconfig.getoption("--approved-by") or ()),
        reason=pytestconfig.getoption("--reason"),
        actor=pytestconfig.getoption("--actor") or "",
        incident=pytestconfig.getoption("--incident"),
        emergency=bool(pytestconfig.getoption("--emergency")),
    )


@contextmanager
def scenario_lease(request: pytest.FixtureRequest, target: Target, what: str) -> Iterator[None]:
    """The environment's operation lease around one mutating step of a scenario (harness/lease.py): a second
    operator's run, a CLI apply or another pytest run on the same account and environment waits for nobody and
    fails the test naming the holder."""
    who = request.config.getoption("--actor", None) or Authority().who
    with operation_lease(target, command=f"pytest {request.node.nodeid} ({what})", scope=what, actor=who):
        yield


@pytest.fixture
def run_action(request: pytest.FixtureRequest) -> Callable[..., ActionResult]:
    """``run_action(lambda: rollback(...), on=target)``: take the environment's lease (``on``, default the run's
    target), run it, attach plan and result to Allure, announce it."""

    def run(call: Callable[[], ActionResult], *, on: Target | None = None) -> ActionResult:
        where = on or request.getfixturevalue("target")
        with scenario_lease(request, where, "action"):
            result = call()
        request.config.hook.pytest_harness_action_applied(config=request.config, result=result)
        return result

    return run


def pytest_harness_action_applied(config: pytest.Config, result: ActionResult) -> None:
    """Evidence of every action in the current Allure test: the plan, then what was done."""
    allure.attach(result.plan.render(), name=f"plan: {result.plan.action}", attachment_type=allure.attachment_type.TEXT)
    allure.attach(
        json.dumps(result.to_dict(), indent=2, default=str, ensure_ascii=False),
        name=f"{result.plan.action}: {result.outcome}",
        attachment_type=allure.attachment_type.JSON,
    )


def _report_row(planned: PlannedRow, result: CheckResult, phase: str) -> dict[str, Any]:
    return {
        **row_meta(planned),
        "expected": result.expected,
        "observed": result.observed,
        "verdict": result.verdict.value,
        "phase": phase,
        "calls": len(result.calls),
    }


class ChecklistVerifier:
    """Runs checklist rows on a fresh context after an action, inside the current test."""

    def __init__(self, node: pytest.Item, base: CheckContext) -> None:
        self.node, self.base = node, base

    def __call__(
        self,
        procedure: str | None = "post-rollback",
        *,
        slugs: Iterable[str] | None = None,
        resources: Iterable[str] | None = None,
        expect_versions: dict[str, str] | None = None,
        phase: str = "verification",
        must_pass: bool = True,
        target: Target | None = None,
        record: bool = True,
    ) -> list[CheckResult]:
        """Run the rows (of ``procedure``, narrowed to ``slugs``/``resources``); FAIL or ERROR fails the test.

        ``target``: verify another environment (a promotion's destination peer) on its own fresh
        context; ``record=False`` keeps the rows out of the run's verification report (a drill's
        expected failures belong in its own report, not in the run's verdict).
        """
        if target is not None and target is not self.base.target:
            ctx = CheckContext.for_target(
                target, expect_versions=expect_versions, api_base_url=getattr(target, "api_base_url", None)
            )
        else:
            ctx = self.base.fresh(expect_versions={**self.base.expect_versions, **(expect_versions or {})})
        wanted = set(resources) if resources is not None else None
        planned = [
            p
            for p in rows_for(ctx.env, procedure, tuple(slugs) if slugs else None)
            if wanted is None or p.row.resource in wanted
        ]
        results: list[CheckResult] = []
        rows: list[dict[str, Any]] = []
        with allure.step(
            f"{phase}: {len(planned)} checklist row(s) on a fresh context at {ctx.now.isoformat(timespec='seconds')}"
        ):
            for p in planned:
                result = run_row(ctx, p)
                results.append(result)
                rows.append(_report_row(p, result, phase))
                with status_step(f"{p.spec.slug} on {p.row.resource}: {result.verdict.value.upper()}", result, phase):
                    allure.attach(
                        json.dumps(result.to_dict(), indent=2, default=str, ensure_ascii=False),
                        name="observed",
                        attachment_type=allure.attachment_type.JSON,
                    )
        if record:
            self.node.user_properties.append((EXTRA_ROWS_PROP, json.dumps(rows, default=str)))
        bad = [r for r in results if r.verdict in (Verdict.FAIL, Verdict.ERROR)]
        if must_pass and bad:
            pytest.fail("\n".join(r.message() for r in bad), pytrace=False)
        return results


@pytest.fixture
def verify_checklist(request: pytest.FixtureRequest, checklist_context: CheckContext) -> ChecklistVerifier:
    """``verify_checklist("post-rollback", slugs=[...], expect_versions={fn: "2"})`` after an action."""
    return ChecklistVerifier(request.node, checklist_context)


@pytest.fixture
def write_report(request: pytest.FixtureRequest) -> Callable[[str, str], Path]:
    """``write_report("incident-...md", markdown)``: save a report in this run's reports directory and attach it to
    Allure."""
    from harness.pytest_plugin.state import harness_state

    def write(name: str, text: str) -> Path:
        folder = harness_state(request.config).reports_dir or Path("reports")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text(text, encoding="utf-8")
        kind = allure.attachment_type.JSON if name.endswith(".json") else allure.attachment_type.TEXT
        if name.endswith(".md"):
            allure.attach(text, name=name, attachment_type="text/markdown", extension="md")
        else:
            allure.attach(text, name=name, attachment_type=kind)
        return path

    return write


@pytest.fixture
def require(target: Target) -> Callable[..., None]:
    """``require("lambda-invoke", "pitr-restore")``: skip with the target's reason when it lacks one."""

    def check(*capabilities: str) -> None:
        for capability in capabilities:
            if not target.supports(capability):
                pytest.skip(target.unsupported_reason(capability) or capability)

    return check


# -- running the runbook's actions ----------------------------------------------------------------


def rows_as_dicts(results: Iterable[CheckResult]) -> list[dict[str, Any]]:
    """Checklist results as the plain rows harness/report takes (``harness/`` never imports ``checks/``)."""
    return [r.to_dict() for r in results]


@pytest.fixture(scope="session")
def rehearsal_authority(authority: Authority, target: Target, env: Environment) -> Callable[[str], Authority]:
    """``rehearsal_authority("sit-to-prod")``: the run's authority, or on a disposable target rehearsal approvers.

    A rehearsal rehearses the approval gate too: on the embedded target, when no ``--approved-by``
    was given, one stand-in approver per role of the inventory's rule (``rehearsal Tech Lead``, ...)
    and a reason are supplied, so the guard is exercised and passes. On any other target only the
    approvers and reason given on the command line count.
    """

    def make(rule_name: str, *, for_env: Environment | None = None) -> Authority:
        if not target.disposable or authority.approvers:
            return authority
        rule = (for_env or env).approvals.get(rule_name)
        roles = list(rule.roles) if rule else []
        needed = rule.min_approvers if rule else 0
        approvers = (
            tuple(f"rehearsal {roles[i % len(roles)]}{'' if i < len(roles) else f' {i + 1}'}" for i in range(needed))
            if roles
            else ()
        )
        return replace(
            authority,
            approvers=approvers,
            reason=authority.reason or f"rehearsal of the {rule_name} procedure",
            actor=authority.actor or "runbook-harness rehearsal",
        )

    return make


class Peers:
    """Other environments of the session's inventory, started once per session (per xdist worker)."""

    def __init__(self, target: Target, inventory: Inventory) -> None:
        self.target, self.inventory = target, inventory
        self.started: dict[str, Target] = {}

    def __call__(self, name: str, *, clock: Clock | None = None) -> Target:
        """The started target for environment ``name`` (embedded: a seeded peer on the same moto server)."""
        if name == self.target.env.name:
            return self.target
        if name in self.started:
            return self.started[name]
        other = self.inventory.environment(name, strict_env_vars=self.target.name == "aws")
        peer: Target
        try:
            if self.target.in_process:
                from harness.targets.embedded.peer import start_peer

                peer = start_peer(self.target, other, clock=clock)  # type: ignore[arg-type]  # (in_process: an EmbeddedTarget)
            else:
                from harness.targets import make_target

                peer = make_target(self.target.name, other, **({"clock": clock} if clock else {})).start()
        except HarnessError as exc:
            pytest.skip(f"{other.inventory}/{name} is not reachable on target {self.target.name}: {exc}")
        except Exception as exc:  # noqa: BLE001 (no credentials for the other account, endpoint down, ...)
            pytest.skip(
                f"{other.inventory}/{name} is not reachable on target {self.target.name}: {type(exc).__name__}: {exc}"
            )
        self.started[name] = peer
        return peer

    def close(self) -> None:
        """Close every peer this session started."""
        for peer in self.started.values():
            peer.close()
        self.started.clear()


@pytest.fixture(scope="session")
def peer_target(target: Target, inventory: Inventory) -> Iterator[Peers]:
    """``peer_target("prod", clock=...)``: another environment of the inventory (a promotion's other side).

    On the embedded target it is a seeded rehearsal in its own account on the same moto server (with
    its own clock when given, e.g. one inside a maintenance window); on other targets the same kind of
    target for that environment (its own credentials and account guard), or a skip with the reason.
    """
    peers = Peers(target, inventory)
    yield peers
    peers.close()


def _original_versions(target: Target, functions: Iterable[str]) -> dict[str, str]:
    lam = target.client("lambda")
    out = {}
    for fn in functions:
        alias = lam.get_alias(FunctionName=fn, Name=target.env.alias)
        out[fn] = alias["FunctionVersion"]
    return out


def restore_aliases(target: Target, authority: Authority, versions: dict[str, str]) -> list[str]:
    """Put aliases back on ``versions``, weighted routing cleared, with a recorded rollback (the newest record agrees).

    The game day's ``put_back`` (harness/faults/deployment.py): an alias on its version with routing weights left
    over is not back either (002 ``--routing-config '{}'``). A restore that fails is an error of the test's teardown
    naming the functions, not a silence: the session's later checklists would read it as someone else's red row.
    """
    try:
        return put_back(target, authority, versions, f"restore after a rehearsal: {authority.reason or 'scenario'}")
    except RuntimeError as exc:
        pytest.fail(
            f"rollback fixture teardown: {exc} (aliases {target.env.alias} of {target.env.inventory}/{target.env.name} "
            "are not where the test found them)",
            pytrace=False,
        )
    finally:
        # The restore's record is stamped to the ms (harness/records.py utc_stamp): whatever the session records
        # next must be newer, on a FixedClock too, for lambda-alias-version to read the restore's (001 §6.3.2 step 7).
        target.clock.sleep(RECORD_GAP_S)


class Rollbacks:
    """The ``rollback`` fixture: runs rollbacks and remembers where each alias stood before the first one moved it."""

    def __init__(
        self,
        target: Target,
        authority: Authority,
        run_action: Callable[..., ActionResult],
        request: pytest.FixtureRequest | None = None,
    ) -> None:
        self.target, self.authority, self.run_action, self.request = target, authority, run_action, request
        self.originals: dict[str, str] = {}
        self.used: list[tuple[Target, Authority]] = []

    def __call__(
        self,
        functions: str | Sequence[str] | None = None,
        to: RollbackTo | None = None,
        *,
        service: str | None = None,
        on: Target | None = None,
        as_: Authority | None = None,
    ) -> ActionResult:
        """Roll back one function, a list, a service or all (``on=`` another target, ``as_=`` another authority)."""
        where, who = on or self.target, as_ or self.authority
        names = [functions] if isinstance(functions, str) else list(functions or [])
        if not names:
            names = [fn for fn, _ in lambda_versions.service_functions(where.env, service, where.client("lambda"))]
        for fn, v in _original_versions(where, names).items():
            self.originals.setdefault(fn, v)
        self.used.append((where, who))
        where.clock.sleep(RECORD_GAP_S)  # records are stamped to the ms: this action's must be newer than earlier ones
        if isinstance(functions, str):
            return self.run_action(lambda: rollback_one(where, functions, who, to), on=where)
        return self.run_action(lambda: rollback_all(where, who, to, service=service), on=where)

    def restore(self) -> list[str]:
        """Teardown: every alias a rollback moved back where it was (under the lease); a failed restore fails the
        teardown."""
        if not (self.used and self.originals):
            return []
        where, who = self.used[0]
        what = "restore after the rollback fixture"
        node = self.request.node.nodeid if self.request is not None else "rollback fixture"
        with operation_lease(where, command=f"pytest {node} ({what})", scope=what, actor=who.who):
            return restore_aliases(where, who, self.originals)


@pytest.fixture
def rollback(
    request: pytest.FixtureRequest, target: Target, authority: Authority, run_action: Callable[..., ActionResult]
) -> Callable[..., ActionResult]:
    """``rollback(fns, to=RollbackTo.previous(), service=None)``: run a rollback (one function, a list, or all)
    through ``run_action``; afterwards the aliases are put back where they were (a later read-only checklist
    in this session sees the seeded state, and the newest record agrees)."""
    runs = Rollbacks(target, authority, run_action, request)
    request.addfinalizer(runs.restore)
    return runs


@pytest.fixture
def action_reports(
    request: pytest.FixtureRequest, write_report: Callable[[str, str], Path]
) -> Callable[..., list[Path]]:
    """``action_reports(result, env, rows=..., decisions=...)``: write the 000 §8 incident report and the 001 §7
    checklist (§7.3 rollback, §7.1 / §7.2 promotion) to this run's reports and Allure; returns the paths."""

    def write(
        result: ActionResult,
        env: Environment,
        *,
        rows: Sequence[CheckResult] = (),
        authority: Authority | None = None,
        decisions: Sequence[Decision] = (),
        source_env: Environment | None = None,
        gate_rows: Sequence[CheckResult] = (),
        root_cause: str = "",
    ) -> list[Path]:
        row_dicts, gate_dicts = rows_as_dicts(rows), rows_as_dicts(gate_rows)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        target = request.getfixturevalue("target")
        label, note = rehearsal_label(target), clock_note(target)
        base = (
            f"{result.plan.action}-{env.inventory}-{env.name}{file_token(target)}-{request.node.name}-{stamp}".replace(
                "/", "_"
            )
            .replace("[", "-")
            .replace("]", "")
        )
        facts = incident_facts(
            result,
            env,
            rows=row_dicts,
            decisions=decisions,
            authority=authority,
            method=f"pytest {request.node.nodeid}",
            root_cause=root_cause,
        )
        incident = write_report(f"incident-{base}.md", label_report(render_incident(facts), label, note))
        if source_env is not None:
            checklist = promotion_checklist(
                result, source_env, env, gate_rows=gate_dicts, rows=row_dicts, authority=authority
            )
        else:
            checklist = rollback_checklist(
                result, env, rows=row_dicts, authority=authority, incident_report=incident.name
            )
        return [incident, write_report(f"checklist-{base}.md", label_report(checklist, label, note))]

    return write


def expected_after(result: ActionResult) -> dict[str, str]:
    """Where each function's alias must stand after ``result`` (its final versions)."""
    from harness.actions.promote import final_versions as promoted

    return {**final_versions(result), **promoted(result)}
