"""pytest glue: options, markers, the account guard, fixtures and report locations.

Logic lives in ``harness/``; this module only wires it into pytest (registered as a ``pytest11``
entry point, so it works from any directory once the package is installed).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from harness.clock import Clock, RehearsalClock, parse_utc
from harness.errors import HarnessError
from harness.inventory import Environment, Inventory, load_inventory
from harness.inventory.loader import bundled_names
from harness.inventory.resources import inventory_resources
from harness.pytest_plugin import run_dirs
from harness.safety import mutation_refusal
from harness.targets import TARGETS, Target, make_target
from harness.targets.base import forget_user_aws_profile

# Checklist reporting (Allure evidence, verification report) rides along wherever the harness loads.
pytest_plugins = ["harness.pytest_plugin.reporting"]

MARKERS = {
    "readonly": "reads only (get/describe/list/invoke-health/metrics/logs; write-read checks clean up their own "
    "object)",
    "mutating": "changes the target (actions, drills); needs --allow-mutation on --target aws, approvals on "
    "protected envs",
    "gameday": "a game-day drill: injects a fault and verifies detection and recovery",
    "each_resource": "one test per resource the inventory names for --env; the test takes `resource`",
    "rehearsal_approvals": "on a disposable target without --approved-by, the scenario signs with labelled stand-in "
    "approvers (never on a real account)",
    "checklist(procedure)": "one test per checklist row of the procedure (post-rollback, post-deployment, "
    "pre-promotion); the test takes `row`",
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
    reports_dir: Path | None = None  # this run's directory (<reports-dir>/runs/<id>): everything the run writes
    reports_root: Path | None = None  # --reports-dir: runs/, latest, and the copies of the newest run that ran
    started: datetime | None = None
    tests_ran: int = 0  # tests with an outcome (on the xdist controller: from every worker's reports)
    published: list[str] = field(default_factory=list)  # names copied to reports_root when the run ended
    checklist: dict[str, Any] = field(default_factory=dict)  # completeness summary from the reporting plugin
    options: dict[str, Any] = field(default_factory=dict)


STATE = pytest.StashKey[HarnessState]()
RUN_DIR_INPUT = "harness_run_dir"  # xdist workerinput keys: workers write into the controller's run directory
REPORTS_ROOT_INPUT = "harness_reports_root"
RUN_STARTED_INPUT = "harness_run_started"
SHARED_EMULATOR_INPUT = "harness_shared_emulator"  # the controller's emulator, for --shared-emulator workers
SHARED_SKIP = "--shared-emulator: one emulator account shared by every xdist worker; mutating tests run without it"


def harness_state(config: pytest.Config) -> HarnessState:
    """The session's resolved inventory, environment and target (for other plugins and conftests)."""
    return config.stash.setdefault(STATE, HarnessState())


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from harness.pytest_plugin import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("runbook-harness", "runbook harness (rollback / promotion / PITR scenarios)")
    group.addoption(
        "--env", default=None, help="environment from the inventory (e.g. dev, sit, prod); required by scenarios"
    )
    group.addoption(
        "--target",
        default=os.environ.get("HARNESS_TARGET", "embedded"),
        metavar="{" + ",".join(TARGETS) + "}",  # validated in pytest_configure: one ERROR line, not a usage blob
        help="where calls go: embedded (moto in-process, default, safe), localstack, aws (real accounts). Env: "
        "HARNESS_TARGET",
    )
    group.addoption(
        "--inventory",
        default=os.environ.get("HARNESS_INVENTORY", "bbws"),
        help=f"inventory file path or bundled name ({', '.join(bundled_names())}); default bbws. Env: "
        "HARNESS_INVENTORY",
    )
    group.addoption(
        "--allow-mutation",
        action="store_true",
        default=False,
        help="allow mutating scenarios on a target that is not disposable (aws, localstack)",
    )
    group.addoption(
        "--approved-by",
        action="append",
        default=[],
        metavar="NAME",
        help="an approver (repeat for each; protected envs need the runbook's count)",
    )
    group.addoption(
        "--reason", default=None, help="why this mutation is being done (recorded; required on protected envs)"
    )
    group.addoption(
        "--assume-role",
        action="store_true",
        default=False,
        help="with --target aws: assume the env's role from the inventory",
    )
    group.addoption(
        "--reports-dir",
        default="reports",
        help="where reports go (default: reports/): each run in runs/<UTC>-<inventory>-<env>/, latest -> the newest, "
        "and junit.xml, allure-results/ and verification-*.md copied from the newest run that ran a test",
    )
    group.addoption(
        "--keep-runs",
        default=os.environ.get("HARNESS_KEEP_RUNS", str(run_dirs.DEFAULT_KEEP)),
        metavar="N",
        help=f"keep the newest N run directories under <reports-dir>/runs (default {run_dirs.DEFAULT_KEEP}; 0 keeps "
        "all). Env: HARNESS_KEEP_RUNS",
    )
    group.addoption(
        "--rehearse-quotas",
        action="store_true",
        default=False,
        help="embedded only: enforce AWS's API request-rate quotas (throttling errors as AWS answers them; under xdist "
        "each worker's emulator enforces its share)",
    )
    group.addoption(
        "--shared-emulator",
        action="store_true",
        default=False,
        help="embedded with xdist (-n): the controller seeds one emulator that every worker uses (read-only runs: "
        "mutating tests are skipped), instead of one emulator per worker",
    )
    group.addoption(
        "--rehearsal-start",
        default=None,
        metavar="ISO8601",
        help="embedded only: start the rehearsal clock at this UTC time (e.g. inside a maintenance window); it then "
        "runs on",
    )


