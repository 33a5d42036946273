"""Lambda's control plane refuses what AWS refuses, answers with AWS's status codes, and keeps revisions.

moto 5.2 accepts alias routing that AWS refuses, ignores ``RevisionId`` (and never changes an alias's),
names a duplicate alias ``ConflictException``, answers GetAlias/UpdateAlias with HTTP 201 and most
Lambda responses as ``text/html``, and stamps ``LastModified`` from the wall clock. For accounts whose
target installed the extensions:

- **Routing** (Lambda API reference, AliasRoutingConfiguration: one additional version, key pattern
  ``[0-9]+``, weight 0.0-1.0; Developer Guide, "Lambda function aliases": a weighted alias cannot point to
  ``$LATEST``, and both versions need the same execution role): CreateAlias and UpdateAlias refuse
  ``$LATEST``, a version that does not exist, the alias's own primary version, more than one additional
  version and a weight outside [0, 1] with ``InvalidParameterValueException`` 400.
- **Revisions** (UpdateAlias, UpdateFunctionConfiguration, UpdateFunctionCode, PublishVersion:
  ``RevisionId`` "only update ... if the revision ID matches"): a stale one is
  ``PreconditionFailedException`` 412; every change gets a new RevisionId, derived from the account, the
  resource and a per-account sequence, so the same calls give the same ids (deterministic seeding).
- **Conflicts**: CreateAlias on an existing name is ``ResourceConflictException`` 409 (the modelled name).
- **Status codes and Content-Type** as botocore's model says (CreateAlias/PublishVersion 201, GetAlias/
  UpdateAlias 200, DeleteAlias 204), ``application/json`` bodies.
- **One clock**: ``LastModified`` of a function and its versions from the target's clock.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import unquote

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaFunction
from moto.awslambda.responses import LambdaResponse

from harness.targets.embedded.fidelity import registry

Wrapped = Callable[..., Any]

# Lambda API reference, AliasRoutingConfiguration: "Key Pattern: [0-9]+", "Valid Range: 0.0 - 1.0".
VERSION_KEY = re.compile(r"[0-9]+")
# Lambda API reference, UpdateAlias (and the function operations): the message AWS answers a stale RevisionId with.
STALE_REVISION = (
    "The Revision Id provided does not match the latest Revision Id. Call the {api} API to retrieve the latest "
    "Revision Id"
)
JSON = "application/json"
REVISION_ATTR = "harness_revision"  # kept on moto's function objects (moto keeps no function RevisionId)
WEIGHTS_FIELD = "routingConfig.additionalVersionWeights"
_REVISION_NAMESPACE = uuid.UUID("6f0f3f5e-6a55-4c4b-9a70-2f1d6c1b8e21")  # the harness's own uuid5 namespace


class LambdaError(LambdaClientError):
    """A Lambda error with its modelled HTTP status (``{"__type", "message"}`` body, ``x-amzn-ErrorType``)."""

    def __init__(self, error: str, message: str, status: int = 400) -> None:
        super().__init__(error, message)
        self.code = status


def invalid(message: str) -> LambdaError:
    """InvalidParameterValueException, 400."""
    return LambdaError("InvalidParameterValueException", message)


def lambda_timestamp(at: datetime) -> str:
    """Lambda's ``LastModified`` format: ``2026-01-25T22:00:00.000+0000``."""
    utc = at.astimezone(timezone.utc) if at.tzinfo else at
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def next_revision(ctx: registry.AccountContext, resource: str) -> str:
    """A new RevisionId for ``resource``: the same sequence of changes gives the same ids."""
    return str(uuid.uuid5(_REVISION_NAMESPACE, f"{ctx.account}|{resource}|{ctx.next_sequence()}"))


def _stamp(ctx: registry.AccountContext, fn: LambdaFunction) -> None:
    """A change of ``fn``: a new RevisionId and LastModified on the target's clock."""
    setattr(fn, REVISION_ATTR, next_revision(ctx, f"{fn.function_arn}:{fn.version}"))
    fn.last_modified = lambda_timestamp(ctx.clock.now())


def _response(
    status: int, body: str | dict[str, Any], headers: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any], str]:
    """(status, headers, body) as moto's dispatcher expects it, with the modelled status and JSON type."""
    out = {k: v for k, v in (headers or {}).items() if k.lower() not in ("status", "content-type")}
    out.update({"status": status, "Content-Type": JSON})
    return status, out, body if isinstance(body, str) else json.dumps(body)


def _path_names(response: LambdaResponse) -> tuple[str, str]:
    """(function name, alias name) of an ``/functions/{fn}/aliases/{name}`` request."""
    parts = response.path.rstrip("/").split("/")
    return unquote(parts[-3]), unquote(parts[-1])


def _body(response: LambdaResponse) -> dict[str, Any]:
    """The request's JSON body (``{}`` when empty)."""
    return json.loads(response.body) if response.body else {}


