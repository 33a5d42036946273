"""A discovered environment as a draft inventory (the bundled TOML format), merged into an existing draft.

Names are written as templates: the environment's name becomes ``{env}`` where it stands as a word
(``bbws-tenant-instance-management-sit`` -> ``bbws-tenant-instance-management-{env}``), so a second environment
merged into the draft lands on the same entries. What an account cannot tell is written as the runbook
defaults (thresholds 000 §2, approvals 000 §9.3 / 001 §2.2), marked ``# runbook default``; a name the account
does not show is a ``${VAR}`` placeholder with a rehearsal default. Every guessed value carries a comment.
The draft is validated by the loader before it is written.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from harness.discover import Discovered
from harness.errors import HarnessError
from harness.inventory import load_inventory

INLINE = frozenset({"hash_key", "range_key", "replication", "health_payload", "defaults", "dimensions"})
PROTECTED_NAMES = ("prod", "production", "prd")
DEFAULTS_FROM = "bbws"  # the bundled inventory whose runbook values (000, 001, 002) a draft starts from
Comments = dict[str, str]


def template(name: str, env: str) -> str:
    """``name`` with the environment's name as ``{env}`` wherever it stands as a word."""
    return re.sub(rf"(?<![A-Za-z0-9]){re.escape(env)}(?![A-Za-z0-9])", "{env}", name)


def _service(fn: str) -> str:
    return template(fn, "{env}").replace("{env}", "").strip("-_") or fn


def _env_spec(found: Discovered) -> tuple[dict[str, Any], Comments]:
    spec: dict[str, Any] = {"account": found.account, "region": found.region}
    notes: Comments = {}
    if found.env in PROTECTED_NAMES:
        spec["protected"] = True
        notes["protected"] = "guessed from the name: protected environments need approvals (000 §9.3)"
    return spec, notes


def _tables(found: Discovered, c: Comments, base: str) -> list[dict[str, Any]]:
    out = []
    for i, t in enumerate(found.tables):
        item: dict[str, Any] = {"name": template(t.name, found.env), "pitr": "required" if t.pitr else "none"}
        c[f"{base}[{i}].pitr"] = "guessed: PITR is on, so required (000 §6.7 says which are)" if t.pitr else "PITR off"
        if t.billing:
            item["billing_mode"] = t.billing
        item["hash_key"] = {"name": t.hash_key[0], "type": t.hash_key[1]}
        if t.range_key:
            item["range_key"] = {"name": t.range_key[0], "type": t.range_key[1]}
        if "deploy" in t.name.lower() or t.hash_key[0] == "deployment_id":
            item["purpose"] = "deployments"
            c[f"{base}[{i}].purpose"] = "guessed from the name/key: holds deployment records (001 §6.3.2)"
        out.append(item)
    return out


def _buckets(found: Discovered) -> list[dict[str, Any]]:
    out = []
    for b in found.buckets:
        item: dict[str, Any] = {
            "name": template(b.name, found.env),
            "versioning": b.versioning,
            "public_access_block": b.public_access_block,
            "encryption": b.encryption or "AES256",
        }
        if b.replication:
            item["replication"] = {"destination": template(b.replication[0], found.env), "region": b.replication[1]}
            item["replication_envs"] = [found.env]
        out.append(item)
    return out


def _defaults(raw: dict[str, Any], c: Comments) -> None:
    """What the account cannot tell — thresholds, approvals, maintenance windows, recovery objectives — as the
    runbooks give them (the bundled bbws inventory, which cites each), marked for review."""
    spec = load_inventory(DEFAULTS_FROM).spec
    raw["thresholds"] = spec.thresholds.model_dump(exclude={"ref"})
    for k in raw["thresholds"]:
        c[f"thresholds.{k}"] = f"runbook default ({spec.thresholds.ref}): not in the account"
    raw["approvals"] = {name: rule.model_dump(exclude={"ref"}) for name, rule in spec.approvals.items()}
    for name, rule in spec.approvals.items():
        c[f"approvals.{name}.roles"] = f"runbook default ({rule.ref}): who approves is not in the account"
    raw["maintenance_windows"] = [w.model_dump() for w in spec.maintenance_windows]
    if raw["maintenance_windows"]:
        c["maintenance_windows[0]"] = "runbook default (001 §4.1.2, UTC): not in the account"
    if spec.rto:
        raw["rto"] = spec.rto.model_dump(exclude_none=True, exclude={"ref"})
        for k in raw["rto"]:
            c[f"rto.{k}"] = f"runbook default ({spec.rto.ref}), minutes"


