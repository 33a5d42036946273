"""Shared fixtures for the project's own tests."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.cli.serve import read_banner
from harness.inventory import load_inventory
from harness.targets.embedded import EmbeddedTarget

REPO = Path(__file__).resolve().parent.parent
TEST_TIMEOUT_S = 300  # per test (pytest-timeout, test extra): a hung emulator call or subprocess fails, never stalls CI


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test gets a timeout unless it sets its own or --timeout is given."""
    if not config.pluginmanager.hasplugin("timeout") or config.getoption("timeout", None) is not None:
        return
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT_S))


@pytest.fixture
def make_embedded() -> Iterator[Callable[..., EmbeddedTarget]]:
    """Start embedded targets (``make_embedded("bbws", "sit")``) and close them after the test."""
    started: list[EmbeddedTarget] = []

    def start(inventory: str, env: str, **kwargs: object) -> EmbeddedTarget:
        target = EmbeddedTarget(load_inventory(inventory).environment(env), **kwargs).start()  # type: ignore[arg-type]
        started.append(target)
        return target

    yield start
    for target in started:
        target.close()


def run_pytest(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run pytest in a subprocess from the repository root; returns the completed process."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_", "PYTEST_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def run_here(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., subprocess.CompletedProcess]:
    """``run_here(*args, env={...})``: ``pytest.main(args)`` in this process, from the repository root,
    with no AWS_*/HARNESS_* variables but ``env``; returns exit code and output like ``run_pytest``.

    Only for runs that stop before a target starts or a test runs (usage errors, --help, listings):
    about 0.1 s instead of 1.5 s for a new interpreter.
    """

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        monkeypatch.chdir(REPO)
        for key in [k for k in os.environ if k.startswith(("AWS_", "HARNESS_"))]:
            monkeypatch.delenv(key)
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        capsys.readouterr()
        code = pytest.main(["-p", "no:cacheprovider", *args])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(["pytest", *args], int(code), out, err)

    return run


def aws_env(endpoint: str) -> dict[str, str]:
    """Process environment for an ordinary AWS client pointed at ``endpoint`` with dummy credentials."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "dummy",
        "AWS_SECRET_ACCESS_KEY": "dummy",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def serve(
    env_name: str, inventory: str = "bbws", extra_env: dict[str, str] | None = None, stderr_path: Path | None = None
) -> tuple[subprocess.Popen, dict[str, str]]:
    """Start ``harness serve`` in a subprocess; returns it and what it printed (AWS_ENDPOINT_URL=..., ...)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_", "PYTEST_"))}
    full_env.update(extra_env or {})
    # a file, not a pipe: a chatty server never blocks on it
    errors = open(stderr_path, "w+") if stderr_path else tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "serve", "--env", env_name, "--inventory", inventory],
        cwd=REPO,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    assert proc.stdout is not None
    info = read_banner(proc.stdout)
    if "AWS_ENDPOINT_URL" not in info:
        proc.kill()
        errors.seek(0)
        raise AssertionError(f"harness serve printed {info}; stderr: {errors.read()[-2000:]}")
    return proc, info


def _pass_restores(endpoint: str, region: str, stop_event: threading.Event) -> None:
    """Move the served clock past a restore's modelled duration whenever a table is CREATING."""
    import boto3
    import requests

    ddb = boto3.client(
        "dynamodb", endpoint_url=endpoint, region_name=region, aws_access_key_id="dummy", aws_secret_access_key="dummy"
    )
    while not stop_event.wait(0.2):
        try:
            for name in ddb.list_tables()["TableNames"]:
                if ddb.describe_table(TableName=name)["Table"]["TableStatus"] == "CREATING":
                    requests.post(f"{endpoint}/_harness/clock", json={"advance_seconds": 3600}, timeout=10)
                    break
        except Exception:  # noqa: BLE001 (the server may be busy or the table just dropped: look again)
            continue


@contextlib.contextmanager
def passing_restores(printed: dict[str, str]) -> Iterator[None]:
    """While a CLI client waits on ``harness serve`` (on its wall clock, 20 s between polls), move the served
    rehearsal clock past every restore's modelled 20 minutes, as an operator would with ``POST /_harness/clock``
    (docs/fidelity.md, "Clocks"): a restore takes one poll. ``printed``: what ``harness serve`` printed."""
    stop_event = threading.Event()
    where = (printed["AWS_ENDPOINT_URL"], printed["AWS_DEFAULT_REGION"])
    mover = threading.Thread(target=_pass_restores, args=(*where, stop_event), daemon=True)
    mover.start()
    try:
        yield
    finally:
        stop_event.set()
        mover.join(timeout=10)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM a served rehearsal and wait for it."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


# -- one served SIT for the whole session (all xdist workers) ------------------------------------------

