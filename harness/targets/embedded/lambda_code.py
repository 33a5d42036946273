"""Read a published version's deployment package from the emulator (the embedded target's code handle).

On AWS a promotion downloads the source version's package from ``GetFunction``'s presigned
``Code.Location`` (001 §3.2.1 "Download Lambda package"). With the fidelity extensions that URL is on the
emulator's own endpoint (``fidelity/lambda_code_location.py`` answers it from here; moto's own is not
downloadable); in this process moto holds the zip itself, so the embedded target also hands it out through
:meth:`EmbeddedTarget.function_code` and actions never reach into moto.
"""

from __future__ import annotations

from moto.awslambda.models import lambda_backends

from harness.errors import HarnessError


def function_code(account: str, region: str, name: str, qualifier: str | None) -> bytes:
    """The zip of ``name`` at ``qualifier`` (a version, an alias or None for $LATEST) in ``account``."""
    backend = lambda_backends[account][region]
    try:
        fn = backend.get_function(name, qualifier)
    except Exception as exc:  # noqa: BLE001 (moto raises its own not-found classes, with no common base)
        raise HarnessError(f"no code for {name}:{qualifier or '$LATEST'} in account {account}: {exc}") from None
    code = getattr(fn, "code_bytes", None)
    if not code:
        raise HarnessError(
            f"{name}:{qualifier or '$LATEST'} in account {account} has no zip package (an image function?)"
        )
    return bytes(code)