def _is_xdist_controller(config: pytest.Config) -> bool:
    return (
        not hasattr(config, "workerinput")
        and bool(getattr(config.option, "numprocesses", None))
        and getattr(config.option, "dist", "no") != "no"
    )


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Resolve inventory, env and target; validate every option; open the run directory; start the target.

    Order matters: every user mistake is found before the target is built or started (no seeding
    spent on a typo), and the run directory is opened only once the options are good.
    """
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    state = harness_state(config)
    state.target_name = config.getoption("--target")
    env_name = config.getoption("--env")
    if env_name is None:
        return
    state.target_name = _target_name(config)
    if state.target_name != "aws":
        forget_user_aws_profile()
    try:
        state.inventory = load_inventory(config.getoption("--inventory"))
        state.env = state.inventory.environment(env_name, strict_env_vars=state.target_name == "aws")
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    except BotoCoreError as exc:  # e.g. AWS_PROFILE names a profile that does not exist (--target aws)
        raise pytest.UsageError(f"cannot read the AWS configuration: {exc}") from None
    listing = _listing_only(config)
    keep = _validate_options(config, state, listing)
    config.hook.pytest_harness_validate_options(config=config, env=state.env, target_name=state.target_name)
    if not listing and not _is_worker(config):
        _check_reports_root(config)
    state.controller_only = _is_xdist_controller(config)
    options: dict[str, Any] = {"assume_role": config.getoption("--assume-role")} if state.target_name == "aws" else {}
    options.update(_quota_options(config, state.target_name))
    shared = _shared_emulator(config, state)
    if shared is not None and _is_worker(config):
        from harness.targets.embedded.target import SharedEmbeddedTarget

        target: Target = SharedEmbeddedTarget(
            state.env, url=shared["url"], api_base_url=shared.get("api_base_url"), quotas=bool(options.get("quotas"))
        )
    else:
        if shared is not None:
            options["quota_share"] = 1.0  # one emulator for every worker: the whole quota, shared as on AWS
        target = make_target(state.target_name, state.env, **options)  # not started: nothing is called yet
    state.described = target
    if listing:
        return  # --fixtures / --collect-only / --help: nothing to run, no account to touch, no run directory
    clock = _session_clock(config, state, target)
    if clock is not None:
        target.clock = clock
    _open_run(config, state, keep)
    try:
        if state.controller_only and target.in_process and shared is None:
            target.preflight()  # a broken emulator stops here in one line, not in every worker's setup
            return  # each xdist worker starts and seeds its own emulator
        if state.controller_only and shared is None:
            target.verify_account()  # stop before workers start (safety rule 1)
        else:
            target.start()
            config.hook.pytest_harness_target_started(config=config, target=target)
        state.target = target
    except HarnessError as exc:
        target.close()
        _refuse(state, str(exc))
    except (BotoCoreError, ClientError) as exc:  # no credentials, endpoint unreachable, access denied...
        target.close()
        _refuse(state, f"cannot use target {state.target_name} for {state.env.describe()}: {exc}")
    except KeyboardInterrupt:
        target.close()
        message = (
            f"stopped: interrupted while starting target {state.target_name} for {state.env.describe()}; no test ran"
        )
        _record(state, outcome="interrupted", error=message)
        pytest.exit(message, returncode=pytest.ExitCode.INTERRUPTED)


def _shared_emulator(config: pytest.Config, state: HarnessState) -> dict[str, Any] | None:
    """--shared-emulator: on the controller ``{}`` (it seeds one emulator), on a worker where to reach it;
    None when each worker runs its own."""
    if _is_worker(config):
        text = config.workerinput.get(SHARED_EMULATOR_INPUT)  # type: ignore[attr-defined]
        return json.loads(text) if text else None
    if not config.getoption("--shared-emulator"):
        return None
    if state.target_name != "embedded":
        raise pytest.UsageError(
            f"--shared-emulator: only the embedded target runs an emulator to share (not {state.target_name})"
        )
    return {} if _is_xdist_controller(config) else None  # without -n there is one process, one emulator anyway


def _quota_options(config: pytest.Config, target_name: str) -> dict[str, Any]:
    """--rehearse-quotas as target options: the embedded target enforces them, 1/workers each under xdist
    (the workers' emulators together get what one account gets); elsewhere AWS enforces its own."""
    if not config.getoption("--rehearse-quotas"):
        return {}
    if target_name != "embedded":
        raise pytest.UsageError(
            f"--rehearse-quotas: only the embedded target rehearses API quotas (on {target_name}, the service "
            "enforces its own)"
        )
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1) or 1)
    return {"quotas": True, "quota_share": 1.0 / workers}


