"""Amplify's REST API on the embedded server: a WSGI middleware in front of moto (which has no Amplify).

A request whose SigV4 credential scope names the service ``amplify``
(``Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/amplify/aws4_request``) is answered
here from ``amplify_model`` for the account in ``x-moto-account-id`` (else the server's default
account), when the fidelity extensions serve that account; anything else goes on to moto unchanged.
Paths, methods and JSON bodies are those of the Amplify API reference (botocore's
``amplify/2017-07-25/service-2.json``); timestamps are epoch seconds (rest-json's default); errors
are ``{"message": ...}`` with the ``x-amzn-ErrorType`` header: NotFoundException 404,
BadRequestException 400.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from harness.targets.embedded.fidelity import amplify_model as model
from harness.targets.embedded.fidelity import registry
from harness.targets.embedded.fidelity.amplify_model import AmplifyError, AmplifyStore, bad_request

SCOPE_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)/aws4_request")
ACCOUNT_HEADER = "HTTP_X_MOTO_ACCOUNT_ID"
MAX_RESULTS = 50  # ListJobs/ListBranches/ListDomainAssociations maxResults limit (ListApps: 100)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]  # as server.WsgiApp
Json = dict[str, Any]  # a JSON object, as parsed or as answered
Handler = Callable[..., tuple[int, Json]]
T = TypeVar("T")


def _epoch(at: datetime | None) -> float | None:
    return None if at is None else at.astimezone(timezone.utc).timestamp()


def _arn(store: AmplifyStore, *parts: str) -> str:
    return f"arn:aws:amplify:{store.region}:{store.account}:apps/" + "/".join(parts)


def _drop_none(d: Json) -> Json:
    return {k: v for k, v in d.items() if v is not None}


def app_json(store: AmplifyStore, app: model.App, now: datetime) -> Json:
    """The App shape."""
    production = app.branches.get(next((n for n, b in app.branches.items() if b.stage == "PRODUCTION"), ""), None)
    out: Json = {
        "appId": app.app_id,
        "appArn": _arn(store, app.app_id),
        "name": app.name,
        "tags": app.tags,
        "description": app.description,
        "repository": app.repository,
        "platform": app.platform,
        "createTime": _epoch(app.created),
        "updateTime": _epoch(app.created),
        "environmentVariables": app.environment_variables,
        "defaultDomain": f"{app.app_id}.amplifyapp.com",
        "enableBranchAutoBuild": not app.manual,
        "enableBasicAuth": False,
    }
    if production is not None:
        active = production.active_job(now)
        out["productionBranch"] = _drop_none(
            {
                "branchName": production.name,
                "status": active.status(now) if active else None,
                "lastDeployTime": _epoch(active.end(now)) if active else None,
            }
        )
    return out


def branch_json(store: AmplifyStore, b: model.Branch, now: datetime) -> Json:
    """The Branch shape; ``activeJobId`` is the build users get."""
    app = store.app(b.app_id)
    active = b.active_job(now)
    return {
        "branchArn": _arn(store, b.app_id, "branches", b.name),
        "branchName": b.name,
        "description": b.description,
        "stage": b.stage,
        "displayName": b.name,
        "enableNotification": False,
        "createTime": _epoch(b.created),
        "updateTime": _epoch(b.created),
        "environmentVariables": {},
        "enableAutoBuild": b.enable_auto_build and not app.manual,
        "customDomains": [
            f"{(s['prefix'] + '.') if s['prefix'] else ''}{d.name}"
            for d in app.domains.values()
            for s in d.settings
            if s["branchName"] == b.name
        ],
        "framework": b.framework,
        "activeJobId": active.job_id if active else "",
        "totalNumberOfJobs": str(len(b.jobs)),
        "enableBasicAuth": False,
        "ttl": "5",
        "enablePullRequestPreview": False,
    }


def job_summary(store: AmplifyStore, job: model.Job, now: datetime) -> Json:
    """The JobSummary shape."""
    return _drop_none(
        {
            "jobArn": _arn(store, job.app_id, "branches", job.branch, "jobs", job.job_id),
            "jobId": job.job_id,
            "commitId": job.commit.commit_id,
            "commitMessage": job.commit.message,
            "commitTime": _epoch(job.commit.time),
            "startTime": _epoch(job.start or job.created),
            "status": job.status(now),
            "endTime": _epoch(job.end(now)),
            "jobType": job.job_type,
            "sourceUrl": job.source_url,
            "sourceUrlType": job.source_url_type,
        }
    )


def job_steps(job: model.Job, now: datetime) -> list[Json]:
    """BUILD and DEPLOY steps consistent with the job's status."""
    status, start, end = job.status(now), job.start or job.created, job.end(now)
    if status in ("CREATED", "PENDING", "PROVISIONING"):
        return []
    build = status if status in ("FAILED", "RUNNING", "CANCELLING", "CANCELLED") else "SUCCEED"
    steps = [
        _drop_none(
            {
                "stepName": "BUILD",
                "startTime": _epoch(start),
                "status": build,
                "endTime": _epoch(end or now),
                "statusReason": "build failed (rehearsal: harness-build-fails)" if status == "FAILED" else None,
            }
        )
    ]
    if status == "SUCCEED":
        steps.append({"stepName": "DEPLOY", "startTime": _epoch(start), "status": "SUCCEED", "endTime": _epoch(end)})
    return steps


