"""300-function ``harness rollback --all`` against ``harness serve``.

Ctrl-C 5 s into the batch tells the truth: exit 130, every function's record entry equals GetAlias, the report
counts moved / not started, no IN_PROGRESS record, the lease released. A second Ctrl-C aborts at once and the
record still ends FAILED. Two operators at once (from their own working folders): exactly one acts, every alias
moves at most one release back; the other is refused naming the holder, or with ``--lock-timeout`` waits and
plans afresh from what the first left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.inventory import load_inventory
from harness.lease import Holder, LeaseSettings, read_lease
from harness.records import IN_PROGRESS, DeploymentRecord, read_records
from harness.targets.aws import AwsTarget
from tests.conftest import REPO, aws_env, serve, stop

FUNCTIONS = 300
ALIAS = "latest-sit"


def inventory(folder: Path, functions: int) -> Path:
    """A bbws-shaped inventory of ``functions`` functions in four services (only what a rollback reads)."""
    per = -(-functions // 4)
    services = []
    for s in range(4):
        names = [f'"scale-svc{s}-fn{i:03d}-{{env}}"' for i in range(s * per, min((s + 1) * per, functions))]
        services.append(f'[[lambda.services]]\nname = "svc{s}"\nfunctions = [{", ".join(names)}]\n')
    path = folder / f"scale{functions}.toml"
    path.write_text(
        f"""[inventory]
name = "scale{functions}"
title = "Interrupted rollback at scale"
sources = ["000 §4.4"]

[environments.sit]
account = "100000000002"
region = "af-south-1"

[lambda]
alias = "latest-{{env}}"
health_payload = {{ httpMethod = "GET", path = "/health", headers = {{}} }}

{chr(10).join(services)}
[[dynamodb.tables]]
name = "scale-deployments-{{env}}"
billing_mode = "PAY_PER_REQUEST"
hash_key = {{ name = "deployment_id" }}
purpose = "deployments"
"""
    )
    return path


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    path = inventory(tmp_path_factory.mktemp("scale"), FUNCTIONS)
    proc, info = serve("sit", inventory=str(path))
    yield path, info
    stop(proc)


@pytest.fixture
def observer(
    big: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AwsTarget]:
    """The test's own AWS client view of the served inventory, paced to a raised quota (:func:`raised`: the runs
    under test keep AWS's default pace); afterwards every alias is back on 3."""
    path, info = big
    for key, value in aws_env(info["AWS_ENDPOINT_URL"]).items():
        monkeypatch.setenv(key, value)
    fast = raised(path, tmp_path_factory.mktemp("observer"))
    target = AwsTarget(load_inventory(str(fast)).environment("sit")).start()
    yield target
    lam = target.client("lambda")
    each(target, lambda fn: lam.update_alias(FunctionName=fn, Name=ALIAS, FunctionVersion="3"))
    target.close()


def start(big: tuple[Path, dict[str, str]], cwd: Path, *extra: str) -> subprocess.Popen:
    """``harness rollback --all`` of the big inventory in a fresh interpreter from ``cwd`` (``extra``: more options)."""
    path, info = big
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_", "PYTEST_"))}
    env.update(aws_env(info["AWS_ENDPOINT_URL"]), PYTHONPATH=str(REPO))
    argv = ["rollback", "--env", "sit", "--inventory", str(path), "--target", "aws", "--all", "--allow-mutation"]
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *argv, "--reason", "scale", "--max-workers", "4", *extra],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class Output:
    """The command's stdout, read by a thread (a 300-function plan is larger than a pipe's buffer)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        self.thread = threading.Thread(target=lambda: self.lines.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]  # (checked above)
        self.thread.start()

    def wait_for(self, text: str, timeout: float = 180.0) -> None:
        """Until a line containing ``text`` was printed."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in list(self.lines)):
            assert time.monotonic() < deadline, f"never printed {text!r}: {''.join(self.lines)[-2000:]}"
            time.sleep(0.05)

    def text(self) -> str:
        self.thread.join(timeout=60)
        return "".join(self.lines)


