"""The harness's command-line options in pytest, and their validation (one usage line per mistake).

Every check here runs before a target is built or started: a typo never costs a seeding and never turns
a check off silently. Validation of other plugins' options comes through the
``pytest_harness_validate_options`` hook (harness/pytest_plugin/hookspecs.py).
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import pytest

from harness import run_dirs
from harness.clock import Clock, RehearsalClock, parse_utc
from harness.inventory import Environment
from harness.options import OPTIONS, PYTEST_OPTIONS, Option, add
from harness.pytest_plugin.state import (
    SHARED_EMULATOR_INPUT,
    HarnessState,
    is_worker,
    is_xdist_controller,
    worker_input,
)
from harness.targets import TARGETS, Target


def pytest_addoption(parser: pytest.Parser) -> None:
    """The harness's options, from the one option table (harness/options.py), in the ``runbook-harness`` group."""
    group = parser.getgroup("runbook-harness", "runbook harness (rollback / promotion / PITR scenarios)")
    for flag in PYTEST_OPTIONS:
        add(group.addoption, flag)
        option = OPTIONS[flag]
        kind: Literal["bool", "linelist", "string"] = (
            "bool" if option.action == "store_true" else "linelist" if option.action == "append" else "string"
        )
        parser.addini(ini_name(option), f"{option.help} (as {flag}; the command line wins)", type=kind)


def ini_name(option: Option) -> str:
    """The ``[tool.pytest.ini_options]`` key of an option: ``--reports-dir`` -> ``harness_reports_dir``."""
    return f"harness_{option.dest}"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Options not given on the command line (nor by their environment variables) take their
    ``[tool.pytest.ini_options]`` key's value (``harness_env = "sit"``)."""
    given = [str(a) for a in config.invocation_params.args]
    for flag in PYTEST_OPTIONS:
        option = OPTIONS[flag]
        value = config.getini(ini_name(option))
        if value in (None, "", []) or any(os.environ.get(name) for name in option.env):
            continue
        if (
            any(a == flag or a.startswith(f"{flag}=") for a in given)
            or config.getoption(option.dest) != option.default_now()
        ):
            continue  # the command line (or addopts) wins
        if option.type is not None and isinstance(value, str):
            value = option.type(value)
        setattr(config.option, option.dest, list(value) if option.action == "append" else value)


def shared_emulator(config: pytest.Config, state: HarnessState) -> dict[str, Any] | None:
    """--shared-emulator: on the controller ``{}`` (it seeds one emulator), on a worker where to reach it;
    None when each worker runs its own."""
    if is_worker(config):
        text = worker_input(config).get(SHARED_EMULATOR_INPUT)
        return json.loads(text) if text else None
    if not config.getoption("--shared-emulator"):
        return None
    if state.target_name != "embedded":
        raise pytest.UsageError(
            f"--shared-emulator: only the embedded target runs an emulator to share (not {state.target_name})"
        )
    return {} if is_xdist_controller(config) else None  # without -n there is one process, one emulator anyway


def quota_options(config: pytest.Config, target_name: str) -> dict[str, Any]:
    """--rehearse-quotas as target options: the embedded target enforces them, 1/workers each under xdist
    (the workers' emulators together get what one account gets); elsewhere AWS enforces its own."""
    if not config.getoption("--rehearse-quotas"):
        return {}
    if target_name != "embedded":
        raise pytest.UsageError(
            f"--rehearse-quotas: only the embedded target rehearses API quotas (on {target_name}, the service "
            "enforces its own)"
        )
    workers = int(worker_input(config).get("workercount", 1) or 1)
    return {"quotas": True, "quota_share": 1.0 / workers}


def target_name(config: pytest.Config) -> str:
    """--target (or HARNESS_TARGET), exactly one of TARGETS; otherwise one ERROR line naming the valid ones."""
    name = str(config.getoption("--target"))
    if name in TARGETS:
        return name
    given = any(a == "--target" or a.startswith("--target=") for a in config.invocation_params.args)
    source = "--target" if given else "HARNESS_TARGET"
    hint = f"; did you mean {name.lower()!r}?" if name.lower() in TARGETS else ""
    raise pytest.UsageError(f"{source}={name!r}: unknown target; valid: {', '.join(TARGETS)}{hint}")