def domain_json(store: AmplifyStore, d: model.Domain, now: datetime) -> Json:
    """The DomainAssociation shape: each prefix, the branch it maps to, its DNS record."""
    status, update = d.status(now)
    return _drop_none(
        {
            "domainAssociationArn": _arn(store, d.app_id, "domains", d.name),
            "domainName": d.name,
            "enableAutoSubDomain": d.enable_auto_sub_domain,
            "domainStatus": status,
            "updateStatus": update,
            "statusReason": "",
            "certificateVerificationDNSRecord": f"_rehearsal.{d.name}. CNAME _rehearsal.acm-validations.aws.",
            "subDomains": [
                {
                    "subDomainSetting": dict(s),
                    "verified": True,
                    "dnsRecord": f"{s['prefix']} CNAME {d.app_id}.cloudfront.net",
                }
                for s in d.settings
            ],
            "certificate": {"type": "AMPLIFY_MANAGED"},
        }
    )


def _page(items: list[T], query: dict[str, list[str]], limit: int = MAX_RESULTS) -> tuple[list[T], str | None]:
    """One page of ``items`` by ``maxResults``/``nextToken`` (an offset)."""
    try:
        size = int(query.get("maxResults", [str(limit)])[0])
        start = int(query.get("nextToken", ["0"])[0])
    except ValueError:
        raise bad_request("maxResults and nextToken must be integers.") from None
    if not 0 <= size <= limit:
        raise bad_request(f"maxResults must be between 0 and {limit}.")
    size = size or limit
    page = items[start : start + size]
    return page, (str(start + size) if start + size < len(items) else None)


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(float(value), tz=timezone.utc)


# -- operations: (store, now, path params, query, body) -> (status, body) -------------------------


def list_apps(s: AmplifyStore, now: datetime, p: dict[str, str], q: dict[str, list[str]], b: Json) -> tuple[int, Json]:
    page, token = _page(sorted(s.apps.values(), key=lambda a: a.created), q, 100)
    return 200, _drop_none({"apps": [app_json(s, a, now) for a in page], "nextToken": token})


def create_app(s: AmplifyStore, now: datetime, p: dict[str, str], q: dict[str, list[str]], b: Json) -> tuple[int, Json]:
    if not b.get("name"):
        raise bad_request("name is required.")
    app = s.create_app(
        b["name"],
        now,
        repository=b.get("repository") or "",
        description=b.get("description") or "",
        platform=b.get("platform") or "WEB",
        environment_variables=b.get("environmentVariables") or {},
        tags=b.get("tags") or {},
    )
    return 200, {"app": app_json(s, app, now)}


def get_app(s: AmplifyStore, now: datetime, p: dict[str, str], q: dict[str, list[str]], b: Json) -> tuple[int, Json]:
    return 200, {"app": app_json(s, s.app(p["appId"]), now)}


def list_branches(
    s: AmplifyStore, now: datetime, p: dict[str, str], q: dict[str, list[str]], b: Json
) -> tuple[int, Json]:
    page, token = _page(sorted(s.app(p["appId"]).branches.values(), key=lambda x: x.created), q)
    return 200, _drop_none({"branches": [branch_json(s, x, now) for x in page], "nextToken": token})


