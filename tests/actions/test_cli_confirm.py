"""Confirmation on a terminal: a mutating command against a kept target (``--target aws`` on ``harness serve``)
run on a terminal shows its plan, then asks for the environment's name; the typed name is the consent, anything
else changes nothing (exit 3). ``--yes`` skips the question (``--allow-mutation`` is then the consent, as in a
non-interactive run); a disposable rehearsal and a non-interactive run never ask."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from harness.cli import confirm, main
from tests.actions import test_incident_ops as ops
from tests.actions.test_incident_ops import FN, lease_of, serving
from tests.conftest import REPO, aws_env

ROLLBACK_FN = ("rollback", "--env", "sit", "--target", "aws", "--function", FN, "--reason", "5xx")
QUESTION = "Type the environment's name: "
KEY = "tenants/tenant-001/terraform.tfstate"
observer = ops.observer  # the served SIT (tests/actions/conftest.py) is this module's own; aliases put back on 3


@pytest.fixture
def terminal(monkeypatch, capsys):
    """``terminal(answer, *args)`` -> (status, stdout, stderr): ``harness ARGS`` as if on a terminal."""

    def run(answer: str, *args: str, tty: bool = True) -> tuple[int, str, str]:
        monkeypatch.setattr(confirm, "on_terminal", lambda: tty)
        monkeypatch.setattr(sys, "stdin", io.StringIO(answer))
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_typing_the_environment_name_is_the_consent(served, observer, terminal, tmp_path) -> None:
    code, out, err = terminal("sit\n", *ROLLBACK_FN, "--reports-dir", str(tmp_path))
    assert code == 0, out + err
    assert QUESTION in err and "bbws/sit on target aws" in err
    assert out.index("plan: rollback") < out.index("COMPLETE: rollback bbws/sit")  # the plan, then the change
    assert serving(observer)[FN] == "2" and lease_of(observer) is None


@pytest.mark.parametrize("answer", ["prod\n", "\n", "yes\n", ""])
def test_any_other_answer_changes_nothing(served, observer, terminal, tmp_path, answer) -> None:
    code, out, err = terminal(answer, *ROLLBACK_FN, "--allow-mutation", "--reports-dir", str(tmp_path))
    assert code == 3 and QUESTION in err, out + err
    assert "plan: rollback" in out and "REFUSED: not confirmed (the answer was not 'sit'); nothing changed" in out
    assert set(serving(observer).values()) == {"3"} and lease_of(observer) is None
    assert not list(tmp_path.glob("runs/*/*.md"))  # reserved reports left empty are removed


def test_yes_skips_the_question_and_allow_mutation_is_the_consent_again(served, observer, terminal, tmp_path) -> None:
    code, out, err = terminal("", *ROLLBACK_FN, "--yes", "--reports-dir", str(tmp_path))
    assert code == 3 and QUESTION not in err and "no --allow-mutation" in out, out + err
    assert set(serving(observer).values()) == {"3"}
    code, out, err = terminal("", *ROLLBACK_FN, "--yes", "--allow-mutation", "--reports-dir", str(tmp_path))
    assert code == 0 and QUESTION not in err and serving(observer)[FN] == "2", out + err


def test_a_non_interactive_run_never_asks(served, observer, terminal, tmp_path) -> None:
    code, out, err = terminal("", *ROLLBACK_FN, "--reports-dir", str(tmp_path), tty=False)
    assert code == 3 and QUESTION not in err and "no --allow-mutation" in out, out + err
    code, out, err = terminal("", *ROLLBACK_FN, "--allow-mutation", "--reports-dir", str(tmp_path), tty=False)
    assert code == 0 and QUESTION not in err and serving(observer)[FN] == "2", out + err


def test_dry_run_and_a_disposable_rehearsal_never_ask(served, observer, terminal, tmp_path, monkeypatch) -> None:
    code, out, err = terminal("", *ROLLBACK_FN, "--dry-run")
    assert code == 0 and QUESTION not in err and set(serving(observer).values()) == {"3"}, out + err
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    args = ("rollback", "--env", "sit", "--function", FN, "--reason", "t", "--reports-dir", str(tmp_path))
    code, out, err = terminal("", *args)  # the embedded default: a rehearsal in this process
    assert code == 0 and QUESTION not in err and "COMPLETE: rollback bbws/sit" in out, out + err


def test_the_data_and_state_commands_ask_too(served, observer, terminal) -> None:
    s3 = observer.client("s3")
    bucket = observer.env.terraform.state_bucket
    before = [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket, Prefix=KEY).get("Versions", [])]
    args = ("state-restore", "--env", "sit", "--target", "aws", "--key", KEY, "--previous", "--reason", "t")
    code, out, err = terminal("nope\n", *args)
    assert code == 3 and QUESTION in err and "REFUSED: not confirmed" in out and "plan: state-restore" in out
    after = [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket, Prefix=KEY).get("Versions", [])]
    assert after == before and lease_of(observer) is None
    code, out, err = terminal("sit\n", *args)
    assert code == 0 and "COMPLETE: state-restore" in out, out + err


def test_on_a_real_pseudo_terminal(served, observer, tmp_path) -> None:
    """The ``harness`` program on a pty (stdin and stderr a terminal): it asks; typing ``sit`` applies."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_", "PYTEST_"))}
    env.update(aws_env(served["AWS_ENDPOINT_URL"]), PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *ROLLBACK_FN, "--reports-dir", str(tmp_path)],
        stdin=follower,
        stderr=follower,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    os.close(follower)
    seen, deadline = b"", time.monotonic() + 120
    while QUESTION.encode() not in seen and time.monotonic() < deadline:
        if select.select([leader], [], [], 1.0)[0]:
            seen += os.read(leader, 4096)
    assert QUESTION.encode() in seen, seen
    assert serving(observer)[FN] == "3"  # nothing changed while it waits for the answer
    os.write(leader, b"sit\n")
    out, _ = proc.communicate(timeout=120)
    os.close(leader)
    assert proc.returncode == 0 and "COMPLETE: rollback bbws/sit" in out, out
    assert serving(observer)[FN] == "2" and lease_of(observer) is None
