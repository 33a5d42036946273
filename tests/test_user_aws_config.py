"""A rehearsal never signs with the user's AWS keys: with a real ``bbws-prod`` profile on the machine,
``AWS_PROFILE=bbws-prod`` and ``AWS_ACCESS_KEY_ID`` exported, the embedded target's calls carry its own dummy key."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.inventory import load_inventory
from harness.targets import make_target

REAL_KEY = "AKIAREALPRODKEY00001"


def test_embedded_target_signs_with_its_dummy_keys_when_the_users_profile_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws_dir = tmp_path / ".aws"
    aws_dir.mkdir()
    (aws_dir / "credentials").write_text(
        f"[bbws-prod]\naws_access_key_id = {REAL_KEY}\naws_secret_access_key = real-secret\n"
    )
    (aws_dir / "config").write_text("[profile bbws-prod]\nregion = eu-west-1\n")
    for key, value in {
        "HOME": str(tmp_path),
        "AWS_PROFILE": "bbws-prod",
        "AWS_ACCESS_KEY_ID": REAL_KEY,
        "AWS_SECRET_ACCESS_KEY": "real-secret",
        "AWS_SHARED_CREDENTIALS_FILE": str(aws_dir / "credentials"),
        "AWS_CONFIG_FILE": str(aws_dir / "config"),
    }.items():
        monkeypatch.setenv(key, value)
    target = make_target("embedded", load_inventory("bbws").environment("sit"), fidelity=False)
    signed: list[str] = []
    try:
        target.start()
        sts = target.client("sts")
        sts.meta.events.register(
            "before-sign.sts.*", lambda request, **_: signed.append(sts._request_signer._credentials.access_key)
        )
        identity = sts.get_caller_identity()
    finally:
        target.close()
    assert identity["Account"] == target.env.account
    assert signed and REAL_KEY not in signed, signed
    assert target.session.get_credentials().access_key != REAL_KEY
