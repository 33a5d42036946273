"""pytest glue: options, markers, the account guard, fixtures and report locations.

Logic lives in ``harness/``; this module only wires it into pytest (registered as a ``pytest11``
entry point, so it works from any directory once the package is installed).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from harness.clock import Clock, RehearsalClock, parse_utc
from harness.errors import HarnessError
from harness.inventory import Environment, Inventory, load_inventory
from harness.inventory.loader import bundled_names
from harness.inventory.resources import inventory_resources
from harness.safety import mutation_refusal
from harness.targets import TARGETS, Target, make_target

# Checklist reporting (Allure evidence, verification report) rides along wherever the harness loads.
pytest_plugins = ["plugins.reporting"]

MARKERS = {
    "readonly": "reads only (get/describe/list/invoke-health/metrics/logs; write-read checks clean up their own object)",
    "mutating": "changes the target (actions, drills); needs --allow-mutation on --target aws, approvals on protected envs",
    "gameday": "a game-day drill: injects a fault and verifies detection and recovery",
    "each_resource": "one test per resource the inventory names for --env; the test takes `resource`",
    "checklist(procedure)": "one test per checklist row of the procedure (post-rollback, post-deployment, pre-promotion); the test takes `row`",
}
ENV_FIXTURES = {"env", "target", "aws", "inventory", "clock"}


@dataclass
class HarnessState:
    """What the plugin resolved for this session (``config.stash[STATE]``)."""

    inventory: Inventory | None = None
    env: Environment | None = None
    target_name: str = "embedded"
    target: Target | None = None
    described: Target | None = None  # the target as configured (started or not): header and reports
    controller_only: bool = False  # xdist controller: workers own the targets
    reports_dir: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)


STATE = pytest.StashKey[HarnessState]()


def harness_state(config: pytest.Config) -> HarnessState:
    """The session's resolved inventory, environment and target (for other plugins and conftests)."""
    return config.stash.setdefault(STATE, HarnessState())


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from plugins import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("runbook-harness", "runbook harness (rollback / promotion / PITR scenarios)")
    group.addoption("--env", default=None, help="environment from the inventory (e.g. dev, sit, prod); required by scenarios")
    group.addoption(
        "--target",
        default=os.environ.get("HARNESS_TARGET", "embedded"),
        choices=TARGETS,
        help="where calls go: embedded (moto in-process, default, safe), localstack, aws (real accounts). Env: HARNESS_TARGET",
    )
    group.addoption(
        "--inventory",
        default=os.environ.get("HARNESS_INVENTORY", "bbws"),
        help=f"inventory file path or bundled name ({', '.join(bundled_names())}); default bbws. Env: HARNESS_INVENTORY",
    )
    group.addoption("--allow-mutation", action="store_true", default=False, help="allow mutating scenarios on --target aws")
    group.addoption("--approved-by", action="append", default=[], metavar="NAME", help="an approver (repeat for each; protected envs need the runbook's count)")
    group.addoption("--reason", default=None, help="why this mutation is being done (recorded; required on protected envs)")
    group.addoption("--assume-role", action="store_true", default=False, help="with --target aws: assume the env's role from the inventory")
    group.addoption("--reports-dir", default="reports", help="where Allure results, JUnit XML and the verification report go (default: reports/)")
    group.addoption(
        "--rehearsal-start",
        default=None,
        metavar="ISO8601",
        help="embedded only: start the rehearsal clock at this UTC time (e.g. inside a maintenance window); it then runs on",
    )


def _is_xdist_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", None)) and getattr(config.option, "dist", "no") != "no"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    state = harness_state(config)
    state.target_name = config.getoption("--target")
    env_name = config.getoption("--env")
    if env_name is None:
        return
    try:
        state.inventory = load_inventory(config.getoption("--inventory"))
        state.env = state.inventory.environment(env_name, strict_env_vars=state.target_name == "aws")
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    _default_report_paths(config, state)
    state.controller_only = _is_xdist_controller(config)
    options: dict[str, Any] = {"assume_role": config.getoption("--assume-role")} if state.target_name == "aws" else {}
    target = make_target(state.target_name, state.env, **options)  # not started: nothing is called yet
    state.described = target
    if _listing_only(config):
        return  # --fixtures / --collect-only / --help: nothing to run, no account to touch
    clock = _session_clock(config, state, target)
    if clock is not None:
        target.clock = clock
    try:
        if state.controller_only and target.in_process:
            return  # each xdist worker starts and seeds its own emulator
        if state.controller_only:
            target.verify_account()  # stop before workers start (safety rule 1)
        else:
            target.start()
            config.hook.pytest_harness_target_started(config=config, target=target)
        state.target = target
    except HarnessError as exc:
        target.close()
        raise pytest.UsageError(str(exc)) from None
    except (BotoCoreError, ClientError) as exc:  # no credentials, endpoint unreachable, access denied...
        target.close()
        raise pytest.UsageError(f"cannot use target {state.target_name} for {state.env.describe()}: {exc}") from None


