"""One operator at a time for ``harness promote`` run as two CLI processes from two working folders.

A promotion reads one environment and changes another, in two accounts, so one ``harness serve`` cannot
serve it: here ``harness serve --env dev`` and ``harness serve --env sit`` run side by side and each
environment's profile (``bbws-dev``, ``bbws-sit``, as ``--target aws`` uses them) names its own endpoint in
an AWS config file. The lease is the destination's (SIT's). The acting promotion copies DEV's package as on AWS
(001 §3.2.1 "Download Lambda package": a plain GET of ``GetFunction``'s presigned ``Code.Location``, which the
served DEV answers) and ends COMPLETE with SIT's alias on a new version carrying DEV's code.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from harness.inventory import load_inventory
from harness.records import read_records
from harness.targets.aws import AwsTarget
from tests.actions.test_incident_ops import lease_of, wait_for_lease
from tests.conftest import REPO, serve, stop

FN, DEST_FN = "bbws-tenant-instance-management-dev", "bbws-tenant-instance-management-sit"
PROMOTE = ("promote", "--from", "dev", "--to", "sit", "--function", FN, "--target", "aws", "--allow-mutation")
MUTATE = ("--reason", "CR-7", "--approved-by", "Dev Lead")


@pytest.fixture
def served_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """DEV and SIT served side by side (fresh per test: a completed promotion changes SIT); the AWS config file
    whose profiles point at them."""
    procs = {env: serve(env) for env in ("dev", "sit")}
    config = tmp_path_factory.mktemp("aws") / "config"
    config.write_text(
        "".join(
            f"[profile bbws-{env}]\nendpoint_url = {info['AWS_ENDPOINT_URL']}\naws_access_key_id = dummy\n"
            f"aws_secret_access_key = dummy\nregion = {info['AWS_DEFAULT_REGION']}\n\n"
            for env, (_, info) in procs.items()
        )
    )
    yield config
    for proc, _ in procs.values():
        stop(proc)


def profile_env(config: Path) -> dict[str, str]:
    """A process environment that reaches each environment through its own profile (no AWS_ENDPOINT_URL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_", "PYTEST_"))}
    env.update(AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    return env


@pytest.fixture
def sit(served_pair: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsTarget]:
    """An ordinary AWS client view of the served SIT (the promotion's destination)."""
    for name in [k for k in os.environ if k.startswith(("AWS_", "HARNESS_"))]:
        monkeypatch.delenv(name)
    for name, value in profile_env(served_pair).items():
        monkeypatch.setenv(name, value)
    target = AwsTarget(load_inventory("bbws").environment("sit")).start()
    yield target
    target.close()


def promote_proc(config: Path, cwd: Path, *args: str) -> subprocess.Popen:
    """``harness promote ...`` in a fresh interpreter from ``cwd`` (an operator's own working folder)."""
    cwd.mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *PROMOTE, *MUTATE, *args],
        cwd=cwd,
        env={**profile_env(config), "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def alias_code(env: str, function: str) -> tuple[str, str]:
    """The version ``latest-<env>`` points at in ``env`` and that version's CodeSha256 (through the env's profile)."""
    lam = boto3.Session(profile_name=f"bbws-{env}").client("lambda")
    version = lam.get_alias(FunctionName=function, Name=f"latest-{env}")["FunctionVersion"]
    return version, lam.get_function_configuration(FunctionName=function, Qualifier=version)["CodeSha256"]


def assert_promoted(sit: AwsTarget, before: tuple, returncode: int, out: str, err: str) -> None:
    """The acting promotion ended COMPLETE (exit 0) and SIT's alias moved to a new version with DEV's code."""
    assert returncode == 0 and "COMPLETE: promote dev -> sit (bbws)" in out, out + err
    version, sha = alias_code("sit", DEST_FN)
    assert version not in before[1], f"latest-sit still on version {version} (versions before: {before[1]})"
    assert sha == alias_code("dev", FN)[1], f"latest-sit's version {version} does not carry DEV's package"


def assert_differs_from_dev() -> None:
    """SIT's alias starts on a package other than DEV's (else "SIT carries DEV's package" proves nothing)."""
    assert alias_code("sit", DEST_FN)[1] != alias_code("dev", FN)[1]


def sit_state(target: AwsTarget) -> tuple:
    """SIT's function: its aliases and versions, and the deployment records: what a refused run must not touch."""
    lam = target.client("lambda")
    aliases = sorted((a["Name"], a["FunctionVersion"]) for a in lam.list_aliases(FunctionName=DEST_FN)["Aliases"])
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=DEST_FN)["Versions"]]
    records = sorted(r.record_id for r in read_records(target.client("dynamodb"), target.env))
    return aliases, versions, records


