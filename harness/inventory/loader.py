"""Load, validate and resolve inventory files; every error names the file and the key path."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping

from pydantic import ValidationError

from harness.errors import InventoryError
from harness.inventory.model import (
    Environment,
    FunctionDiscovery,
)
from harness.inventory.schema import KNOWN_PLACEHOLDERS, PLACEHOLDER_RE, InventoryFile
from harness.inventory.sections import _amplify, _buckets, _functions, _tables, _terraform_ecs_api, _triggers

BUNDLED_DIR = Path(__file__).parent / "bundled"
ENV_VAR_RE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def bundled_names() -> list[str]:
    """Names of the inventories shipped with the harness."""
    return sorted(p.stem for p in BUNDLED_DIR.glob("*.toml"))


def inventory_path(ref: str | os.PathLike[str]) -> Path:
    """A bundled inventory name or a path to a TOML file, as a path that exists."""
    text = str(ref)
    if text in bundled_names():
        return BUNDLED_DIR / f"{text}.toml"
    path = Path(text)
    if path.is_file():
        return path
    raise InventoryError(f"{text}: no such inventory file, and not a bundled inventory ({', '.join(bundled_names())})")


@lru_cache(maxsize=32)
def _known_regions() -> frozenset[str]:
    """Every region botocore knows (its bundled endpoints data; reads no AWS configuration)."""
    from botocore.loaders import create_loader

    data = create_loader().load_data("endpoints")
    return frozenset(r for partition in data["partitions"] for r in partition["regions"])


@dataclass(frozen=True)
class Inventory:
    """A validated inventory file; ``environment(name)`` gives its resolved view."""

    path: Path
    spec: InventoryFile

    @property
    def name(self) -> str:
        return self.spec.inventory.name

    @property
    def env_names(self) -> list[str]:
        return list(self.spec.environments)

    def environment(self, name: str, *, strict_env_vars: bool = False) -> Environment:
        """Resolve environment ``name``; ``strict_env_vars`` fails on unset ${VAR}s (real accounts)."""
        if name not in self.spec.environments:
            raise InventoryError(f"{self.path}: unknown environment {name!r}; valid: {', '.join(self.env_names)}")
        return _resolve(self, name, strict_env_vars)


def load_inventory(ref: str | os.PathLike[str]) -> Inventory:
    """Read and validate an inventory (bundled name or path) before any AWS call is made."""
    path = inventory_path(ref)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InventoryError(f"{path}: not valid TOML: {exc}") from None
    try:
        spec = InventoryFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InventoryError(f"{path}: {_key_path(err['loc'])}: {_message(err)}{more}") from None
    _check_placeholders(path, raw)
    _check_regions(path, spec)
    inv = Inventory(path=path, spec=spec)
    for env_name in inv.env_names:  # resolve every env now so name clashes surface at load time
        inv.environment(env_name)
    return inv


def _key_path(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _message(err: Mapping[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key"
    if err["type"] == "missing":
        return "required key is missing"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if "input" in err and err["type"] not in ("model_type",) and not isinstance(err["input"], (dict, list)):
        msg += f" (got {err['input']!r})"
    return msg


def _walk(node: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, path + (i,))
    elif isinstance(node, str):
        yield path, node


def _check_placeholders(path: Path, raw: dict[str, Any]) -> None:
    for loc, text in _walk({k: v for k, v in raw.items() if k != "inventory"}):  # notes are prose
        for ph in PLACEHOLDER_RE.findall(text):
            if ph not in KNOWN_PLACEHOLDERS:
                raise InventoryError(
                    f"{path}: {_key_path(loc)}: unknown placeholder {{{ph}}} in {text!r}; "
                    f"known: {', '.join('{' + p + '}' for p in sorted(KNOWN_PLACEHOLDERS))}"
                )


def _check_regions(path: Path, spec: InventoryFile) -> None:
    known = _known_regions()
    for name, env in spec.environments.items():
        for key in ("region", "failover_region"):
            value = getattr(env, key)
            if value and value not in known:
                raise InventoryError(f"{path}: environments.{name}.{key}: unknown AWS region {value!r}")


class _Subst:
    """Substitutes {env}, {tenant_id} and ${VAR} in inventory strings for one environment."""

    def __init__(self, inv: Inventory, env: str, strict: bool) -> None:
        self.inv, self.env, self.strict = inv, env, strict
        self.defaults = inv.spec.rehearsal.defaults
        self.unresolved: list[str] = []
        self.missing: list[str] = []

    def check_missing(self) -> None:
        """Raise one error naming every unset ${VAR} (strict mode: a real account needs real values)."""
        if self.missing:
            raise InventoryError(
                f"{self.inv.path}: {'; '.join(self.missing)} — not set (the runbook does not give these values; "
                "export them to run against real AWS)"
            )

    def __call__(self, text: str, where: str, tenant: str | None = None) -> str:
        out = text.replace("{env}", self.env)
        if tenant is not None:
            out = out.replace("{tenant_id}", tenant)
        elif "{tenant_id}" in out:
            raise InventoryError(
                f"{self.inv.path}: {where}: {{tenant_id}} is only allowed in lists expanded per tenant"
            )

        def env_var(m: re.Match[str]) -> str:
            var = m.group(1)
            if var in os.environ:
                return os.environ[var]
            if self.strict:
                self.missing.append(f"{where}: needs environment variable {var}")
                return m.group(0)
            if var not in self.defaults:
                raise InventoryError(
                    f"{self.inv.path}: {where}: ${{{var}}} is not set and rehearsal.defaults has no {var}"
                )
            self.unresolved.append(var)
            return self.defaults[var]

        return ENV_VAR_RE.sub(env_var, out)

    def expand(self, items: list[str], where: str) -> list[str]:
        """Each item, expanded once per tenant when it names {tenant_id}."""
        out: list[str] = []
        for i, item in enumerate(items):
            if "{tenant_id}" in item:
                out.extend(self(item, f"{where}[{i}]", t) for t in self.inv.spec.tenants)
            else:
                out.append(self(item, f"{where}[{i}]"))
        return out


def _resolve(inv: Inventory, name: str, strict: bool) -> Environment:
    """One environment of the inventory, every placeholder substituted.

    Over 60 lines because the Environment it builds names each of its fields once, in one call.
    """
    spec, s = inv.spec, _Subst(inv, name, strict)
    e = spec.environments[name]
    account = s(e.account, f"environments.{name}.account")
    lam = spec.lambda_
    alias = s(lam.alias, "lambda.alias")
    functions, seen = _functions(inv, s, alias)
    discovery = tuple(
        FunctionDiscovery(service=svc.name, prefix=s(svc.discover_prefix, f"lambda.services[{i}].discover_prefix"))
        for i, svc in enumerate(lam.services)
        if svc.discover_prefix
    )
    tables = _tables(inv, s, name, seen, discovery)
    buckets = _buckets(inv, s, name)
    terraform, ecs, api = _terraform_ecs_api(inv, s, seen)
    amplify = _amplify(inv, s)
    triggers = _triggers(inv, s)
    cfn = spec.cloudformation
    resolved = Environment(
        inventory=spec.inventory.name,
        name=name,
        account=account,
        region=e.region,
        failover_region=e.failover_region,
        profile=s(e.profile, f"environments.{name}.profile") if e.profile else None,
        role=s(e.role, f"environments.{name}.role") if e.role else None,
        protected=e.protected,
        promotes_to=e.promotes_to,
        alias=alias,
        backup_alias_prefix=lam.backup_alias_prefix,
        incident_alias_prefix=lam.incident_alias_prefix,
        checkpoint_alias_prefix=lam.checkpoint_alias_prefix,
        health_payload=dict(lam.health_payload),
        functions=tuple(functions),
        discovery=discovery,
        sam_stacks=tuple(
            s(svc.sam_stack, f"lambda.services[{i}].sam_stack") for i, svc in enumerate(lam.services) if svc.sam_stack
        ),
        tables=tuple(tables),
        buckets=tuple(buckets),
        terraform=terraform,
        ecs=ecs,
        api=api,
        ssm_deployed_version=s(spec.ssm.deployed_version_parameter, "ssm.deployed_version_parameter")
        if spec.ssm
        else None,
        alarm_prefix=s(spec.cloudwatch.alarm_prefix, "cloudwatch.alarm_prefix"),
        log_group_prefix=spec.cloudwatch.log_group_prefix,
        amplify=amplify,
        cfn_stacks=tuple(s.expand(spec.cloudformation.stacks, "cloudformation.stacks")) if spec.cloudformation else (),
        tenants=tuple(spec.tenants),
        thresholds=spec.thresholds,
        gates=dict(spec.gates),
        auto_rollback=spec.auto_rollback,
        approvals=dict(spec.approvals),
        maintenance_windows=tuple(spec.maintenance_windows),
        rehearsal=spec.rehearsal,
        unresolved=tuple(dict.fromkeys(s.unresolved)),
        triggers=triggers,
        cfn_previous_template=s(cfn.previous_template, "cloudformation.previous_template")
        if cfn and cfn.previous_template
        else None,
        cfn_previous_parameters=s(cfn.previous_parameters, "cloudformation.previous_parameters")
        if cfn and cfn.previous_parameters
        else None,
        promotion_order=tuple(lam.promotion_order),
        rto=spec.rto,
        lease=spec.lease,
        api_quotas=spec.api_quotas.model_copy(update={"quotas": {**spec.api_quotas.quotas, **e.api_quotas}}),
    )
    s.check_missing()
    return resolved
