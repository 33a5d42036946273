"""``aws <service> <operation> --options`` checked against botocore's service model (what the AWS CLI is built on).

The CLI's names are botocore's: the operation ``ListVersionsByFunction`` is ``list-versions-by-function`` and the
member ``FunctionName`` is ``--function-name`` (botocore ``xform_name(name, "-")``); a boolean member also takes
``--no-<name>``. Global options (``--region``, ``--query``, ``--output``, ``--profile``...) go anywhere;
paginated operations also take ``--max-items``/``--starting-token``/``--page-size``; ``--cli-input-json`` (or
``-yaml``) can supply any parameter, so required ones are not checked then. High-level commands the CLI adds on
top of the model (``aws s3 cp``, ``aws configure``, ``cloudformation deploy``, ``wait``...) are not checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

GLOBAL_OPTIONS_WITH_VALUE = frozenset(
    {
        "--region",
        "--profile",
        "--output",
        "--query",
        "--endpoint-url",
        "--color",
        "--ca-bundle",
        "--cli-read-timeout",
        "--cli-connect-timeout",
        "--cli-binary-format",
        "--cli-input-json",
        "--cli-input-yaml",
        "--generate-cli-skeleton",
    }
)
GLOBAL_FLAGS = frozenset(
    {
        "--debug",
        "--no-verify-ssl",
        "--no-paginate",
        "--no-sign-request",
        "--no-cli-pager",
        "--cli-auto-prompt",
        "--no-cli-auto-prompt",
        "--version",
    }
)
PAGINATION_OPTIONS = frozenset({"--max-items", "--starting-token", "--page-size"})
# The CLI's service names that are not botocore's; services that are only CLI customizations are skipped.
SERVICE_ALIASES = {"s3api": "s3", "configservice": "config"}
CUSTOM_SERVICES = frozenset({"s3", "configure", "history", "deploy", "cli-dev", "ddb", "emr-containers-cli"})
# Commands the CLI adds to a model service (awscli/customizations): not in the model, not checked.
CUSTOM_COMMANDS = {
    "cloudformation": {"deploy", "package"},
    "ecr": {"get-login", "get-login-password"},
    "eks": {"update-kubeconfig", "get-token"},
    "codeartifact": {"login"},
    "rds": {"generate-db-auth-token"},
    "ecs": {"deploy"},
    "emr": {"ssh", "socks", "get", "put", "create-default-roles", "create-cluster"},
    "logs": {"tail", "start-live-tail"},  # AWS CLI v2
    "sso": {"login", "logout"},
    "ecr-public": {"get-login-password"},
    "codecommit": {"credential-helper"},
}


@dataclass(frozen=True)
class AwsCall:
    """One parsed ``aws`` command: service, operation, and every option with its values."""

    service: str
    operation: str
    options: dict[str, list[str]]
    order: tuple[str, ...]


@dataclass(frozen=True)
class Problem:
    """What is wrong with a call, as one sentence (``--function-nme is not a parameter of lambda get-alias``)."""

    kind: str  # aws-service, aws-operation, aws-option, aws-required
    message: str


def parse_call(argv: Sequence[str]) -> AwsCall | None:
    """``aws [globals] service operation [options]`` -> AwsCall (None when there is no operation: ``aws --version``)."""
    args = list(argv[1:])
    i, positional = 0, []
    options: dict[str, list[str]] = {}
    order: list[str] = []
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            name, eq, inline = a.partition("=")
            values = [inline] if eq else []
            i += 1
            if not eq and name not in GLOBAL_FLAGS:
                while i < len(args) and not args[i].startswith("--"):
                    values.append(args[i])
                    i += 1
                    if name in GLOBAL_OPTIONS_WITH_VALUE:
                        break  # a global option takes one value: what follows is the service or a positional
            options.setdefault(name, []).extend(values)
            order.append(name)
        else:
            positional.append(a)
            i += 1
    if len(positional) < 2:
        return None
    return AwsCall(positional[0], positional[1], options, tuple(order))


@lru_cache(maxsize=1)
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


@lru_cache(maxsize=256)
def service_model(cli_service: str) -> Any | None:
    """botocore's model for the CLI's service name (None when botocore has no such service)."""
    name = SERVICE_ALIASES.get(cli_service, cli_service)
    session = _session()
    if name not in session.get_available_services():
        return None
    return session.get_service_model(name)


@lru_cache(maxsize=256)
def operations(cli_service: str) -> dict[str, str]:
    """``list-versions-by-function`` -> ``ListVersionsByFunction`` for one service."""
    from botocore import xform_name

    model = service_model(cli_service)
    return {xform_name(op, "-"): op for op in model.operation_names} if model else {}


@lru_cache(maxsize=1024)
def parameters(cli_service: str, cli_operation: str) -> tuple[dict[str, str], frozenset[str], bool]:
    """(``--option`` -> member name, required ``--option``s, paginated) of one operation."""
    from botocore import xform_name

    model = service_model(cli_service)
    assert model is not None
    op = model.operation_model(operations(cli_service)[cli_operation])
    shape = op.input_shape
    opts: dict[str, str] = {}
    required: set[str] = set()
    if shape is not None:
        for member, mshape in shape.members.items():
            flag = "--" + xform_name(member, "-")
            opts[flag] = member
            if mshape.type_name == "boolean":
                opts["--no-" + xform_name(member, "-")] = member
        required = {"--" + xform_name(m, "-") for m in shape.required_members}
    paginated = _session().get_paginator_model(model.service_name).get_paginator if model else None
    try:
        has_pages = bool(paginated and paginated(op.name))
    except ValueError:
        has_pages = False
    except Exception:  # noqa: BLE001 (services without a paginator model raise UnknownServiceError)
        has_pages = False
    return opts, frozenset(required), has_pages


def waiters(cli_service: str) -> set[str]:
    """The CLI's ``aws <service> wait <name>`` names."""
    from botocore import xform_name

    model = service_model(cli_service)
    if model is None:
        return set()
    try:
        return {xform_name(w, "-") for w in _session().get_waiter_model(model.service_name).waiter_names}
    except Exception:  # noqa: BLE001 (a service without waiters raises DataNotFoundError)
        return set()