def test_two_concurrent_promotions_one_acts_the_other_is_refused_naming_the_holder(served_pair, sit, tmp_path):
    assert_differs_from_dev()
    first = promote_proc(served_pair, tmp_path / "a", "--actor", "alice")
    held = wait_for_lease(sit, first)
    os.kill(first.pid, signal.SIGSTOP)
    try:
        before = sit_state(sit)
        second = promote_proc(served_pair, tmp_path / "b", "--actor", "bob")
        out, err = second.communicate(timeout=120)
        after = sit_state(sit)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    first_out, first_err = first.communicate(timeout=180)
    assert second.returncode == 5, out + err
    assert f"lease {held.lease_id} on bbws/sit" in err and "held by alice@" in err and f"(pid {first.pid})" in err
    assert f"`harness promote --from dev --to sit ({FN})`" in err and " s old" in err and "nothing changed" in err
    assert "plan: " not in out and "gate [" not in out and after == before  # refused before its gates and plan
    assert not list((tmp_path / "b").glob("reports/runs/*/*.md"))
    # the first acted: it planned and applied under the lease, copying DEV's package into SIT
    assert "plan: promote on bbws/sit" in first_out, first_out + first_err
    assert_promoted(sit, before, first.returncode, first_out, first_err)
    assert lease_of(sit) is None
    records = [r for r in read_records(sit.client("dynamodb"), sit.env) if r.record_id not in before[2]]
    assert [r.actor for r in records if r.action == "promote"] == ["alice"]  # exactly one promotion recorded


def test_promote_with_lock_timeout_waits_then_plans_from_the_new_state(served_pair, sit, tmp_path):
    assert_differs_from_dev()
    before = sit_state(sit)
    first = promote_proc(served_pair, tmp_path / "a", "--actor", "alice")
    wait_for_lease(sit, first)
    os.kill(first.pid, signal.SIGSTOP)
    try:
        second = promote_proc(served_pair, tmp_path / "b", "--actor", "bob", "--lock-timeout", "180s")
        assert second.stdout is not None
        line = second.stdout.readline()
        assert line.startswith("waiting up to 180 s for lease") and "held by alice@" in line, line
    finally:
        os.kill(first.pid, signal.SIGCONT)
    first_out, first_err = first.communicate(timeout=180)
    assert_promoted(sit, before, first.returncode, first_out, first_err)
    left = sit_state(sit)
    out, err = second.communicate(timeout=180)
    assert "planning from the current state" in out, out + err
    fresh = out[out.index("planning from the current state") :]
    assert "gate [PASS]" in fresh and "plan: promote on bbws/sit" in fresh  # gates and plan only after the wait
    first_record = next(r for r in left[2] if r.startswith("promote-") and r in first_out)
    assert first_record not in fresh  # a plan of its own, made from the state the first left
    # that state already serves DEV's release: the second skips, leaving SIT as the first left it
    assert "already serves release" in fresh and "SKIPPED: promote dev -> sit (bbws)" in fresh, out + err
    assert second.returncode == 0 and sit_state(sit)[:2] == left[:2] and lease_of(sit) is None