def _target_name(config: pytest.Config) -> str:
    """--target (or HARNESS_TARGET), exactly one of TARGETS; otherwise one ERROR line naming the valid ones."""
    name = str(config.getoption("--target"))
    if name in TARGETS:
        return name
    given = any(a == "--target" or a.startswith("--target=") for a in config.invocation_params.args)
    source = "--target" if given else "HARNESS_TARGET"
    hint = f"; did you mean {name.lower()!r}?" if name.lower() in TARGETS else ""
    raise pytest.UsageError(f"{source}={name!r}: unknown target; valid: {', '.join(TARGETS)}{hint}")


def _validate_options(config: pytest.Config, state: HarnessState, listing: bool) -> int:
    """The harness's own options (before anything is built); returns --keep-runs."""
    raw = str(config.getoption("--keep-runs")).strip()
    if not raw.isdigit():
        raise pytest.UsageError(f"--keep-runs {raw!r}: expected a whole number of runs to keep (0 keeps all)")
    if state.target_name in ("aws", "localstack"):
        problem = _endpoint_url_problem()
        if problem:
            raise pytest.UsageError(problem)
    if listing or _is_worker(config):
        return int(raw)
    missing = _missing_paths(config)
    if missing:
        raise pytest.UsageError(f"file or directory not found: {missing[0]}")
    return int(raw)


def _check_reports_root(config: pytest.Config) -> None:
    root = _reports_root(config)
    try:
        run_dirs.check_writable(root)
    except OSError as exc:
        raise pytest.UsageError(
            f"--reports-dir {config.getoption('--reports-dir')}: cannot write reports to {root}: {exc.strerror or exc}"
        ) from None


