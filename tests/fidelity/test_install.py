"""The extensions install once per process and act only for the accounts of fidelity targets."""

from __future__ import annotations

import json

import pytest
import requests
from botocore.exceptions import ClientError
from moto.awslambda.models import LambdaBackend

from harness.targets.embedded import fidelity
from harness.targets.embedded.fidelity import registry
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
