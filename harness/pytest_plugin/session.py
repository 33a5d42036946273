"""The harness's session object: resolves inventory, env and target, opens the run directory, starts the target.

The plugin's ``pytest_configure`` registers one :class:`HarnessSession` and returns (as pytest-xdist's
``DSession``); pytest then calls the session's own ``pytest_configure`` (a historic hook), which does the
work in order, each step its own method: every user mistake is found before the target is built or
started (no seeding spent on a typo), and the run directory is opened only once the options are good.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from harness import run_dirs
from harness.errors import HarnessError
from harness.inventory import load_inventory
from harness.pytest_plugin import options
from harness.pytest_plugin.runs import RunTracker, record
from harness.pytest_plugin.state import (
    REPORTS_ROOT_INPUT,
    RUN_DIR_INPUT,
    RUN_STARTED_INPUT,
    SHARED_EMULATOR_INPUT,
    HarnessState,
    harness_state,
    is_worker,
    is_xdist_controller,
    listing_only,
    worker_input,
)
from harness.targets import Target, make_target
from harness.targets.base import forget_user_aws_profile

NAME = "runbook-harness-session"


class HarnessSession:
    """One per pytest process: fills :class:`HarnessState` and owns the target's lifetime."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.state = harness_state(config)
        self.shared: dict[str, Any] | None = None  # --shared-emulator: see options.shared_emulator

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        """Resolve, validate, build, open the run directory, start (see the module docstring)."""
        state = self.state
        state.target_name = config.getoption("--target")
        if config.getoption("--env") is None:
            return
        self.resolve()
        listing = listing_only(config)
        keep = options.validate_options(config, state, listing)
        config.hook.pytest_harness_validate_options(config=config, env=state.env, target_name=state.target_name)
        if not listing and not is_worker(config):
            options.check_reports_root(config)
        state.controller_only = is_xdist_controller(config)
        target = self.build()
        if listing:
            return  # --fixtures / --collect-only / --help: nothing to run, no account to touch, no run directory
        clock = options.session_clock(config, state, target)
        if clock is not None:
            target.clock = clock
        self.open_run(keep)
        self.start(target)

    def resolve(self) -> None:
        """The target's name, the inventory and the environment (one usage line for a mistake)."""
        state, config = self.state, self.config
        state.target_name = options.target_name(config)
        if state.target_name != "aws":
            forget_user_aws_profile()
        try:
            state.inventory = load_inventory(config.getoption("--inventory"))
            state.env = state.inventory.environment(
                config.getoption("--env"), strict_env_vars=state.target_name == "aws"
            )
        except HarnessError as exc:
            raise pytest.UsageError(str(exc)) from None
        except BotoCoreError as exc:  # e.g. AWS_PROFILE names a profile that does not exist (--target aws)
            raise pytest.UsageError(f"cannot read the AWS configuration: {exc}") from None

    def build(self) -> Target:
        """The target as configured, not started: nothing is called yet."""
        state, config = self.state, self.config
        assert state.env is not None
        made: dict[str, Any] = {"assume_role": config.getoption("--assume-role")} if state.target_name == "aws" else {}
        made.update(options.quota_options(config, state.target_name))
        shared = options.shared_emulator(config, state)
        self.shared = shared
        if shared is not None and is_worker(config):
            from harness.targets.embedded.target import SharedEmbeddedTarget

            target: Target = SharedEmbeddedTarget(
                state.env, url=shared["url"], api_base_url=shared.get("api_base_url"), quotas=bool(made.get("quotas"))
            )
        else:
            if shared is not None:
                made["quota_share"] = 1.0  # one emulator for every worker: the whole quota, shared as on AWS
            target = make_target(state.target_name, state.env, **made)
        state.described = target
        return target

    def open_run(self, keep: int) -> None:
        """This run's directory (the controller makes it; xdist workers are told it), and the default report paths.

        Nothing is deleted here except run directories beyond ``--keep-runs``: the previous run's copies in
        the reports root stay until a run that ran something replaces them.
        """
        state, config = self.state, self.config
        assert state.env is not None
        if is_worker(config):
            given = worker_input(config)
            if RUN_DIR_INPUT not in given:
                return
            state.reports_dir = Path(given[RUN_DIR_INPUT])
            state.reports_root = Path(given[REPORTS_ROOT_INPUT])
            state.started = datetime.fromisoformat(given[RUN_STARTED_INPUT])
        else:
            self._create_run(keep)
        assert state.reports_dir is not None
        if getattr(config.option, "xmlpath", None) is None:
            config.option.xmlpath = str(state.reports_dir / "junit.xml")
        if getattr(config.option, "allure_report_dir", None) is None:
            config.option.allure_report_dir = str(state.reports_dir / "allure-results")

    def _create_run(self, keep: int) -> None:
        """The controller's (or a serial run's) new run directory, its run.json and the tracker that closes it."""
        state, config = self.state, self.config
        assert state.env is not None
        state.started = datetime.now(timezone.utc)
        state.reports_root = options.reports_root(config)
        state.reports_dir = run_dirs.create_run(state.reports_root, state.env.inventory, state.env.name, state.started)
        run_dirs.point_latest(state.reports_root, state.reports_dir)
        run_dirs.prune(state.reports_root, keep, current=state.reports_dir)
        record(
            state,
            outcome="running",
            started=state.started.isoformat(timespec="seconds"),
            inventory=state.env.inventory,
            env=state.env.name,
            account=state.env.account,
            target=state.target_name,
            command=" ".join(["pytest", *map(str, config.invocation_params.args)]),
        )
        if not config.pluginmanager.has_plugin(RunTracker.NAME):
            config.pluginmanager.register(RunTracker(config, state), RunTracker.NAME)

    def start(self, target: Target) -> None:
        """Start the target (or, on an xdist controller, only check what the workers will start)."""
        state, config = self.state, self.config
        assert state.env is not None
        try:
            if state.controller_only and target.in_process and self.shared is None:
                target.preflight()  # a broken emulator stops here in one line, not in every worker's setup
                return  # each xdist worker starts and seeds its own emulator
            if state.controller_only and self.shared is None:
                target.verify_account()  # stop before workers start (safety rule 1)
            else:
                target.start()
                config.hook.pytest_harness_target_started(config=config, target=target)
            state.target = target
        except HarnessError as exc:
            target.close()
            refuse(state, str(exc))
        except (BotoCoreError, ClientError) as exc:  # no credentials, endpoint unreachable, access denied...
            target.close()
            refuse(state, f"cannot use target {state.target_name} for {state.env.describe()}: {exc}")
        except KeyboardInterrupt:
            target.close()
            message = (
                f"stopped: interrupted while starting target {state.target_name} for {state.env.describe()}; "
                "no test ran"
            )
            record(state, outcome="interrupted", error=message)
            pytest.exit(message, returncode=pytest.ExitCode.INTERRUPTED)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist: tell each worker the controller's run directory (workers re-parse the command line only)."""
        state = self.state
        if state.target is not None and getattr(state.target, "in_process", False) and hasattr(state.target, "server"):
            # --shared-emulator: the workers reach the controller's seeded server (and its HTTP API front).
            import json

            node.workerinput[SHARED_EMULATOR_INPUT] = json.dumps(
                {"url": state.target.server.url, "api_base_url": state.target.api_base_url}
            )
        if state.reports_dir is not None and state.reports_root is not None and state.started is not None:
            node.workerinput[RUN_DIR_INPUT] = str(state.reports_dir)
            node.workerinput[REPORTS_ROOT_INPUT] = str(state.reports_root)
            node.workerinput[RUN_STARTED_INPUT] = state.started.isoformat()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Close the target."""
        if self.state.target is not None:
            self.state.target.close()
            self.state.target = None

    def pytest_report_header(self, config: pytest.Config) -> str | None:
        """The environment and the target, as the session resolved them."""
        state = self.state
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


def refuse(state: HarnessState, message: str) -> None:
    """Record the refusal in run.json and stop with one ERROR line (nothing was published)."""
    record(state, outcome="refused", error=message, finished=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    raise pytest.UsageError(message)
