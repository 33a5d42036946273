"""Synthetic inventories for platform-scale rehearsals: N functions, M tables, K ECS services.

The bundled ``bbws`` inventory names seven functions per environment; a platform with hundreds of
tenants has hundreds. ``synthesize`` writes an inventory in the bundled format (same schema, same
runbook thresholds, gates, approvals and maintenance windows as ``bbws``) whose size is chosen, so the
embedded target seeds it and the checklists run against it exactly as against ``bbws``. Nothing in it
is a real resource: its accounts are synthetic (``SYNTH_ACCOUNTS``) and the account guard refuses any
real account.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InventoryError
from harness.inventory.loader import Inventory, load_inventory

# Synthetic 12-digit accounts per environment: never an inventory's real account.
SYNTH_ACCOUNTS = {"dev": "100000000001", "sit": "100000000002", "prod": "100000000003"}
SYNTH_REGION = "af-south-1"  # bbws's region (000 §3.1), so windows and quotas match the bundled rehearsal
FUNCTIONS_PER_SERVICE = 10  # Lambda services group functions as 001 §1.4 does (a service, several functions)
TENANT_PREFIX = "tenant-"


@dataclass(frozen=True)
class Size:
    """How large the synthetic estate is."""

    functions: int
    tables: int
    services: int  # ECS services (one or more per tenant)
    tenants: int | None = None  # default: one tenant per ECS service

    def validate(self) -> None:
        """Refuse sizes the inventory format cannot hold (one ERROR line, no traceback)."""
        if self.functions < 1:
            raise InventoryError(f"--functions {self.functions}: at least 1")
        if self.tables < 1:
            raise InventoryError(
                f"--tables {self.tables}: at least 1 (the first holds the deployment records, 001 §6.3.2)"
            )
        if self.services < 1:
            raise InventoryError(f"--services {self.services}: at least 1")
        tenants = self.tenant_count
        if tenants < 1:
            raise InventoryError(f"--tenants {tenants}: at least 1")
        if self.services % tenants:
            raise InventoryError(
                f"--services {self.services} is not a multiple of --tenants {tenants}: each tenant runs the same "
                "services"
            )

    @property
    def tenant_count(self) -> int:
        """Tenants named in the inventory (``tenants = [...]``)."""
        return self.tenants if self.tenants is not None else self.services


def _q(text: str) -> str:
    """A TOML basic string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _list(items: list[str], indent: str = "  ") -> str:
    if len(items) <= 4:
        return "[" + ", ".join(_q(i) for i in items) + "]"
    return "[\n" + "".join(f"{indent}{_q(i)},\n" for i in items) + "]"


def function_names(size: Size) -> list[list[str]]:
    """Function name templates, grouped by Lambda service (``FUNCTIONS_PER_SERVICE`` each)."""
    groups = math.ceil(size.functions / FUNCTIONS_PER_SERVICE)
    out: list[list[str]] = []
    for g in range(groups):
        first = g * FUNCTIONS_PER_SERVICE
        out.append(
            [
                f"synth-svc{g + 1:03d}-fn{i + 1:04d}-{{env}}"
                for i in range(first, min(first + FUNCTIONS_PER_SERVICE, size.functions))
            ]
        )
    return out


# 000 §7.4 verification limits, 001 §2.1 gates, approvals and windows: bbws's values, not synthetic.
RUNBOOK_VALUES = (
    "# 000 §7.4 verification limits and 001 §2.1 gates, as in bbws",
    "[thresholds]",
    "verification_window_minutes = 5",
    "verification_error_rate_max_pct = 1.0",
    "verification_latency_p95_max_s = 3.0",
    "",
    "[gates.dev]",
    "lookback_hours = 1",
    "max_errors = 10",
    "errors_strictly_below = true",
    "max_throttles = 0",
    "",
    "[gates.sit]",
    "lookback_hours = 24",
    "max_errors = 5",
    "max_throttles = 0",
    "",
    "[approvals.sit-to-prod]",
    'roles = ["Tech Lead", "Operations Lead"]',
    "min_approvers = 2",
    "",
    "[approvals.prod-rollback]",
    'roles = ["Engineering Lead", "Product Owner"]',
    "min_approvers = 2",
    "",
    "[[maintenance_windows]]",
    'day = "Tuesday"',
    'start_utc = "20:00"',
    'end_utc = "00:00"',
    "",
)