def _endpoint_url_problem() -> str | None:
    """Why an ``AWS_ENDPOINT_URL[_SERVICE]`` in the environment is unusable (botocore would raise mid-run)."""
    for key in sorted(k for k in os.environ if k == "AWS_ENDPOINT_URL" or k.startswith("AWS_ENDPOINT_URL_")):
        value = os.environ[key]
        parsed = urlparse(value)
        if parsed.scheme in ("http", "https") and parsed.netloc:
            continue
        hint = f"; did you mean http://{value}?" if "://" not in value and value else ""
        return f"{key}={value!r} is not an http(s) URL{hint}"
    return None


def _missing_paths(config: pytest.Config) -> list[str]:
    """Command-line paths that do not exist (under xdist only the workers would notice, silently)."""
    if config.getoption("pyargs", False):
        return []
    base = config.invocation_params.dir
    missing = []
    for arg in config.args:
        path = Path(str(arg).split("::", 1)[0])
        if not (path if path.is_absolute() else base / path).exists():
            missing.append(str(arg))
    return missing


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
    return any(
        config.getoption(name, False) for name in ("showfixtures", "show_fixtures_per_test", "collectonly", "help")
    )


# -- the run directory --------------------------------------------------------------------------


def _reports_root(config: pytest.Config) -> Path:
    reports = Path(config.getoption("--reports-dir"))
    return reports if reports.is_absolute() else config.rootpath / reports


def _open_run(config: pytest.Config, state: HarnessState, keep: int) -> None:
    """This run's directory (the controller makes it; xdist workers are told it), and the default report paths.

    Nothing is deleted here except run directories beyond ``--keep-runs``: the previous run's copies in
    the reports root stay until a run that ran something replaces them.
    """
    assert state.env is not None
    if _is_worker(config):
        if RUN_DIR_INPUT not in config.workerinput:  # type: ignore[attr-defined]
            return
        state.reports_dir = Path(config.workerinput[RUN_DIR_INPUT])  # type: ignore[attr-defined]
        state.reports_root = Path(config.workerinput[REPORTS_ROOT_INPUT])  # type: ignore[attr-defined]
        state.started = datetime.fromisoformat(config.workerinput[RUN_STARTED_INPUT])  # type: ignore[attr-defined]
    else:
        state.started = datetime.now(timezone.utc)
        state.reports_root = _reports_root(config)
        state.reports_dir = run_dirs.create_run(state.reports_root, state.env.inventory, state.env.name, state.started)
        run_dirs.point_latest(state.reports_root, state.reports_dir)
        run_dirs.prune(state.reports_root, keep, current=state.reports_dir)
        _record(
            state,
            outcome="running",
            started=state.started.isoformat(timespec="seconds"),
            inventory=state.env.inventory,
            env=state.env.name,
            account=state.env.account,
            target=state.target_name,
            command=" ".join(["pytest", *map(str, config.invocation_params.args)]),
        )
        if not config.pluginmanager.has_plugin("runbook-harness-runs"):
            config.pluginmanager.register(RunTracker(config, state), "runbook-harness-runs")
    if getattr(config.option, "xmlpath", None) is None:
        config.option.xmlpath = str(state.reports_dir / "junit.xml")
    if getattr(config.option, "allure_report_dir", None) is None:
        config.option.allure_report_dir = str(state.reports_dir / "allure-results")


def _record(state: HarnessState, **info: Any) -> None:
    """Merge ``info`` into this run's run.json (the controller's, or a serial run's)."""
    if state.reports_dir is None:
        return
    try:
        run_dirs.write_run_info(state.reports_dir, info)
    except OSError:
        pass  # best effort: the outcome is on the terminal either way


