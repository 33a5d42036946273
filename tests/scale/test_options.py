"""--rehearse-quotas and --shared-emulator: one ERROR line where they cannot apply, before any target starts."""

from __future__ import annotations


def test_quotas_and_sharing_are_embedded_only(run_here) -> None:
    quotas = run_here(
        "scenarios/test_smoke.py",
        "--env",
        "sit",
        "--target",
        "aws",
        "--rehearse-quotas",
        env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"},
    )
    assert (
        quotas.returncode == 4 and "--rehearse-quotas: only the embedded target rehearses API quotas" in quotas.stderr
    ), quotas.stderr
    shared = run_here(
        "scenarios/test_smoke.py",
        "--env",
        "sit",
        "--target",
        "aws",
        "--shared-emulator",
        env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"},
    )
    assert shared.returncode == 4 and "--shared-emulator: only the embedded target" in shared.stderr, shared.stderr