PLAN_END = "note: health is invoked through fn:alias"  # the plan's last line: the apply starts next


def serving(target: AwsTarget) -> dict[str, str]:
    lam = target.client("lambda")
    return {f.name: lam.get_alias(FunctionName=f.name, Name=ALIAS)["FunctionVersion"] for f in target.env.functions}


def test_sigint_5_s_into_a_300_function_batch(big, observer, tmp_path: Path) -> None:  # noqa: ANN001
    proc = start(big, tmp_path)
    output = Output(proc)
    output.wait_for(PLAN_END)
    time.sleep(5)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=180)
    err = proc.stderr.read() if proc.stderr else ""
    out = output.text()
    assert proc.returncode == 130, out[-3000:] + err[-3000:]
    now = serving(observer)
    moved = sum(1 for v in now.values() if v == "2")
    verdict = next((line for line in out.splitlines() if line.startswith("INTERRUPTED (SIGINT)")), out[-2000:] + err)
    assert f"{moved} of {FUNCTIONS} moved; {FUNCTIONS - moved} not started" in verdict, verdict
    assert 0 < moved < FUNCTIONS, verdict  # stopped mid-batch
    records = [r for r in read_records(observer.client("dynamodb"), observer.env) if r.action == "rollback"]
    assert [r.status for r in records][:1] == ["FAILED"] and not [r for r in records if r.status == IN_PROGRESS]
    assert {fn: c.final_version for fn, c in records[0].functions.items()} == now
    assert sum(1 for c in records[0].functions.values() if c.outcome == "NOT_STARTED") == FUNCTIONS - moved
    assert sum(1 for line in out.splitlines() if "not started (interrupted)" in line) == FUNCTIONS - moved
    report = next(tmp_path.glob("reports/runs/*/incident-*.md")).read_text()
    assert f"{moved} of {FUNCTIONS} moved; {FUNCTIONS - moved} not started" in report
    assert read_lease(observer.client("dynamodb"), LeaseSettings.of(observer.env).table, observer.env) is None
    table = observer.env.deployments_table
    observer.client("dynamodb").delete_item(TableName=table.name, Key={"deployment_id": {"S": records[0].record_id}})


def test_a_second_sigint_aborts_at_once_and_the_record_ends_failed(big, observer, tmp_path: Path) -> None:  # noqa: ANN001
    proc = start(big, tmp_path)
    output = Output(proc)
    output.wait_for(PLAN_END)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=180)
    err = proc.stderr.read() if proc.stderr else ""
    out = output.text()
    assert proc.returncode == 130, out[-3000:] + err[-3000:]
    assert "harness: interrupted" in err
    records = [r for r in read_records(observer.client("dynamodb"), observer.env) if r.action == "rollback"]
    assert [r.status for r in records][:1] == ["FAILED"] and not [r for r in records if r.status == IN_PROGRESS]
    assert read_lease(observer.client("dynamodb"), LeaseSettings.of(observer.env).table, observer.env) is None
    table = observer.env.deployments_table
    observer.client("dynamodb").delete_item(TableName=table.name, Key={"deployment_id": {"S": records[0].record_id}})


# -- two operators at once ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One operator's finished ``harness rollback``: exit status, what it printed, its pid and working folder."""

    rc: int
    out: str
    err: str
    pid: int
    folder: Path

    def reports(self) -> list[Path]:
        """The reports this run left in its working folder."""
        return sorted(self.folder.glob("reports/runs/*/*.md"))


@dataclass(frozen=True)
class Contest:
    """Three operators on one 300-function environment: the first acts, one is refused, one waits (--lock-timeout)."""

    first: Run
    refused: Run
    waited: Run
    waiting_line: str  # what the waiting operator printed first, while the first held the lease
    serving: dict[str, str]  # every alias's version (GetAlias) once all three ended
    records: list[DeploymentRecord]  # every rollback record written meanwhile
    lease_left: Holder | None