def validate_options(config: pytest.Config, state: HarnessState, listing: bool) -> int:
    """The harness's own options (before anything is built); returns --keep-runs."""
    raw = str(config.getoption("--keep-runs")).strip()
    if not raw.isdigit():
        raise pytest.UsageError(f"--keep-runs {raw!r}: expected a whole number of runs to keep (0 keeps all)")
    if state.target_name in ("aws", "localstack"):
        problem = endpoint_url_problem()
        if problem:
            raise pytest.UsageError(problem)
    if listing or is_worker(config):
        return int(raw)
    missing = missing_paths(config)
    if missing:
        raise pytest.UsageError(f"file or directory not found: {missing[0]}")
    return int(raw)


def check_reports_root(config: pytest.Config) -> None:
    """--reports-dir must be writable (one usage line, before anything runs)."""
    root = reports_root(config)
    try:
        run_dirs.check_writable(root)
    except OSError as exc:
        raise pytest.UsageError(
            f"--reports-dir {config.getoption('--reports-dir')}: cannot write reports to {root}: {exc.strerror or exc}"
        ) from None


def endpoint_url_problem() -> str | None:
    """Why an ``AWS_ENDPOINT_URL[_SERVICE]`` in the environment is unusable (botocore would raise mid-run)."""
    for key in sorted(k for k in os.environ if k == "AWS_ENDPOINT_URL" or k.startswith("AWS_ENDPOINT_URL_")):
        value = os.environ[key]
        parsed = urlparse(value)
        if parsed.scheme in ("http", "https") and parsed.netloc:
            continue
        hint = f"; did you mean http://{value}?" if "://" not in value and value else ""
        return f"{key}={value!r} is not an http(s) URL{hint}"
    return None


def missing_paths(config: pytest.Config) -> list[str]:
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


def session_clock(config: pytest.Config, state: HarnessState, target: Target) -> Clock | None:
    """A conftest's ``pytest_harness_clock``, else ``--rehearsal-start``, else None (the target's own clock)."""
    chosen: Clock | None = config.hook.pytest_harness_clock(config=config, env=state.env, target_name=state.target_name)
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


def reports_root(config: pytest.Config) -> Path:
    """--reports-dir, relative to the rootdir."""
    reports = Path(config.getoption("--reports-dir"))
    return reports if reports.is_absolute() else config.rootpath / reports


def expect_versions(config: pytest.Config) -> dict[str, str]:
    """``--expect-version fn=VER`` options as a dict; a malformed one is a usage error."""
    out = {}
    for text in config.getoption("--expect-version") or []:
        fn, sep, ver = text.partition("=")
        if not sep or not fn.strip() or not ver.strip():
            raise pytest.UsageError(
                f"--expect-version {text!r}: expected FUNCTION=VERSION (e.g. bbws-tenant-instance-management-sit=7)"
            )
        out[fn.strip()] = ver.strip()
    return out


def check_expect_versions(config: pytest.Config, env: Environment) -> dict[str, str]:
    """``expect_versions`` whose functions the inventory names for ``env`` (or discovers by prefix).

    A typo must never turn the version check off silently (the row would fall back to the rollback
    record and pass): an unknown function is a usage error naming the valid ones.
    """
    wanted = expect_versions(config)
    names = [f.name for f in env.functions]
    prefixes = [d.prefix for d in env.discovery]
    for fn, ver in wanted.items():
        if fn in names or any(fn.startswith(p) for p in prefixes):
            continue
        close = difflib.get_close_matches(fn, names + prefixes, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        known = ", ".join(names + [f"{p}*" for p in prefixes]) or "none"
        raise pytest.UsageError(
            f"--expect-version {fn}={ver}: no function {fn!r} in {env.inventory}/{env.name}{hint} (known: {known})"
        )
    return wanted


def check_api_base_url(config: pytest.Config) -> None:
    """--api-base-url (or HARNESS_API_BASE_URL) must be an http(s) URL."""
    url = config.getoption("--api-base-url")
    if url is None:
        return
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        given = any(a == "--api-base-url" or a.startswith("--api-base-url=") for a in config.invocation_params.args)
        source = "--api-base-url" if given else "HARNESS_API_BASE_URL"
        hint = f"; did you mean http://{url}?" if "://" not in url and url else ""
        raise pytest.UsageError(f"{source} {url!r}: not an http(s) URL{hint}")


def pytest_harness_validate_options(config: pytest.Config, env: Environment, target_name: str) -> None:
    """--expect-version and --api-base-url, before the target starts (no seeding spent on a typo)."""
    check_expect_versions(config, env)
    check_api_base_url(config)


def api_base_url(config: pytest.Config, target: Target) -> str | None:
    """Where the api-* checks send HTTP: the option, else the target's own front (None on an emulator
    without one: a rehearsal never calls the real hostname)."""
    return config.getoption("--api-base-url") or target.api_base_url