def create_branch(
    s: AmplifyStore, now: datetime, p: dict[str, str], q: dict[str, list[str]], b: Json
) -> tuple[int, Json]:
    if not b.get("branchName"):
        raise bad_request("branchName is required.")
    branch = s.create_branch(
        p["appId"],
        b["branchName"],
        now,
        stage=b.get("stage"),
        description=b.get("description") or "",
        framework=b.get("framework") or "",
        enable_auto_build=b.get("enableAutoBuild", True),
    )
    return 200, {"branch": branch_json(s, branch, now)}


def get_branch(s: AmplifyStore, now: datetime, p: dict[str, str], q: dict[str, list[str]], b: Json) -> tuple[int, Json]:
    return 200, {"branch": branch_json(s, s.branch(p["appId"], p["branchName"]), now)}


def list_jobs(s: AmplifyStore, now: datetime, p: dict[str, str], q: dict[str, list[str]], b: Json) -> tuple[int, Json]:
    jobs = sorted(
        s.branch(p["appId"], p["branchName"]).jobs.values(), key=lambda j: int(j.job_id), reverse=True
    )  # newest first
    page, token = _page(jobs, q)
    return 200, _drop_none({"jobSummaries": [job_summary(s, j, now) for j in page], "nextToken": token})


def start_job(s: AmplifyStore, now: datetime, p: dict[str, str], q: dict[str, list[str]], b: Json) -> tuple[int, Json]:
    if not b.get("jobType"):
        raise bad_request("jobType is required.")
    job = s.start_job(
        p["appId"],
        p["branchName"],
        now,
        b["jobType"],
        job_id=b.get("jobId"),
        commit_id=b.get("commitId"),
        commit_message=b.get("commitMessage"),
        commit_time=_time(b.get("commitTime")),
        reason=b.get("jobReason") or "",
    )
    return 200, {"jobSummary": job_summary(s, job, now)}


def get_job(s: AmplifyStore, now: datetime, p: dict[str, str], q: dict[str, list[str]], b: Json) -> tuple[int, Json]:
    job = s.job(p["appId"], p["branchName"], p["jobId"])
    return 200, {"job": {"summary": job_summary(s, job, now), "steps": job_steps(job, now)}}


def stop_job(s: AmplifyStore, now: datetime, p: dict[str, str], q: dict[str, list[str]], b: Json) -> tuple[int, Json]:
    return 200, {"jobSummary": job_summary(s, s.stop_job(p["appId"], p["branchName"], p["jobId"], now), now)}


def create_deployment(
    s: AmplifyStore, now: datetime, p: dict[str, str], q: dict[str, list[str]], b: Json
) -> tuple[int, Json]:
    job = s.create_deployment(p["appId"], p["branchName"], now)
    upload = f"https://aws-amplify-rehearsal.s3.amazonaws.com/{p['appId']}/{p['branchName']}/{job.job_id}"
    files = {name: f"{upload}/{name}" for name in (b.get("fileMap") or {})}
    return 200, {"jobId": job.job_id, "fileUploadUrls": files, "zipUploadUrl": f"{upload}.zip"}


def start_deployment(
    s: AmplifyStore, now: datetime, p: dict[str, str], q: dict[str, list[str]], b: Json
) -> tuple[int, Json]:
    job = s.start_deployment(
        p["appId"],
        p["branchName"],
        now,
        job_id=b.get("jobId"),
        source_url=b.get("sourceUrl"),
        source_url_type=b.get("sourceUrlType"),
    )
    return 200, {"jobSummary": job_summary(s, job, now)}


def list_domains(
    s: AmplifyStore, now: datetime, p: dict[str, str], q: dict[str, list[str]], b: Json
) -> tuple[int, Json]:
    page, token = _page(sorted(s.app(p["appId"]).domains.values(), key=lambda d: d.created), q)
    return 200, _drop_none({"domainAssociations": [domain_json(s, d, now) for d in page], "nextToken": token})


def create_domain(
    s: AmplifyStore, now: datetime, p: dict[str, str], q: dict[str, list[str]], b: Json
) -> tuple[int, Json]:
    if not b.get("domainName") or "subDomainSettings" not in b:
        raise bad_request("domainName and subDomainSettings are required.")
    d = s.create_domain(
        p["appId"], b["domainName"], b["subDomainSettings"], now, bool(b.get("enableAutoSubDomain", False))
    )
    return 200, {"domainAssociation": domain_json(s, d, now)}