SERVED_SIT_FILE = "HARNESS_TEST_SERVED_SIT"  # env: JSON file with what the controller's harness serve printed
SERVED_SIT_USERS = (
    "tests/test_runs.py",
    "tests/test_readme.py",
    "tests/checks/test_scenarios.py",
    "tests/byos/test_discover.py",
    "tests/fidelity/test_lambda_code_location.py",
)
_SHARED = pytest.StashKey["SharedServe"]()


class SharedServe:
    """On the xdist controller: ``harness serve --env sit`` started in the background at configure, so the
    workers share one seeded SIT (seeding it once per worker cost ~7 s of CPU each) and nobody waits for it
    until a test asks. Its printed values land in a JSON file the workers read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.proc: subprocess.Popen | None = None
        self.thread = threading.Thread(target=self._run, name="served-sit", daemon=True)

    def _run(self) -> None:
        try:
            self.proc, info = serve("sit", stderr_path=self.path.with_name("serve.stderr"))
            result: dict[str, object] = {"info": info, "pid": self.proc.pid}
        except Exception as exc:  # noqa: BLE001 (reported to the fixture that waits for it)
            result = {"error": str(exc)}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result))
        tmp.replace(self.path)

    def stop(self) -> None:
        self.thread.join(timeout=120)
        if self.proc is not None:
            stop(self.proc)
        shutil.rmtree(self.path.parent, ignore_errors=True)


def _listening(url: str) -> bool:
    host, _, port = url.removeprefix("http://").partition(":")
    try:
        socket.create_connection((host, int(port.split("/")[0])), timeout=5).close()
    except OSError:
        return False
    return True


def _may_use_served_sit(config: pytest.Config) -> bool:
    """True when the run's paths include a module that uses ``served_sit``."""
    users = [REPO / u for u in SERVED_SIT_USERS]
    for arg in config.args:
        path = Path(str(arg).split("::", 1)[0])
        path = (path if path.is_absolute() else config.invocation_params.dir / path).resolve()
        if any(u == path or path in u.parents for u in users):
            return True
    return False


def pytest_configure(config: pytest.Config) -> None:
    if (
        hasattr(config, "workerinput")
        or not getattr(config.option, "numprocesses", None)
        or not _may_use_served_sit(config)
    ):
        return
    shared = SharedServe(Path(tempfile.mkdtemp(prefix="harness-served-sit-")) / "served.json")
    shared.thread.start()
    config.stash[_SHARED] = shared
    os.environ[SERVED_SIT_FILE] = str(shared.path)  # the workers, started after configure, inherit it


def pytest_unconfigure(config: pytest.Config) -> None:
    shared = config.stash.get(_SHARED, None)
    if shared is not None:
        shared.stop()
        os.environ.pop(SERVED_SIT_FILE, None)


@pytest.fixture(scope="session")
def served_sit() -> Iterator[dict[str, str]]:
    """``harness serve --env sit`` in a subprocess: one for the session (under xdist, one for all workers).

    Subprocess pytest runs reach it with ``--target aws`` and ``sit_run_env(served_sit)``: the account
    guard passes and nothing is seeded again, so a run costs its interpreter start and its rows only.
    Read-only users only: a test that changes it restores what it changed.
    """
    shared = os.environ.get(SERVED_SIT_FILE)
    if shared:
        path, deadline = Path(shared), time.monotonic() + 180
        while not path.exists():
            assert time.monotonic() < deadline, "the controller's harness serve never answered"
            time.sleep(0.1)
        result = json.loads(path.read_text())
        if "info" in result and _listening(result["info"]["AWS_ENDPOINT_URL"]):
            yield result["info"]
            return
        log = path.with_name("serve.stderr")
        why = (
            result.get("error")
            or f"pid {result.get('pid')} stopped answering: {log.read_text()[-2000:] if log.exists() else ''}"
        )
        warnings.warn(  # noqa: B028 (the caller is pytest's hook machinery: no useful frame to point at)
            pytest.PytestWarning(f"the shared harness serve is not usable ({why}); starting one for this worker")
        )
    proc, info = serve("sit")
    yield info
    stop(proc)


def sit_run_env(served: dict[str, str]) -> dict[str, str]:
    """The process environment of a pytest run against the served SIT (dummy credentials)."""
    return aws_env(served["AWS_ENDPOINT_URL"])


def sit_run_args(served: dict[str, str]) -> tuple[str, ...]:
    """``--env sit --target aws`` and the served HTTP API (the api-* rows)."""
    api = ("--api-base-url", served["HARNESS_API_BASE_URL"]) if served.get("HARNESS_API_BASE_URL") else ()
    return ("--env", "sit", "--target", "aws", *api)