def _lambda(found: Discovered, c: Comments) -> dict[str, Any]:
    if not found.functions:
        raise HarnessError(
            f"no Lambda function found in account {found.account} ({found.region}) with these filters: an inventory "
            "names at least one"
        )
    alias = found.alias or "live"
    c["lambda.alias"] = (
        f"guessed: the alias most functions carry ({alias})" if found.alias else "guessed: no alias found"
    )
    services = [
        {"name": _service(template(f, found.env)), "functions": [template(f, found.env)]} for f in found.functions
    ]
    c["lambda.services[0]"] = "guessed: one service per function (group them as your repositories deploy them, 002)"
    return {"alias": template(alias, found.env), "services": services}


def draft(found: Discovered, name: str) -> tuple[dict[str, Any], Comments]:
    """The draft inventory (raw TOML data) and its comments (dotted key path -> comment)."""
    c: Comments = {}
    env_spec, env_notes = _env_spec(found)
    c.update({f"environments.{found.env}.{k}": v for k, v in env_notes.items()})
    raw: dict[str, Any] = {
        "inventory": {
            "name": name,
            "title": f"{name} (discovered)",
            "sources": [f"harness inventory discover: account {found.account} {found.region} ({found.env})"],
            "notes": ["A draft: every guessed value has a comment; review before using it on a real account."],
        },
        "environments": {found.env: env_spec},
        "lambda": _lambda(found, c),
    }
    raw["dynamodb"] = {"tables": _tables(found, c, "dynamodb.tables")}
    raw["s3"] = {"buckets": _buckets(found)}
    if found.state_bucket:
        raw["terraform"] = {
            "state_bucket": template(found.state_bucket, found.env),
            "state_keys": [template(k, found.env) for k in found.state_keys],
        }
        c["terraform.state_bucket"] = "recognised by its *.tfstate keys"
        if found.lock_table:
            raw["terraform"]["lock_table"] = template(found.lock_table, found.env)
            c["terraform.lock_table"] = f"recognised by its {'LockID'} key (Terraform's S3 backend)"
    if found.cluster and found.services:
        count = max(set(found.desired_counts), key=found.desired_counts.count)
        raw["ecs"] = {
            "cluster": template(found.cluster, found.env),
            "services": [template(s, found.env) for s in found.services],
            "desired_count": count,
        }
        c["ecs.desired_count"] = "the desired count most services have"
    if found.ssm_parameter:
        raw["ssm"] = {"deployed_version_parameter": template(found.ssm_parameter, found.env)}
    if found.alarm_prefix:
        raw["cloudwatch"] = {"alarm_prefix": template(found.alarm_prefix, found.env)}
        c["cloudwatch.alarm_prefix"] = "guessed: the prefix every alarm name shares"
    if found.amplify:
        raw["amplify"] = dict(found.amplify)
        if not raw["amplify"]["domain"]:
            raw["amplify"]["domain"] = "${AMPLIFY_DOMAIN}"
            c["amplify.domain"] = "no domain association in the account: set AMPLIFY_DOMAIN"
            raw.setdefault("rehearsal", {}).setdefault("defaults", {})["AMPLIFY_DOMAIN"] = "example.invalid"
    if found.stacks:
        raw["cloudformation"] = {"stacks": [template(s, found.env) for s in found.stacks]}
    _defaults(raw, c)
    return raw, c