def _near(word: str, choices: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def check(argv: Sequence[str]) -> list[Problem]:
    """Every problem of one ``aws ...`` command against botocore's model (empty: the model accepts it)."""
    call = parse_call(argv)
    if call is None or call.service in CUSTOM_SERVICES or call.operation in CUSTOM_COMMANDS.get(call.service, ()):
        return []
    if call.operation in ("help", "wait"):
        if call.operation == "wait" and len(argv) > 3:
            return _check_waiter(call, argv)
        return []
    if service_model(call.service) is None:
        return [Problem("aws-service", f"aws {call.service}: no such service in botocore's model")]
    ops = operations(call.service)
    if call.operation not in ops:
        return [
            Problem(
                "aws-operation",
                f"aws {call.service} {call.operation}: no such operation{_near(call.operation, list(ops))}",
            )
        ]
    opts, required, paginated = parameters(call.service, call.operation)
    known = set(opts) | GLOBAL_OPTIONS_WITH_VALUE | GLOBAL_FLAGS | (PAGINATION_OPTIONS if paginated else set())
    problems = [
        Problem(
            "aws-option",
            f"{o} is not a parameter of aws {call.service} {call.operation}{_near(o, sorted(opts))}",
        )
        for o in dict.fromkeys(call.order)
        if o not in known
    ]
    if not ({"--cli-input-json", "--cli-input-yaml", "--generate-cli-skeleton"} & set(call.options)):
        missing = sorted(r for r in required if r not in call.options)
        if missing:
            problems.append(
                Problem("aws-required", f"aws {call.service} {call.operation} needs {', '.join(missing)} (required)")
            )
    return problems


def _check_waiter(call: AwsCall, argv: Sequence[str]) -> list[Problem]:
    names = waiters(call.service)
    positional = [a for a in argv[1:] if not a.startswith("-")]
    name = positional[2] if len(positional) > 2 else ""
    if names and name and name not in names:
        return [Problem("aws-operation", f"aws {call.service} wait {name}: no such waiter{_near(name, sorted(names))}")]
    return []
