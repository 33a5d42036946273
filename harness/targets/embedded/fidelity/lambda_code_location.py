"""GetFunction's ``Code.Location``: a presigned URL that a plain HTTP GET downloads, valid for 10 minutes.

Lambda API reference, GetFunction: "a link to download the deployment package that's valid for 10 minutes";
FunctionCodeLocation.Location: "A presigned URL that you can use to download the deployment package." moto
5.2 answers ``https://awslambda-<region>-tasks.s3.<region>.amazonaws.com/<key>``, which neither the network
nor the emulator's S3 serves, so a promotion from a served environment could not copy the package (001 §3.2.1
"Download Lambda package"). For accounts whose target installed the extensions:

- ``Code.Location`` is ``<the emulator's endpoint>/_harness/lambda-code/<account>/<function>/<version>`` with
  S3-presigned-style parameters: ``X-Amz-Date`` on the target's clock, ``X-Amz-Expires=600`` and
  ``X-Amz-Signature`` (an HMAC of the rest under a key of this process, so a changed URL is refused);
- a plain GET of it (no credentials, as on AWS) answers the zip, whose SHA-256 is the version's ``CodeSha256``;
- as S3 answers a presigned GET: past its expiry on the target's clock 403 ``AccessDenied`` "Request has
  expired", a changed URL 403 ``SignatureDoesNotMatch``, a package replaced since (``$LATEST`` updated) or a
  function deleted since 404 ``NoSuchKey``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from moto.awslambda.models import LambdaFunction

from harness.errors import HarnessError
from harness.targets.embedded.fidelity import registry
from harness.targets.embedded.lambda_code import function_code

PREFIX = "/_harness/lambda-code/"
# Lambda API reference, GetFunction: the download link is "valid for 10 minutes".
EXPIRES_SECONDS = 600
AMZ_DATE = "%Y%m%dT%H%M%SZ"
SHA_PARAM = "x-harness-code-sha256"  # the package the URL was issued for (a later $LATEST is another one)
LATEST = "$LATEST"
_KEY = secrets.token_bytes(32)  # this process signs and checks its own URLs

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]
Answer = tuple[str, str, bytes]  # status line, Content-Type, body


def _signature(account: str, name: str, version: str, sha: str, date: str, expires: str) -> str:
    message = "\n".join((account, name, version, sha, date, expires)).encode()
    return hmac.new(_KEY, message, hashlib.sha256).hexdigest()


def presigned_location(ctx: registry.AccountContext, base_url: str, fn: LambdaFunction) -> str:
    """A URL on ``base_url`` that downloads ``fn``'s package until 10 minutes from now on the target's clock."""
    name, version, sha = str(fn.function_name), str(fn.version), str(fn.code_sha_256)
    date = ctx.clock.now().astimezone(timezone.utc).strftime(AMZ_DATE)
    expires = str(EXPIRES_SECONDS)
    path = PREFIX + "/".join(quote(part, safe="") for part in (ctx.account, name, version))
    query = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Date": date,
        "X-Amz-Expires": expires,
        "X-Amz-SignedHeaders": "host",
        SHA_PARAM: sha,
        "X-Amz-Signature": _signature(ctx.account, name, version, sha, date, expires),
    }
    return f"{base_url}{path}?{urlencode(query)}"


def _get_code(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_code(self: LambdaFunction) -> Any:
        resp = original(self)
        ctx = registry.context(self.account_id)
        base_url = ctx.server_url() if ctx is not None else None
        code = resp.get("Code") if isinstance(resp, dict) else None
        if ctx is not None and base_url and isinstance(code, dict) and "Location" in code and self.code_bytes:
            code["Location"] = presigned_location(ctx, base_url, self)
        return resp

    get_code.__doc__ = "GetFunction's Code with a downloadable presigned Location (fidelity extension)."
    return get_code


def _s3_error(status: str, code: str, message: str, **extra: str) -> Answer:
    """S3's XML error body (what a presigned GET answers on AWS)."""
    fields = "".join(f"<{k}>{v}</{k}>" for k, v in extra.items())
    body = f"<Error><Code>{code}</Code><Message>{message}</Message>{fields}</Error>"
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n{body}'
    return status, "application/xml", body.encode()


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def download(path: str, query_string: str) -> Answer:
    """The answer to a GET of a presigned ``Code.Location`` (``path`` percent-decoded, as WSGI gives it)."""
    account, name, version = (path[len(PREFIX) :].split("/") + ["", ""])[:3]
    query = {k: v[-1] for k, v in parse_qs(query_string).items()}
    date, expires, sha = query.get("X-Amz-Date", ""), query.get("X-Amz-Expires", ""), query.get(SHA_PARAM, "")
    ctx = registry.context(account)
    wanted = _signature(account, name, version, sha, date, expires)
    if ctx is None or path.count("/") != 5 or not hmac.compare_digest(query.get("X-Amz-Signature", ""), wanted):
        return _s3_error(
            "403 Forbidden",
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    issued = datetime.strptime(date, AMZ_DATE).replace(tzinfo=timezone.utc)
    now, until = (
        ctx.clock.now().replace(microsecond=0),
        issued + timedelta(seconds=int(expires)),
    )  # X-Amz-Date's resolution
    if now > until:
        return _s3_error(
            "403 Forbidden", "AccessDenied", "Request has expired", Expires=_iso(until), ServerTime=_iso(now)
        )
    try:
        code = function_code(account, ctx.region, name, None if version == LATEST else version)
    except HarnessError:
        code = b""
    if base64.b64encode(hashlib.sha256(code).digest()).decode() != sha:
        return _s3_error("404 Not Found", "NoSuchKey", "The specified key does not exist.")
    return "200 OK", "application/zip", code


class CodeDownload:
    """WSGI middleware: a GET under ``/_harness/lambda-code/`` is a presigned Code.Location's download."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if not path.startswith(PREFIX) or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            answer: Iterable[bytes] = self.app(environ, start_response)
            return answer
        status, content_type, body = download(path, str(environ.get("QUERY_STRING", "")))
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [body]


def middleware() -> Callable[[WsgiApp], WsgiApp]:
    """The wrapper ``EmbeddedServer.middlewares`` applies at start."""
    return CodeDownload


PATCHES: tuple[registry.Patch, ...] = ((LambdaFunction, "get_code", _get_code),)


def install() -> None:
    """Patch GetFunction's Code.Location (once per process)."""
    registry.patch_all(PATCHES)
