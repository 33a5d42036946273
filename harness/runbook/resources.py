"""Resource names in ``aws`` calls that match nothing in the inventory (a typo, a renamed function, another system).

A name is rarely literal in a runbook: ``bbws-tenant-instance-management-${ENV}``, ``${FUNC}-${ENV}`` in a loop
over literal names, ``$FUNCTION_NAME`` set three sections earlier. Each ``$VAR`` becomes the values the document
assigns it (and the inventory binds: ``ENV`` is each environment's name); a variable with no literal value
matches anything. The name is reported when the pattern matches no resource of that kind in any of the
inventory's environments.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

from harness.inventory.loader import Inventory
from harness.runbook.bindings import inventory_bindings
from harness.runbook.shell import Assign, Script

VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
# (service, option) -> kind of resource
OPTIONS = {
    ("lambda", "--function-name"): "function",
    ("dynamodb", "--table-name"): "table",
    ("dynamodb", "--source-table-name"): "table",
    ("s3api", "--bucket"): "bucket",
    ("ecs", "--cluster"): "cluster",
    ("ecs", "--service"): "service",
    ("ecs", "--services"): "service",
    ("cloudformation", "--stack-name"): "stack",
    ("amplify", "--app-id"): "app",
}
MAX_DEPTH = 4


def inventory_names(inventory: Inventory, env_names: Sequence[str] | None = None) -> dict[str, set[str]]:
    """kind -> every name of that kind in the given environments (all when None)."""
    out: dict[str, set[str]] = {k: set() for k in set(OPTIONS.values())}
    for name in env_names or inventory.env_names:
        env = inventory.environment(name)
        out["function"].update(f.name for f in env.functions)
        out["table"].update(t.name for t in env.tables)
        out["bucket"].update(b.name for b in env.buckets)
        if env.terraform:
            out["bucket"].add(env.terraform.state_bucket)
            if env.terraform.lock_table:
                out["table"].add(env.terraform.lock_table)
        if env.ecs:
            out["cluster"].add(env.ecs.cluster)
            out["service"].update(env.ecs.services)
        out["stack"].update(env.cfn_stacks)
        out["stack"].update(env.sam_stacks)
        if env.amplify:
            out["app"].add(env.amplify.app_id)
    return out


def _pattern(value: str, known: dict[str, list[str]], depth: int = 0) -> str:
    """A regex for ``value``: literal text, each variable as the alternatives it is known to hold (else ``.+``)."""
    parts, pos = [], 0
    for m in VAR_RE.finditer(value):
        parts.append(re.escape(value[pos : m.start()]))
        name = m.group(1) or m.group(2)
        options = known.get(name, [])
        literal = [v for v in options if "$(" not in v and "`" not in v and not re.search(r"\$[0-9@*]", v)]
        if literal and depth < MAX_DEPTH and len(literal) == len(options):
            parts.append("(?:" + "|".join(_pattern(v, known, depth + 1) for v in literal) + ")")
        else:
            parts.append(".+")
        pos = m.end()
    parts.append(re.escape(value[pos:]))
    return "".join(parts)


def _known(assigns: Iterable[Assign], inventory: Inventory, env_names: Sequence[str] | None) -> dict[str, list[str]]:
    known: dict[str, list[str]] = {}
    for name in env_names or inventory.env_names:
        for var, val in inventory_bindings(inventory.environment(name)).items():
            known.setdefault(var, []).append(val)
    for a in assigns:
        for v in a.values:
            if v.startswith("${") and v.endswith("[@]}"):  # for X in "${ARRAY[@]}": the array's items
                v = "$" + v[2:-4]
            known.setdefault(a.name, []).append(v)
    return known


def unknown_resources(
    script: Script, assigns: Sequence[Assign], inventory: Inventory, env_names: Sequence[str] | None = None
) -> list[tuple[int, str]]:
    """(line, message) for each resource name in an ``aws`` call that matches no inventory resource."""
    names = inventory_names(inventory, env_names)
    known = _known(assigns, inventory, env_names)
    where = f"inventory {inventory.name} ({', '.join(env_names or inventory.env_names)})"
    out: list[tuple[int, str]] = []
    for cmd in script.commands:
        if cmd.name != "aws" or len(cmd.argv) < 3:
            continue
        service = cmd.argv[1]
        for i, w in enumerate(cmd.words[:-1]):
            kind = OPTIONS.get((service, w.value))
            if not kind:
                continue
            value = cmd.words[i + 1].value
            if "<" in value:
                continue  # a placeholder: the placeholder rule reports it
            if kind == "function":
                value = value.split(":function:")[-1].split(":")[0]
            pattern = _pattern(value, known)
            if not re.sub(r"\.\+|[()?:|]", "", pattern):
                continue  # nothing literal to compare
            if not any(re.fullmatch(pattern, n) for n in names[kind]):
                out.append((w.line, f"{kind} {cmd.words[i + 1].value} matches no {kind} of {where}"))
    return out