def check_routing(response: LambdaResponse, function: str, primary: str, routing: Any) -> None:
    """Refuse a RoutingConfig AWS refuses (module docstring), naming what is wrong."""
    weights = (routing or {}).get("AdditionalVersionWeights") or {}
    if len(weights) > 1:
        raise invalid(f"Number of additional versions is {len(weights)}. An alias can point to at most 2 versions.")
    for version, weight in weights.items():
        if not VERSION_KEY.fullmatch(str(version)):
            raise invalid(
                f"1 validation error detected: Value '{{{version}={weight}}}' at '{WEIGHTS_FIELD}' "
                "failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular "
                "expression pattern: [0-9]+]"
            )
        if not isinstance(weight, (int, float)) or not 0.0 <= float(weight) <= 1.0:
            raise invalid(
                f"1 validation error detected: Value '{{{version}={weight}}}' at '{WEIGHTS_FIELD}' "
                "failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than "
                "or equal to 1.0, Member must have value greater than or equal to 0.0]"
            )
        if str(primary) == "$LATEST":
            raise invalid("$LATEST is not supported for an alias pointing to more than 1 version")
        if str(version) == str(primary):
            raise invalid(
                f"Invalid function version {version}. Function version {version} is already included in routing "
                "configuration."
            )
        backend = response.backend
        extra = backend._lambdas._get_version(function.split(":function:")[-1], str(version))
        if extra is None:
            raise invalid(f"Function version {version} does not exist for function {function}.")
        main = backend.get_function(function, str(primary))
        if extra.role != main.role:
            raise invalid("Versions in an alias routing configuration must have the same execution role.")


def _stale(given: str | None, current: str | None, api: str) -> None:
    if given and given != current:
        raise LambdaError("PreconditionFailedException", STALE_REVISION.format(api=api), 412)


def _create_alias(original: Wrapped) -> Wrapped:
    def create_alias(self: LambdaResponse) -> Any:
        ctx = registry.context(self.current_account)
        if ctx is None:
            return original(self)
        function = unquote(self.path.rstrip("/").split("/")[-2])
        params = _body(self)
        name = params.get("Name") or ""
        if name in self.backend._lambdas._get_function_aliases(function):
            alias = self.backend.get_alias(name, function)
            raise LambdaError("ResourceConflictException", f"Alias already exists: {alias.arn}", 409)
        check_routing(self, function, str(params.get("FunctionVersion")), params.get("RoutingConfig"))
        original(self)
        alias = self.backend.get_alias(name, function)
        alias.revision_id = next_revision(ctx, alias.arn)
        return _response(201, alias.to_json())

    create_alias.__doc__ = "CreateAlias with AWS's routing checks, conflict error and RevisionId (fidelity extension)."
    return create_alias


def _update_alias(original: Wrapped) -> Wrapped:
    def update_alias(self: LambdaResponse) -> Any:
        ctx = registry.context(self.current_account)
        if ctx is None:
            return original(self)
        function, name = _path_names(self)
        params = _body(self)
        alias = self.backend.get_alias(name, function)  # ResourceNotFoundException as AWS
        _stale(params.get("RevisionId"), alias.revision_id, "GetAlias")
        primary = str(params.get("FunctionVersion") or alias.function_version)
        routing = params["RoutingConfig"] if "RoutingConfig" in params else alias.routing_config
        check_routing(self, function, primary, routing)
        original(self)
        alias.revision_id = next_revision(ctx, alias.arn)
        return _response(200, alias.to_json())

    update_alias.__doc__ = "UpdateAlias with RevisionId, routing checks and HTTP 200 (fidelity extension)."
    return update_alias


def _get_alias(original: Wrapped) -> Wrapped:
    def get_alias(self: LambdaResponse) -> Any:
        if registry.context(self.current_account) is None:
            return original(self)
        function, name = _path_names(self)
        return _response(200, self.backend.get_alias(name, function).to_json())

    get_alias.__doc__ = "GetAlias answering HTTP 200 application/json (fidelity extension)."
    return get_alias


def _delete_alias(original: Wrapped) -> Wrapped:
    def delete_alias(self: LambdaResponse) -> Any:
        if registry.context(self.current_account) is None:
            return original(self)
        original(self)
        return 204, {"status": 204}, ""

    delete_alias.__doc__ = "DeleteAlias answering HTTP 204 (fidelity extension)."
    return delete_alias


def _latest(response: LambdaResponse) -> LambdaFunction:
    """The unpublished ($LATEST) function a configuration or code request addresses."""
    name = unquote(response.path.rstrip("/").split("/")[-2])
    return response.backend.get_function(name, None)