def _refuse(state: HarnessState, message: str) -> None:
    """Record the refusal in run.json and stop with one ERROR line (nothing was published)."""
    _record(state, outcome="refused", error=message, finished=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    raise pytest.UsageError(message)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: tell each worker the controller's run directory (workers re-parse the command line only)."""
    state = harness_state(node.config)
    if state.target is not None and getattr(state.target, "in_process", False) and hasattr(state.target, "server"):
        # --shared-emulator: the workers reach the controller's seeded server (and its HTTP API front).
        node.workerinput[SHARED_EMULATOR_INPUT] = json.dumps(
            {"url": state.target.server.url, "api_base_url": state.target.api_base_url}
        )
    if state.reports_dir is not None and state.reports_root is not None and state.started is not None:
        node.workerinput[RUN_DIR_INPUT] = str(state.reports_dir)
        node.workerinput[REPORTS_ROOT_INPUT] = str(state.reports_root)
        node.workerinput[RUN_STARTED_INPUT] = state.started.isoformat()


class RunTracker:
    """Controller side of a run directory: counts tests that ran, closes the run, says where reports are."""

    def __init__(self, config: pytest.Config, state: HarnessState) -> None:
        self.config, self.state = config, state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Count tests that reached an outcome (an xdist crash report counts: the test started)."""
        if (
            report.when == "call"
            or (report.when == "setup" and not report.passed)
            or report.when not in ("setup", "call", "teardown")
        ):
            self.state.tests_ran += 1

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> Any:
        """After every other plugin wrote its files (JUnit, the verification report): close the run.

        A run that ran at least one test is copied to the reports root (``junit.xml``,
        ``allure-results/``, ``verification-*.md``), replacing the previous copies; a run that collected
        nothing, or was refused, leaves them as they are.
        """
        result = yield
        state = self.state
        if state.reports_dir is None or state.reports_root is None:
            return result
        status = int(session.exitstatus)
        outcome = "ran" if state.tests_ran else "ran nothing"
        if status == pytest.ExitCode.INTERRUPTED:
            outcome = "interrupted" if state.tests_ran else "interrupted before any test"
        if state.tests_ran and state.reports_dir.is_dir():
            try:
                state.published = run_dirs.publish(state.reports_root, state.reports_dir)
            except OSError as exc:
                sys.stderr.write(f"WARNING: could not copy {state.reports_dir} to {state.reports_root}: {exc}\n")
        _record(
            state,
            outcome=outcome,
            exit_status=status,
            tests=state.tests_ran,
            checklist=state.checklist or None,
            published=state.published,
            finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        return result

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        state = self.state
        if state.reports_dir is None or state.reports_root is None:
            return
        run = _display(state.reports_dir)
        if state.published:
            main = [n for n in state.published if n in ("allure-results", "junit.xml") or n.startswith("verification-")]
            others = len(state.published) - len(main)
            listed = ", ".join(main) + (f" and {others} more report{'s' if others > 1 else ''}" if others else "")
            terminalreporter.write_line(f"reports: {run} (copied to {_display(state.reports_root)}/: {listed})")
        else:
            terminalreporter.write_line(
                f"reports: {run} (no test ran: {_display(state.reports_root)}/ keeps the previous run's files)"
            )


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


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
    if state.controller_only and getattr(state.target, "in_process", False):
        return f"{described.describe()}; shared by the xdist workers (--shared-emulator)"
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
    shared = bool(getattr(state.target, "shared_by_workers", False))
    # A rehearsal rehearses the approval gate too: on a disposable target without --approved-by, a
    # scenario marked rehearsal_approvals signs with labelled stand-ins (plugins/actions.py
    # rehearsal_authority) and its actions still pass through the approval guard.
    stand_ins = bool(state.described and state.described.disposable) and not config.getoption("--approved-by")
    for item in items:
        if shared and item.get_closest_marker("mutating"):
            item.add_marker(pytest.mark.skip(reason=SHARED_SKIP))
            continue
        if item.get_closest_marker("mutating") and state.env is not None:
            refusal = mutation_refusal(
                disposable=bool(state.described and state.described.disposable),
                target=state.target_name,
                env=state.env,
                allow_mutation=config.getoption("--allow-mutation"),
                approvers=config.getoption("--approved-by"),
                reason=config.getoption("--reason"),
            )
            if refusal and not (stand_ins and item.get_closest_marker("rehearsal_approvals")):
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
