"""A team's own runbook script as a drill's recovery (``--recovery-cmd``), judged by the same checklist and RTO.

The command runs as a child process with the environment pointing at the drill's target:

- emulator targets (embedded, LocalStack): ``AWS_ENDPOINT_URL`` (boto3, the AWS CLI and every SDK honour
  it), dummy credentials, ``AWS_DEFAULT_REGION``/``AWS_REGION``, shared config and credentials files
  disabled (so an exported ``AWS_PROFILE`` or real keys are never read). On the embedded target a plain
  client carries no ``x-moto-account-id`` header and lands in the server's default account, which is the
  environment's when the target started the server (a peer's would not be: refused); LocalStack picks the
  account from the 12-digit access key id, so the key id is the environment's account;
- a real account: the caller's own environment (profile or keys), plus the region.

Always set: ``HARNESS_ENV``, ``HARNESS_INVENTORY``, ``AWS_ACCOUNT_ID`` and, where the target serves the API,
``API_BASE_URL``. The command is split like a shell would (``shlex``) and run without a shell, from the
directory pytest was started in, with the drill's RTO objective as its time limit.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Sequence

from harness.drills.base import Drill, DrillRun, rto_target_s
from harness.drills.model import CommandRun, DrillSkipped, Recovery
from harness.faults.deployment import RECORD_GAP_S
from harness.targets.base import TargetLike

DUMMY_KEY = "testing"  # emulator credentials: valid nowhere else
DEFAULT_TIMEOUT_S = 900.0  # without an RTO objective: 002's infrastructure RTO, 15 minutes
SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
GROUP_GRACE_S = 5.0  # harness setting: how long a stopped command has to exit on SIGTERM before SIGKILL


def command_environment(target: TargetLike) -> tuple[dict[str, str], dict[str, str]]:
    """(the child's whole environment, the variables the harness set) for a command acting on ``target``."""
    env = target.env
    emulator = bool(getattr(target, "disposable", False)) or target.name == "localstack"
    base = {k: v for k, v in os.environ.items() if not (emulator and k.startswith("AWS_"))}
    mine: dict[str, str] = {
        "AWS_DEFAULT_REGION": env.region,
        "AWS_REGION": env.region,
        "AWS_ACCOUNT_ID": env.account,
        "HARNESS_ENV": env.name,
        "HARNESS_INVENTORY": env.inventory,
    }
    if emulator:
        server = getattr(target, "server", None)
        if server is not None and getattr(server, "default_account", env.account) != env.account:
            raise DrillSkipped(
                f"{env.inventory}/{env.name} is a peer on a server whose default account is {server.default_account}: "
                "a plain client would land in another account"
            )
        mine.update(
            AWS_ENDPOINT_URL=str(target.client("sts").meta.endpoint_url),
            AWS_ACCESS_KEY_ID=env.account if target.name == "localstack" else DUMMY_KEY,
            AWS_SECRET_ACCESS_KEY=DUMMY_KEY,
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
    api = getattr(target, "api_base_url", None)
    if api:
        mine["API_BASE_URL"] = str(api)
    return {**base, **mine}, {k: v for k, v in mine.items() if k not in SECRET_VARIABLES}


def split(command: str | Sequence[str]) -> list[str]:
    """The argument vector of ``command`` (a string is split as a POSIX shell would)."""
    return shlex.split(command) if isinstance(command, str) else list(command)


def run_command(
    command: str | Sequence[str], target: TargetLike, *, timeout_s: float | None = None, cwd: Path | None = None
) -> CommandRun:
    """Run ``command`` against ``target``; its exit code, output and duration (a timeout is a failed run, not an
    exception)."""
    argv = split(command)
    child_env, shown = command_environment(target)
    began = time.perf_counter()
    try:
        # its own process group: on the time limit or an interrupt the whole group stops, children included
        proc = subprocess.Popen(
            argv,
            env=child_env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except OSError as exc:  # not found, not executable
        return CommandRun(argv, shown, None, time.perf_counter() - began, "", f"{type(exc).__name__}: {exc}")
    try:
        out, err = proc.communicate(timeout=timeout_s or DEFAULT_TIMEOUT_S)
        return CommandRun(argv, shown, proc.returncode, time.perf_counter() - began, out, err)
    except subprocess.TimeoutExpired:
        out, err = stop_group(proc)
        return CommandRun(argv, shown, None, time.perf_counter() - began, out, err, timed_out=True)
    except BaseException:
        stop_group(proc)
        raise


def stop_group(proc: subprocess.Popen[str], grace_s: float = GROUP_GRACE_S) -> tuple[str, str]:
    """SIGTERM the command's whole process group, SIGKILL what is left after ``grace_s``; its output so far."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            out, err = proc.communicate(timeout=grace_s)
            if sig == signal.SIGTERM:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # children that outlived the leader
                except ProcessLookupError:
                    pass
            return out or "", err or ""
        except subprocess.TimeoutExpired:
            continue
    out, err = proc.communicate()
    return out or "", err or ""


def command_recovery(
    command: str | Sequence[str], target: TargetLike, *, timeout_s: float | None = None, cwd: Path | None = None
) -> Recovery:
    """Run the team's command as the recovery; ``ok`` is its exit status (the checklist judges the result)."""
    ran = run_command(command, target, timeout_s=timeout_s, cwd=cwd)
    shown = " ".join(shlex.quote(a) for a in ran.command)
    if ran.timed_out:
        message = f"timed out after {ran.seconds:.0f} s"
    elif ran.exit_code is None:
        message = f"did not start: {ran.stderr}"
    else:
        last = (ran.stdout.strip().splitlines() or ran.stderr.strip().splitlines() or [""])[-1]
        message = f"exit {ran.exit_code} after {ran.seconds:.1f} s" + (f": {last[:200]}" if last else "")
    return Recovery(f"command: {shown}", ran.ok, message, command=ran)


class CommandRecovered:
    """``drill`` with the team's command as its recovery (``--recovery-cmd``): every other phase, the checklist and
    the RTO objective are the drill's own."""

    def __init__(self, drill: Drill, command: str | Sequence[str], *, cwd: Path | None = None) -> None:
        self.drill, self.command, self.cwd = drill, command, cwd
        shown = command if isinstance(command, str) else " ".join(shlex.quote(a) for a in command)
        kept = [n for n in drill.notes if not n.startswith("recovery by ")]
        self.notes = kept + [f"recovery by the team's command `{shown}`"]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.drill, name)

    def recover(self, run: DrillRun) -> Recovery:
        """Run the command against the drill's target, with the drill's RTO objective as its time limit."""
        target = self.drill.target
        target.clock.sleep(RECORD_GAP_S)  # anything the command records must be newer than the fault's record
        limit = rto_target_s(target, self.drill.kind)[0]
        return command_recovery(self.command, target, timeout_s=limit, cwd=self.cwd)


def with_command(drill: Drill, command: str | Sequence[str], *, cwd: Path | None = None) -> Drill:
    """The same drill with the team's command as its recovery (``--recovery-cmd``): same checklist, same RTO
    objective."""
    return CommandRecovered(drill, command, cwd=cwd)