def _function_change(api: str) -> Callable[[Wrapped], Wrapped]:
    """UpdateFunctionConfiguration / UpdateFunctionCode: RevisionId precondition, then a new revision."""

    def make(original: Wrapped) -> Wrapped:
        def change(self: LambdaResponse) -> Any:
            ctx = registry.context(self.current_account)
            if ctx is None:
                return original(self)
            fn = _latest(self)
            _stale(_body(self).get("RevisionId"), revision_of(ctx, fn), "GetFunction")
            status, headers, _ = original(self)
            if status >= 300:
                return status, headers, _
            _stamp(ctx, fn)
            return _response(200, fn.get_configuration(), headers)

        change.__doc__ = f"{api} with RevisionId, a new revision and the target's clock (fidelity extension)."
        return change

    return make


def _publish_version(original: Wrapped) -> Wrapped:
    def publish_version(self: LambdaResponse) -> Any:
        ctx = registry.context(self.current_account)
        if ctx is None:
            return original(self)
        latest = _latest(self)
        _stale(_body(self).get("RevisionId"), revision_of(ctx, latest), "GetFunction")
        before = len(self.backend._lambdas._functions[latest.function_name]["versions"])
        _, headers, body = original(self)
        config = json.loads(body)
        versions = self.backend._lambdas._functions[latest.function_name]["versions"]
        if len(versions) > before:  # a new version (else AWS answers the unchanged latest version)
            _stamp(ctx, versions[-1])
            config = versions[-1].get_configuration()
        return _response(201, config, headers)

    publish_version.__doc__ = "PublishVersion with RevisionId and the target's clock (fidelity extension)."
    return publish_version


def revision_of(ctx: registry.AccountContext, fn: LambdaFunction) -> str:
    """``fn``'s RevisionId (given one on first sight when it was made before the extensions acted)."""
    revision = getattr(fn, REVISION_ATTR, None)
    if revision is None:
        revision = next_revision(ctx, f"{fn.function_arn}:{fn.version}")
        setattr(fn, REVISION_ATTR, revision)
    return str(revision)


def _create_function(original: Wrapped) -> Wrapped:
    def create_function(self: LambdaResponse) -> Any:
        ctx = registry.context(self.current_account)
        result = original(self)
        if ctx is None or isinstance(result, str) or result[0] >= 300:
            return result
        fn = self.backend.get_function(json.loads(result[2])["FunctionName"], None)
        _stamp(ctx, fn)
        return _response(201, fn.get_configuration(on_create=True), result[1])

    create_function.__doc__ = "CreateFunction with a RevisionId and the target's clock (fidelity extension)."
    return create_function


def _get_configuration(original: Wrapped) -> Wrapped:
    def get_configuration(self: LambdaFunction, *args: Any, **kwargs: Any) -> Any:
        config = original(self, *args, **kwargs)
        ctx = registry.context(self.account_id)
        if ctx is not None and isinstance(config, dict):
            config["RevisionId"] = revision_of(ctx, self)
            config["LastModified"] = self.last_modified
        return config

    get_configuration.__doc__ = "A function's configuration with its RevisionId (fidelity extension)."
    return get_configuration


def _response_methods(name: str, status: int) -> Callable[[Wrapped], Wrapped]:
    """A Lambda read answered with its modelled status and ``application/json`` (moto: text/html)."""

    def make(original: Wrapped) -> Wrapped:
        def read(self: LambdaResponse) -> Any:
            result = original(self)
            if registry.context(self.current_account) is None:
                return result
            if isinstance(result, str):
                return _response(status, result)
            code, headers, body = result
            return result if code >= 300 else _response(status, body, headers)

        read.__doc__ = f"{name} answering application/json (fidelity extension)."
        return read

    return make


def invalid_payload(detail: str) -> LambdaError:
    """Invoke with a payload that is not JSON (Lambda API reference, Invoke: InvalidRequestContentException)."""
    return LambdaError(
        "InvalidRequestContentException",
        f"Could not parse request body into json: Could not parse payload into json: {detail}",
    )


PATCHES: tuple[registry.Patch, ...] = (
    (LambdaResponse, "create_function", _create_function),
    (LambdaResponse, "create_alias", _create_alias),
    (LambdaResponse, "update_alias", _update_alias),
    (LambdaResponse, "get_alias", _get_alias),
    (LambdaResponse, "delete_alias", _delete_alias),
    (LambdaResponse, "update_function_configuration", _function_change("UpdateFunctionConfiguration")),
    (LambdaResponse, "update_function_code", _function_change("UpdateFunctionCode")),
    (LambdaResponse, "publish_version", _publish_version),
    (LambdaResponse, "get_function", _response_methods("GetFunction", 200)),
    (LambdaResponse, "get_function_configuration", _response_methods("GetFunctionConfiguration", 200)),
    (LambdaResponse, "list_aliases", _response_methods("ListAliases", 200)),
    (LambdaResponse, "list_versions_by_function", _response_methods("ListVersionsByFunction", 200)),
    (LambdaResponse, "list_functions", _response_methods("ListFunctions", 200)),
    (LambdaFunction, "get_configuration", _get_configuration),
)


def install() -> None:
    """Patch moto's Lambda control plane (once per process)."""
    registry.patch_all(PATCHES)
