"""The inventory's sections resolved for one environment (tables, buckets, Terraform, ECS, API, Amplify, triggers).

Each builder substitutes placeholders through the loader's ``_Subst`` (whose order of calls is the
order of the unresolved list) and raises InventoryError naming the file and the key path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.errors import InventoryError
from harness.inventory.model import (
    Amplify,
    Api,
    Bucket,
    Ecs,
    Function,
    FunctionDiscovery,
    Table,
    Terraform,
    TriggerMetric,
)
from harness.inventory.schema import TRIGGER_THRESHOLDS

if TYPE_CHECKING:
    from harness.inventory.loader import Inventory, _Subst


def _applies(envs: list[str] | None, env: str) -> bool:
    return envs is None or env in envs


def _functions(inv: Inventory, s: _Subst, alias: str) -> tuple[list[Function], dict[str, str]]:
    """The inventory's functions, and where each name was declared (a duplicate name is an error)."""
    functions: list[Function] = []
    seen: dict[str, str] = {}
    for si, svc in enumerate(inv.spec.lambda_.services):
        for fi, fn in enumerate(svc.functions):
            where = f"lambda.services[{si}].functions[{fi}]"
            fname = s(fn, where)
            if fname in seen:
                raise InventoryError(f"{inv.path}: {where}: duplicate function {fname!r} (also at {seen[fname]})")
            seen[fname] = where
            functions.append(Function(name=fname, service=svc.name, alias=alias))
    lam = inv.spec.lambda_
    services = [svc.name for svc in lam.services]
    for i, svc_name in enumerate(lam.promotion_order):
        if svc_name not in services:
            raise InventoryError(
                f"{inv.path}: lambda.promotion_order[{i}]: {svc_name!r} is not a service ({', '.join(services)})"
            )
    return functions, seen


def _tables(
    inv: Inventory, s: _Subst, name: str, seen: dict[str, str], discovery: tuple[FunctionDiscovery, ...]
) -> list[Table]:
    """The environment's tables; each table's functions must be inventory functions (or discovered)."""
    tables: list[Table] = []
    dyn = inv.spec.dynamodb
    for i, t in enumerate(dyn.tables):
        if not _applies(t.envs, name):
            continue
        tname = s(t.name, f"dynamodb.tables[{i}].name")
        if any(x.name == tname for x in tables):
            raise InventoryError(f"{inv.path}: dynamodb.tables[{i}].name: duplicate table {tname!r}")
        users = tuple(s(f, f"dynamodb.tables[{i}].functions[{j}]") for j, f in enumerate(t.functions))
        for j, fname in enumerate(users):
            if fname not in seen and not any(fname.startswith(d.prefix) for d in discovery):
                raise InventoryError(
                    f"{inv.path}: dynamodb.tables[{i}].functions[{j}]: {fname!r} is not one of the inventory's "
                    "functions"
                )
        tables.append(
            Table(
                tname,
                t.pitr,
                t.billing_mode,
                t.hash_key,
                t.range_key,
                tuple(t.indexes),
                t.purpose,
                t.ref,
                functions=users,
                env_var=t.env_var or dyn.table_env_var,
                restore_suffix=dyn.restore_suffix,
                restore_timestamp=dyn.restore_timestamp,
                restore_sse=dyn.restore_sse,
                restore_wait_minutes=dyn.restore_wait_minutes,
                shrink_refusal_percent=dyn.shrink_refusal_percent,
            )
        )
    return tables


def _buckets(inv: Inventory, s: _Subst, name: str) -> list[Bucket]:
    """The environment's buckets, with replication where it applies to this environment."""
    buckets = []
    for i, b in enumerate(inv.spec.s3.buckets):
        if not _applies(b.envs, name):
            continue
        repl = b.replication if (b.replication and _applies(b.replication_envs, name)) else None
        buckets.append(
            Bucket(
                name=s(b.name, f"s3.buckets[{i}].name"),
                versioning=b.versioning,
                public_access_block=b.public_access_block,
                encryption=b.encryption,
                replication_destination=s(repl.destination, f"s3.buckets[{i}].replication.destination")
                if repl
                else None,
                replication_region=repl.region if repl else None,
                ref=b.ref,
                replication_prefix=s(repl.prefix, f"s3.buckets[{i}].replication.prefix") if repl else "",
            )
        )
    return buckets


def _terraform_ecs_api(
    inv: Inventory, s: _Subst, seen: dict[str, str]
) -> tuple[Terraform | None, Ecs | None, Api | None]:
    """The Terraform state, the ECS services and the API, each when the inventory names one."""
    spec = inv.spec
    tf = spec.terraform
    terraform = (
        Terraform(
            state_bucket=s(tf.state_bucket, "terraform.state_bucket"),
            lock_table=s(tf.lock_table, "terraform.lock_table") if tf.lock_table else None,
            state_keys=tuple(s.expand(tf.state_keys, "terraform.state_keys")),
            lock_max_age_minutes=tf.lock_max_age_minutes,
            ref=tf.ref,
            forbid_lock_during_verification=tf.forbid_lock_during_verification,
        )
        if tf
        else None
    )
    ecs = (
        Ecs(
            cluster=s(spec.ecs.cluster, "ecs.cluster"),
            services=tuple(s.expand(spec.ecs.services, "ecs.services")),
            desired_count=spec.ecs.desired_count,
            ref=spec.ecs.ref,
        )
        if spec.ecs
        else None
    )
    api = (
        Api(
            base_url=s(spec.api.base_url, "api.base_url").rstrip("/"),
            paths=tuple(spec.api.paths),
            function=s(spec.api.function, "api.function"),
            ref=spec.api.ref,
        )
        if spec.api
        else None
    )
    if api and api.function not in seen:
        raise InventoryError(f"{inv.path}: api.function: {api.function!r} is not one of the inventory's functions")
    return terraform, ecs, api


def _amplify(inv: Inventory, s: _Subst) -> Amplify | None:
    """The Amplify app, when the inventory names one."""
    amp = inv.spec.amplify
    return (
        Amplify(
            s(amp.app_id, "amplify.app_id"),
            s(amp.branch, "amplify.branch"),
            s(amp.domain, "amplify.domain"),
            amp.ref,
            green_branch=s(amp.green_branch, "amplify.green_branch") if amp.green_branch else None,
            domain_prefix=s(amp.domain_prefix, "amplify.domain_prefix"),
            other_prefixes=tuple(s(p, f"amplify.other_prefixes[{i}]") for i, p in enumerate(amp.other_prefixes)),
            repository=s(amp.repository, "amplify.repository") if amp.repository else None,
        )
        if amp
        else None
    )


def _triggers(inv: Inventory, s: _Subst) -> tuple[TriggerMetric, ...]:
    """The automatic-rollback trigger metrics, each with its threshold from ``auto_rollback``."""
    spec = inv.spec
    return tuple(
        TriggerMetric(
            key=key,
            namespace=src.namespace,
            metric=src.metric,
            statistic=src.statistic,
            dimensions=tuple(
                (k, s(v, f"auto_rollback.sources.{key}.dimensions.{k}")) for k, v in src.dimensions.items()
            ),
            total_metric=src.total_metric,
            window_minutes=src.window_minutes,
            threshold=float(getattr(spec.auto_rollback, TRIGGER_THRESHOLDS[key])),
            action=src.action,
            ref=src.ref or spec.auto_rollback.ref,
        )
        for key, src in spec.auto_rollback.sources.items()
    )