def each(target: AwsTarget, call: Callable[[str], object]) -> list[object]:
    """``call(function)`` for every function, 8 at a time (300 calls one by one cost ~20 s here)."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(call, [f.name for f in target.env.functions]))


def holds_lease(target: AwsTarget, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Until ``proc`` holds the environment's lease (it takes it before it plans)."""
    deadline = time.monotonic() + timeout
    while True:
        held = read_lease(target.client("dynamodb"), LeaseSettings.of(target.env).table, target.env)
        if held is not None and held.pid == proc.pid:
            return
        assert proc.poll() is None and time.monotonic() < deadline, "the first operator never took the lease"
        time.sleep(0.05)


def finished(proc: subprocess.Popen, output: Output, folder: Path) -> Run:
    """Wait for ``proc`` and collect what it printed."""
    proc.wait(timeout=300)
    return Run(proc.returncode, output.text(), proc.stderr.read() if proc.stderr else "", proc.pid, folder)


def raised(path: Path, folder: Path) -> Path:
    """``path``'s inventory for an account whose Lambda control-plane quota AWS support raised to 150/s.

    The harness paces every client to the quota (harness/pacing.py): at the default 15/s one 300-function plan
    costs ~40 s and its apply ~60 s. Who holds the lease and what each plan sees do not depend on the rate.
    """
    copy = folder / f"raised-{path.name}"
    text = path.read_text().replace(
        "[environments.sit]\n", '[environments.sit]\napi_quotas = { "lambda:control-plane" = { rate = 150.0 } }\n'
    )
    assert "api_quotas" in text
    copy.write_text(text)
    return copy


@pytest.fixture(scope="module")
def contest(big: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Contest]:
    """Alice's default-rule rollback takes the lease and is held (SIGSTOP) while Bob's, started from another
    folder, is refused, and Carol's (``--to-version 2 --lock-timeout 600s``) starts waiting; then Alice goes on.
    One full 300-function rollback serves both cases. Every alias is put back on 3 (and the records removed)
    before the tests read the snapshot, so the module's other tests see the seeded state in any order."""
    folders = [tmp_path_factory.mktemp(who) for who in ("alice", "bob", "carol")]
    procs: list[subprocess.Popen] = []
    fast = (raised(big[0], folders[0]), big[1])
    with pytest.MonkeyPatch.context() as mp:  # held throughout: the target's clients read it when first made
        for key, value in aws_env(big[1]["AWS_ENDPOINT_URL"]).items():
            mp.setenv(key, value)
        target = AwsTarget(load_inventory(str(fast[0])).environment("sit")).start()
        try:
            result = _contest(fast, target, folders, procs)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGCONT)
                    proc.kill()
            _put_back(target)
            target.close()
    yield result


def _contest(
    big: tuple[Path, dict[str, str]], target: AwsTarget, folders: list[Path], procs: list[subprocess.Popen]
) -> Contest:
    """Run the three operators (``procs`` collects them for the fixture's clean-up) and snapshot the outcome."""
    procs.append(start(big, folders[0], "--actor", "alice"))
    first_output = Output(procs[0])
    holds_lease(target, procs[0])
    os.kill(procs[0].pid, signal.SIGSTOP)  # Alice holds the lease mid-operation while the others try
    try:
        procs.append(start(big, folders[1], "--actor", "bob"))
        refused = finished(procs[1], Output(procs[1]), folders[1])
        procs.append(start(big, folders[2], "--actor", "carol", "--to-version", "2", "--lock-timeout", "600s"))
        waiting_output = Output(procs[2])
        try:
            waiting_output.wait_for("waiting up to", timeout=120)
        except AssertionError as exc:
            gone = procs[2].poll()
            err = procs[2].stderr.read()[-2000:] if gone is not None and procs[2].stderr else ""
            raise AssertionError(f"{exc}; exit {gone}; {err}") from exc
    finally:
        os.kill(procs[0].pid, signal.SIGCONT)
    first = finished(procs[0], first_output, folders[0])
    waited = finished(procs[2], waiting_output, folders[2])
    ddb, lam = target.client("dynamodb"), target.client("lambda")
    names = [f.name for f in target.env.functions]
    versions = each(target, lambda fn: lam.get_alias(FunctionName=fn, Name=ALIAS)["FunctionVersion"])
    return Contest(
        first,
        refused,
        waited,
        waiting_output.lines[0],
        dict(zip(names, map(str, versions), strict=True)),
        [r for r in read_records(ddb, target.env) if r.action == "rollback"],
        read_lease(ddb, LeaseSettings.of(target.env).table, target.env),
    )