def _environments() -> list[str]:
    """The ``[environments.*]`` tables: DEV promotes to SIT, SIT to PROD, PROD is protected (001 §1.1)."""
    lines: list[str] = []
    for env, account in SYNTH_ACCOUNTS.items():
        lines += [f"[environments.{env}]", f"account = {_q(account)}", f"region = {_q(SYNTH_REGION)}"]
        if env == "prod":
            lines.append("protected = true")
        else:
            lines.append(f"promotes_to = {_q('sit' if env == 'dev' else 'prod')}")
        lines.append("")
    return lines


def _tables(size: Size) -> list[str]:
    """The ``[[dynamodb.tables]]`` entries: the deployments table (001 §6.3.2) first, then data tables."""
    lines: list[str] = []
    for t in range(size.tables):
        deployments = t == 0
        lines += [
            "[[dynamodb.tables]]",
            f"name = {_q('synth-deployments-{env}' if deployments else f'synth-table-{t:03d}-{{env}}')}",
            f"pitr = {_q('recommended' if deployments else 'required')}",
            'billing_mode = "PAY_PER_REQUEST"',
            f"hash_key = {{ name = {_q('deployment_id' if deployments else 'id')} }}",
        ]
        if deployments:
            lines.append('purpose = "deployments"                 # 001 §6.3.2')
        lines.append("")
    return lines


def render(size: Size, name: str | None = None) -> str:
    """The inventory's TOML text."""
    size.validate()
    name = name or f"synth-{size.functions}"
    tenants = [f"{TENANT_PREFIX}{i + 1:04d}" for i in range(size.tenant_count)]
    per_tenant = size.services // size.tenant_count
    ecs_services = ["{tenant_id}-wordpress"] + [f"{{tenant_id}}-worker-{j + 1}" for j in range(1, per_tenant)]
    lines = [
        f"# Synthetic inventory ({size.functions} functions, {size.tables} tables, {size.services} ECS services, "
        f"{size.tenant_count} tenants), written by `harness inventory synth`.",
        "# Runbook values (thresholds, gates, approvals, windows) are bbws's (000, 001, 003); every name is synthetic.",
        "",
        f"tenants = {_list(tenants)}",
        "",
        "[inventory]",
        f"name = {_q(name)}",
        f"title = {_q(f'Synthetic estate: {size.functions} functions')}",
        'sources = ["000 §3", "000 §6.7", "000 §7", "001 §2", "003 §7"]',
        'notes = ["Generated by harness inventory synth for platform-scale rehearsals; not a real system."]',
        "",
    ]
    lines += _environments()
    lines += [
        "[lambda]",
        'alias = "latest-{env}"                       # 000 §4.2.3',
        'health_payload = { httpMethod = "GET", path = "/health", headers = {} }   # 000 §4.2.5',
        "",
    ]
    for g, names in enumerate(function_names(size)):
        lines += ["[[lambda.services]]", f'name = "service-{g + 1:03d}"', f"functions = {_list(names)}", ""]
    lines += _tables(size)
    first_fn = function_names(size)[0][0]
    lines += [
        "[[s3.buckets]]",
        'name = "synth-{env}-data-bucket"',
        "",
        "[terraform]",
        'state_bucket = "synth-terraform-state-{env}"',
        'lock_table = "synth-terraform-locks-{env}"',
        'state_keys = ["tenants/{tenant_id}/terraform.tfstate"]',
        "",
        "[ecs]",
        'cluster = "synth-cluster-{env}"',
        f"services = {_list(ecs_services)}",
        "desired_count = 1",
        "",
        "[api]",
        'base_url = "https://api-{env}.synth.example.com"',
        'paths = ["/v1/health"]',
        f"function = {_q(first_fn)}",
        "",
        "[cloudwatch]",
        'alarm_prefix = "synth-"',
        "",
        *RUNBOOK_VALUES,
    ]
    return "\n".join(lines)


def synthesize(size: Size, out: Path, name: str | None = None) -> Inventory:
    """Write the synthetic inventory to ``out`` after validating it with the loader; returns it loaded."""
    text = render(size, name)
    with tempfile.TemporaryDirectory(prefix="harness-synth-") as tmp:
        staged = Path(tmp) / out.name
        staged.write_text(text, encoding="utf-8")
        load_inventory(staged)  # the bundled format's own validation: a generator bug never reaches a file
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return load_inventory(out)
