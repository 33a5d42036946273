"""GetFunction's ``Code.Location`` downloads the package with a plain HTTP GET, for 10 minutes, as on AWS.

https://docs.aws.amazon.com/lambda/latest/api/API_GetFunction.html: GetFunction returns "a link to download
the deployment package that's valid for 10 minutes"; https://docs.aws.amazon.com/lambda/latest/api/
API_FunctionCodeLocation.html: ``Location`` is "A presigned URL that you can use to download the deployment
package". moto 5.2 answers an S3-style URL nothing serves (the ``moto-alone`` case shows the gap).
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import boto3
import pytest
import requests

from harness.clock import FixedClock
from tests.fidelity.conftest import publish, sample_zip

FN = "code-location"
SERVED_FN = "bbws-tenant-instance-management-sit"  # seeded with published versions in bbws/sit


def sha256_b64(body: bytes) -> str:
    """CodeSha256's form: the base64 of the package's SHA-256."""
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def plain_get(url: str) -> requests.Response:
    """A GET with no credentials and no AWS headers: what a presigned URL's user sends."""
    return requests.get(url, timeout=30)


def test_served_code_location_downloads_the_zip_whose_sha256_is_code_sha256(served_sit):
    """API_GetFunction (a download link valid for 10 minutes), API_FunctionCodeLocation (a presigned URL)."""
    lam = boto3.client(
        "lambda",
        endpoint_url=served_sit["AWS_ENDPOINT_URL"],
        region_name=served_sit["AWS_DEFAULT_REGION"],
        aws_access_key_id="dummy",
        aws_secret_access_key="dummy",
    )
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=SERVED_FN)["Versions"]]
    published = [v for v in versions if v != "$LATEST"]
    assert published, f"{SERVED_FN} has no published version on the served SIT: {versions}"
    for qualifier in (published[-1], "$LATEST"):
        got = lam.get_function(FunctionName=SERVED_FN, Qualifier=qualifier)
        location = got["Code"]["Location"]
        assert location.startswith(served_sit["AWS_ENDPOINT_URL"] + "/"), location
        resp = plain_get(location)
        assert resp.status_code == 200, (qualifier, resp.status_code, resp.text[:300])
        assert resp.content[:2] == b"PK", f"{SERVED_FN}:{qualifier}: not a zip: {resp.content[:40]!r}"
        assert sha256_b64(resp.content) == got["Configuration"]["CodeSha256"], qualifier


@pytest.fixture
def released(make_target):
    """A fidelity target on a FixedClock with ``FN`` version 1 published; (target, GetFunction of version 1)."""
    target = make_target(seed=False, clock=FixedClock())
    publish(target, FN, sample_zip("1.0.1"), {"APP_VERSION": "1.0.1"})
    return target, target.client("lambda").get_function(FunctionName=FN, Qualifier="1")


def test_in_process_code_location_downloads_the_version_package(released):
    target, got = released
    resp = plain_get(got["Code"]["Location"])
    assert resp.status_code == 200 and resp.content == sample_zip("1.0.1")
    assert sha256_b64(resp.content) == got["Configuration"]["CodeSha256"]
    assert resp.content == target.function_code(FN, "1")  # the same bytes the target's own handle reads


def test_code_location_expires_after_10_minutes_on_the_target_clock(released):
    """API_GetFunction: "valid for 10 minutes"; an expired presigned GET is S3's 403 AccessDenied."""
    target, got = released
    location = got["Code"]["Location"]
    assert parse_qs(urlsplit(location).query)["X-Amz-Expires"] == ["600"]
    target.clock.advance(seconds=600)
    assert plain_get(location).status_code == 200  # still valid at exactly 10 minutes
    target.clock.advance(seconds=1)
    resp = plain_get(location)
    assert resp.status_code == 403, resp.text
    assert "<Code>AccessDenied</Code>" in resp.text and "Request has expired" in resp.text
    fresh = target.client("lambda").get_function(FunctionName=FN, Qualifier="1")["Code"]["Location"]
    assert plain_get(fresh).status_code == 200  # a new GetFunction gives a new link


def test_changed_code_location_is_refused_as_a_bad_signature(released):
    _, got = released
    parts = urlsplit(got["Code"]["Location"])
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    query["X-Amz-Expires"] = "604800"  # a longer life than the one signed
    resp = plain_get(urlunsplit(parts._replace(query=urlencode(query))))
    assert resp.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in resp.text, resp.text
    other = urlunsplit(parts._replace(path=parts.path.rsplit("/", 1)[0] + "/2"))  # another version, same signature
    assert plain_get(other).status_code == 403


def test_latest_location_stops_answering_once_latest_is_replaced(released):
    """A link is to the package GetFunction described: after UpdateFunctionCode it is gone (404 NoSuchKey)."""
    target, _ = released
    lam = target.client("lambda")
    location = lam.get_function(FunctionName=FN)["Code"]["Location"]
    assert plain_get(location).content == sample_zip("1.0.1")
    lam.update_function_code(FunctionName=FN, ZipFile=sample_zip("1.0.2"))
    resp = plain_get(location)
    assert resp.status_code == 404 and "<Code>NoSuchKey</Code>" in resp.text, resp.text
    assert plain_get(lam.get_function(FunctionName=FN)["Code"]["Location"]).content == sample_zip("1.0.2")


def test_moto_alone_answers_an_s3_style_location_nothing_serves(make_target):
    """The gap the extension closes: moto's Location is on a host the rehearsal does not serve."""
    target = make_target(seed=False, fidelity=False, clock=FixedClock())
    publish(target, FN, sample_zip("1.0.1"), {"APP_VERSION": "1.0.1"})
    location = target.client("lambda").get_function(FunctionName=FN, Qualifier="1")["Code"]["Location"]
    assert urlsplit(location).hostname == f"awslambda-{target.env.region}-tasks.s3.{target.env.region}.amazonaws.com"