def _session_clock(config: pytest.Config, state: HarnessState, target: Target) -> Clock | None:
    """A conftest's ``pytest_harness_clock``, else ``--rehearsal-start``, else None (the target's own clock)."""
    chosen = config.hook.pytest_harness_clock(config=config, env=state.env, target_name=state.target_name)
    if chosen is not None:
        return chosen
    start = config.getoption("--rehearsal-start")
    if start is None:
        return None
    if not target.supports("clock-control"):
        # SigV4 signs with the wall clock: a shifted clock is for rehearsals only.
        raise pytest.UsageError(f"--rehearsal-start: {target.unsupported_reason('clock-control')}")
    try:
        return RehearsalClock(parse_utc(start))
    except ValueError as exc:
        raise pytest.UsageError(f"--rehearsal-start: {exc}") from None


def _listing_only(config: pytest.Config) -> bool:
    return any(config.getoption(name, False) for name in ("showfixtures", "show_fixtures_per_test", "collectonly", "help"))


def _default_report_paths(config: pytest.Config, state: HarnessState) -> None:
    """reports/junit.xml and reports/allure-results unless the user chose other paths."""
    reports = Path(config.getoption("--reports-dir"))
    if not reports.is_absolute():
        reports = config.rootpath / reports
    state.reports_dir = reports
    if getattr(config.option, "xmlpath", None) is None:
        config.option.xmlpath = str(reports / "junit.xml")
    if getattr(config.option, "allure_report_dir", None) is None:
        config.option.allure_report_dir = str(reports / "allure-results")
        if not hasattr(config, "workerinput"):  # clean once, on the controller, before workers write
            shutil.rmtree(config.option.allure_report_dir, ignore_errors=True)
    reports.mkdir(parents=True, exist_ok=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state and state.target is not None:
        state.target.close()
        state.target = None


def pytest_report_header(config: pytest.Config) -> str | None:
    state = harness_state(config)
    if state.env is None:
        return None
    described = state.target or state.described
    if described is None:
        return state.env.describe()
    if state.controller_only and state.target is None:
        return f"{described.describe()}; one server per xdist worker"
    return described.describe()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@pytest.mark.each_resource``: parametrize ``resource`` with every resource of --env's inventory."""
    if metafunc.definition.get_closest_marker("each_resource") is None or "resource" not in metafunc.fixturenames:
        return
    env = harness_state(metafunc.config).env
    resources = inventory_resources(env) if env is not None else []
    metafunc.parametrize("resource", resources, ids=[r.id for r in resources])


def _uses_env_fixtures(item: pytest.Item) -> bool:
    """True when the item requests the env/target/aws/inventory/clock fixtures."""
    return bool(ENV_FIXTURES & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = harness_state(config)
    needs_env = [i for i in items if _uses_env_fixtures(i)]
    if needs_env and state.env is None and not _listing_only(config):
        valid = ""
        try:
            valid = f"; valid for inventory {config.getoption('--inventory')}: " + ", ".join(
                load_inventory(config.getoption("--inventory")).env_names
            )
        except HarnessError:
            pass
        raise pytest.UsageError(f"--env is required by these scenarios{valid}")
    for item in items:
        if item.get_closest_marker("mutating") and state.env is not None:
            refusal = mutation_refusal(
                disposable=bool(state.described and state.described.disposable),
                target=state.target_name,
                env=state.env,
                allow_mutation=config.getoption("--allow-mutation"),
                approvers=config.getoption("--approved-by"),
                reason=config.getoption("--reason"),
            )
            if refusal:
                item.add_marker(pytest.mark.skip(reason=refusal))


# -- fixtures -----------------------------------------------------------------------------------


def _resolved(config: pytest.Config, attr: str) -> Any:
    value = getattr(harness_state(config), attr)
    if value is None:
        pytest.fail(f"the harness has no {attr}: run with --env NAME (and a reachable --target)", pytrace=False)
    return value


@pytest.fixture(scope="session")
def inventory(pytestconfig: pytest.Config) -> Inventory:
    """The inventory chosen with --inventory (validated)."""
    return _resolved(pytestconfig, "inventory")


@pytest.fixture(scope="session")
def env(pytestconfig: pytest.Config) -> Environment:
    """The environment chosen with --env, every name resolved from the inventory."""
    return _resolved(pytestconfig, "env")


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    """The started target (account already verified): embedded, localstack or aws."""
    return _resolved(pytestconfig, "target")


@pytest.fixture(scope="session")
def aws(target: Target) -> Callable[..., Any]:
    """Client factory: ``aws("lambda")`` or ``aws("s3", region="eu-west-1")``; one client per service and region."""
    return target.client


@pytest.fixture(scope="session")
def clock(target: Target) -> Clock:
    """The target's clock: checks, actions and drills read "now" from it (never freeze time around real AWS)."""
    return target.clock