def get_domain(s: AmplifyStore, now: datetime, p: dict[str, str], q: dict[str, list[str]], b: Json) -> tuple[int, Json]:
    return 200, {"domainAssociation": domain_json(s, s.domain(p["appId"], p["domainName"]), now)}


def update_domain(
    s: AmplifyStore, now: datetime, p: dict[str, str], q: dict[str, list[str]], b: Json
) -> tuple[int, Json]:
    d = s.update_domain(p["appId"], p["domainName"], b.get("subDomainSettings"), now, b.get("enableAutoSubDomain"))
    return 200, {"domainAssociation": domain_json(s, d, now)}


# (method, path pattern, operation), as in the service model's requestUri
ROUTES: tuple[tuple[str, re.Pattern[str], Handler], ...] = tuple(
    (method, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", uri) + "$"), fn)
    for method, uri, fn in (
        ("GET", "/apps", list_apps),
        ("POST", "/apps", create_app),
        ("GET", "/apps/{appId}", get_app),
        ("GET", "/apps/{appId}/branches", list_branches),
        ("POST", "/apps/{appId}/branches", create_branch),
        ("GET", "/apps/{appId}/branches/{branchName}", get_branch),
        ("GET", "/apps/{appId}/branches/{branchName}/jobs", list_jobs),
        ("POST", "/apps/{appId}/branches/{branchName}/jobs", start_job),
        ("GET", "/apps/{appId}/branches/{branchName}/jobs/{jobId}", get_job),
        ("DELETE", "/apps/{appId}/branches/{branchName}/jobs/{jobId}/stop", stop_job),
        ("POST", "/apps/{appId}/branches/{branchName}/deployments", create_deployment),
        ("POST", "/apps/{appId}/branches/{branchName}/deployments/start", start_deployment),
        ("GET", "/apps/{appId}/domains", list_domains),
        ("POST", "/apps/{appId}/domains", create_domain),
        ("GET", "/apps/{appId}/domains/{domainName}", get_domain),
        ("POST", "/apps/{appId}/domains/{domainName}", update_domain),
    )
)


def scope(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(service, region) from the request's SigV4 credential scope, or None when unsigned."""
    m = SCOPE_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return (m.group("service"), m.group("region")) if m else None


def dispatch(
    store: AmplifyStore, now: datetime, method: str, raw_path: str, body: bytes
) -> tuple[int, Json, str | None]:
    """(status, JSON body, error type) for one Amplify request."""
    parts = urlsplit(raw_path)
    path = parts.path.rstrip("/") or "/"
    query = parse_qs(parts.query)
    for verb, pattern, fn in ROUTES:
        m = pattern.match(path)
        if m and verb == method:
            params = {k: unquote(v) for k, v in m.groupdict().items()}
            try:
                doc = json.loads(body) if body.strip() else {}
                with store.lock:
                    status, out = fn(store, now, params, query, doc if isinstance(doc, dict) else {})
                return status, out, None
            except ValueError:
                return 400, {"message": "The request body is not valid JSON."}, "BadRequestException"
            except AmplifyError as exc:
                return exc.status, {"message": exc.message}, exc.code
    return 404, {"message": f"No Amplify operation {method} {path}."}, "NotFoundException"


class AmplifyApi:
    """WSGI middleware: Amplify requests of served accounts answered here, everything else passed on."""

    def __init__(self, app: WsgiApp, default_account: str) -> None:
        self.app, self.default_account = app, default_account

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        signed = scope(environ)
        account = environ.get(ACCOUNT_HEADER) or self.default_account
        ctx = registry.context(account)
        if signed is None or signed[0] != "amplify" or ctx is None:
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        raw = environ.get("REQUEST_URI") or environ.get("RAW_URI") or environ.get("PATH_INFO", "/")
        if not raw.startswith("/"):  # an absolute URI in the request line
            raw = urlsplit(raw)._replace(scheme="", netloc="").geturl()
        status, out, error = dispatch(
            model.store(account, signed[1]), ctx.clock.now(), environ["REQUEST_METHOD"], raw, body
        )
        data = json.dumps(out).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ]
        if error:
            headers.append(("x-amzn-ErrorType", error))
        start_response(f"{status} {'OK' if status == 200 else 'Error'}", headers)
        return [data]
