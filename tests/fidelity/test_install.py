"""The extensions install once per process and act only for the accounts of fidelity targets."""

from __future__ import annotations

import json

import moto
import pytest
import requests
from botocore.exceptions import ClientError
from moto.awslambda.models import LambdaBackend

from harness.errors import TargetError
from harness.targets.embedded import fidelity
from harness.targets.embedded.fidelity import registry
from tests.conftest import run_pytest
from tests.fidelity.conftest import publish, sample_zip


def test_install_is_idempotent(make_target):
    make_target(seed=False)
    patched = LambdaBackend.invoke
    fidelity.install_patches()
    make_target(seed=False)
    assert LambdaBackend.invoke is patched
    assert registry.original(LambdaBackend, "invoke") is not patched


def test_only_fidelity_accounts_change_behaviour(make_target):
    rich, plain = make_target(seed=False), make_target(seed=False, fidelity=False)
    for target in (rich, plain):
        publish(target, "probe", sample_zip("1.0.1"), {"APP_VERSION": "1.0.1"})
    resp = rich.client("lambda").invoke(FunctionName="probe", Payload=b"{}")
    assert json.loads(resp["Payload"].read())["statusCode"] == 200
    try:  # moto's own Invoke in the same process: no Docker, so an error (500 or an error payload)
        answer = plain.client("lambda").invoke(FunctionName="probe", Payload=b"{}")["Payload"].read()
    except ClientError:
        return
    assert b"statusCode" not in answer


def test_close_unregisters_and_stops_the_api(make_target):
    target = make_target(seed=False)
    url = target.api_base_url
    assert registry.context(target.env.account) is target.extensions.context
    target.extensions.close()
    assert registry.context(target.env.account) is None
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/v1/health", timeout=2)


def _patch_points() -> dict[tuple[type, str], object]:
    """What every patched moto attribute is right now (moto's own or an earlier install's wrapper)."""
    return {(o, n): o.__dict__.get(n) for ext in fidelity.EXTENSIONS for o, n, _ in fidelity.load(ext).PATCHES}


def test_a_failed_install_is_one_line_and_undoes_its_patches(monkeypatch):
    from moto.dynamodb.models import DynamoDBBackend

    before = _patch_points()
    # A fresh process's state: nothing patched yet (patches made by other tests' targets stay aside).
    monkeypatch.setattr(registry, "_originals", {})
    monkeypatch.setattr(fidelity, "_installed", False)
    monkeypatch.delattr(DynamoDBBackend, "update_item")  # as if a moto upgrade renamed it

    with pytest.raises(TargetError) as failed:
        fidelity.install_patches()

    assert str(failed.value) == (
        f"fidelity extension dynamodb_pitr failed to install on moto {moto.__version__}: "
        f"DynamoDBBackend has no attribute 'update_item' (the embedded target needs moto {fidelity.MOTO_REQUIREMENT})"
    )
    # All or nothing: lambda_invoke and Table.put_item were patched before the failure, and are back.
    assert registry.patched() == [] and not fidelity._installed
    after = _patch_points()
    assert {k: v for k, v in after.items() if k[1] != "update_item"} == {
        k: v for k, v in before.items() if k[1] != "update_item"
    }


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        (KeyError("invoke"), "KeyError: 'invoke'"),
        (
            ImportError("cannot import name 'LambdaBackend' from 'moto.awslambda.models'"),
            "cannot import name 'LambdaBackend' from 'moto.awslambda.models'",
        ),
        (RuntimeError("line one\nline two"), "RuntimeError: line one line two"),
    ],
)
def test_any_install_error_becomes_one_target_error_line(monkeypatch, error, detail):
    def broken(owner, name, make):
        raise error

    monkeypatch.setattr(registry, "_originals", {})
    monkeypatch.setattr(fidelity, "_installed", False)
    monkeypatch.setattr(registry, "patch", broken)
    with pytest.raises(TargetError) as failed:
        fidelity.install_patches()
    message = str(failed.value)
    assert (
        message
        == f"fidelity extension lambda_invoke failed to install on moto {moto.__version__}: {detail} (the embedded "
        f"target needs moto {fidelity.MOTO_REQUIREMENT})"
    )
    assert "\n" not in message


def test_a_target_whose_extension_breaks_does_not_start(make_target, monkeypatch):
    from moto.ecs.models import EC2ContainerServiceBackend

    monkeypatch.setattr(registry, "_originals", {})
    monkeypatch.setattr(fidelity, "_installed", False)
    monkeypatch.delattr(EC2ContainerServiceBackend, "stop_task")
    with pytest.raises(
        TargetError,
        match=r"^fidelity extension ecs_tasks failed to install on moto \S+: EC2ContainerServiceBackend has no "
        r"attribute 'stop_task'",
    ):
        make_target(seed=False)
    assert registry.patched() == []


BREAK_MOTO = '''
"""-p plugin: remove a moto internal before the harness starts its target (as a moto upgrade might)."""
from moto.awslambda.models import LambdaBackend

del LambdaBackend.invoke
'''


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_broken_extension_stops_the_run_with_one_line(tmp_path, xdist):
    """Also under xdist: the controller installs the patches first (Target.preflight), so no worker crashes."""
    (tmp_path / "break_moto.py").write_text(BREAK_MOTO)
    proc = run_pytest(
        "-p",
        "break_moto",
        "scenarios/test_smoke.py",
        "--env",
        "sit",
        "--reports-dir",
        str(tmp_path / "reports"),
        *xdist,
        env={"PYTHONPATH": str(tmp_path)},
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-2000:]
    assert "Traceback" not in output, output[-3000:]
    lines = [line for line in output.splitlines() if "lambda_invoke" in line and moto.__version__ in line]
    assert lines == [
        f"ERROR: fidelity extension lambda_invoke failed to install on moto {moto.__version__}: "
        f"LambdaBackend has no attribute 'invoke' (the embedded target needs moto {fidelity.MOTO_REQUIREMENT})"
    ], output[-3000:]