def _add_envs(items: list[dict[str, Any]], new: list[dict[str, Any]], env: str, before: list[str]) -> None:
    """Entries by name: new ones apply to ``env`` only, ones ``env`` lacks keep to the environments before it."""
    names = {i["name"] for i in new}
    for item in items:
        if item["name"] in names:
            if item.get("envs") is not None and env not in item["envs"]:
                item["envs"].append(env)
        elif item.get("envs") is None:
            item["envs"] = list(before)
    known = {i["name"] for i in items}
    items += [{**i, "envs": [env]} for i in new if i["name"] not in known]


def merge(existing: dict[str, Any], found: Discovered) -> tuple[dict[str, Any], Comments]:
    """``existing`` (a draft's raw data) with ``found`` merged in as one more environment; its values are kept."""
    new, c = draft(found, existing["inventory"]["name"])
    before = [e for e in existing["environments"] if e != found.env]
    out = json.loads(json.dumps(existing))
    out["environments"][found.env] = new["environments"][found.env]
    fns = {f for s in out["lambda"]["services"] for f in s["functions"]}
    out["lambda"]["services"] += [s for s in new["lambda"]["services"] if s["functions"][0] not in fns]
    for section, key in (("dynamodb", "tables"), ("s3", "buckets")):
        out.setdefault(section, {}).setdefault(key, [])
        _add_envs(out[section][key], new[section][key], found.env, before)
    for section in ("terraform", "ecs", "ssm", "cloudwatch", "amplify", "cloudformation"):
        if section not in out and section in new:
            out[section] = new[section]
    if "terraform" in new and "terraform" in out:
        keys = out["terraform"]["state_keys"]
        keys += [k for k in new["terraform"]["state_keys"] if k not in keys]
    if "ecs" in new and "ecs" in out:
        out["ecs"]["services"] += [s for s in new["ecs"]["services"] if s not in out["ecs"]["services"]]
    out["inventory"]["sources"] = list(dict.fromkeys(out["inventory"]["sources"] + new["inventory"]["sources"]))
    return out, {k: v for k, v in c.items() if k.startswith(f"environments.{found.env}")}


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_scalar(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_scalar(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _is_table(k: str, v: Any) -> bool:
    return isinstance(v, dict) and k not in INLINE


def _is_array_of_tables(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _emit(lines: list[str], path: str, d: dict[str, Any], c: Comments, header: str | None) -> None:
    plain = [k for k, v in d.items() if not _is_table(k, v) and not _is_array_of_tables(v)]
    if header is not None and (plain or not d):  # a table holding only sub-tables needs no header of its own
        note = c.get(path)
        lines += ["", header + (f"  # {note}" if note else "")]
    for k, v in d.items():
        if not _is_table(k, v) and not _is_array_of_tables(v):
            note = c.get(f"{path}.{k}" if path else k)
            lines.append(f"{k} = {_scalar(v)}" + (f"  # {note}" if note else ""))
    for k, v in d.items():
        sub = f"{path}.{k}" if path else k
        if _is_table(k, v):
            _emit(lines, sub, v, c, f"[{sub}]")
        elif _is_array_of_tables(v):
            for i, item in enumerate(v):
                _emit(lines, f"{sub}[{i}]", item, c, f"[[{sub}]]")


def render(raw: dict[str, Any], comments: Comments) -> str:
    """TOML text of ``raw`` with ``comments`` at the end of their lines."""
    lines = ["# Draft inventory written by `harness inventory discover` (review every commented value)."]
    _emit(lines, "", raw, comments, None)
    return "\n".join(lines).strip() + "\n"


def write(raw: dict[str, Any], comments: Comments, path: Path) -> str:
    """Validate the draft with the loader, then write it to ``path``; returns the text."""
    text = render(raw, comments)
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / path.name
        probe.write_text(text, encoding="utf-8")
        load_inventory(probe)  # InventoryError names the key path: a draft that does not validate is not written
    path.write_text(text, encoding="utf-8")
    return text