def _put_back(target: AwsTarget) -> None:
    """Every alias on the seeded version 3 again; the rollback records written meanwhile removed."""
    lam, ddb, table = target.client("lambda"), target.client("dynamodb"), target.env.deployments_table
    each(target, lambda fn: lam.update_alias(FunctionName=fn, Name=ALIAS, FunctionVersion="3"))
    for r in read_records(ddb, target.env):
        if r.action == "rollback" and table is not None:
            ddb.delete_item(TableName=table.name, Key={"deployment_id": {"S": r.record_id}})


def test_two_concurrent_300_function_rollbacks_one_acts_the_other_is_refused_naming_the_holder(contest) -> None:  # noqa: ANN001
    """Bob, started while Alice holds the lease, exits 5 naming her, her pid, command and the lease's age, and
    leaves no report; Alice's run alone acts: one record, every alias exactly one release back (3 -> 2)."""
    bob, alice = contest.refused, contest.first
    assert bob.rc == 5, bob.out[-2000:] + bob.err[-2000:]
    assert "held by alice@" in bob.err and f"(pid {alice.pid})" in bob.err, bob.err
    assert "harness rollback all services" in bob.err and " s old" in bob.err and "nothing changed" in bob.err
    assert not bob.reports() and "->" not in bob.out  # refused before planning: no plan, no empty report
    assert alice.rc == 0, alice.out[-3000:] + alice.err[-3000:]
    assert f"COMPLETE: rollback-all scale{FUNCTIONS}/sit — {FUNCTIONS} rolled back" in alice.out
    assert contest.serving == {fn: "2" for fn in contest.serving} and len(contest.serving) == FUNCTIONS
    (record,) = contest.records  # exactly one run acted
    assert record.status == "COMPLETE" and record.actor == "alice"
    moves = {fn: (c.from_version, c.to_version, c.final_version) for fn, c in record.functions.items()}
    assert moves == {fn: ("3", "2", "2") for fn in contest.serving}
    assert contest.lease_left is None


def test_lock_timeout_waits_then_plans_300_functions_afresh_and_moves_none_further(contest) -> None:  # noqa: ANN001
    """Carol, with ``--lock-timeout``, waits for Alice, then prints a plan made from the state Alice left.

    "Every alias moves at most one release back" with a second run that acts means the second operator names
    the release to return to (``--to-version 2``, 000 §4.2.4), as two people answering one incident do: her
    fresh plan finds every alias already there and moves nothing. Her plan from before the wait (3 -> 2, with
    RevisionIds Alice's moves made stale) is never applied. The default rule ("the version before the one
    served") would instead plan 2 -> 1 from the new state and act on it: a second release back that the
    operator sees in the plan but a non-interactive run does not stop, so it is not what this case runs.
    """
    carol = contest.waited
    assert contest.waiting_line.startswith("waiting up to 600 s for lease"), contest.waiting_line
    assert "held by alice@" in contest.waiting_line, contest.waiting_line
    assert carol.rc == 0, carol.out[-3000:] + carol.err[-3000:]
    fresh = carol.out[carol.out.index("planning from the current state") :]
    skipped = [fn for fn in contest.serving if f"{fn}: skipped: alias {ALIAS} already serves version 2" in fresh]
    assert len(skipped) == FUNCTIONS, fresh[:3000]
    assert f"alias/{ALIAS}" not in fresh, fresh[:3000]  # no alias change planned or made
    assert [r.actor for r in contest.records] == ["alice"]  # Carol wrote no record: she changed nothing
    assert set(contest.serving.values()) == {"2"}  # at most (here exactly) one release back, as GetAlias says
