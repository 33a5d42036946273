"""``harness inventory discover`` against ``harness serve --env sit``: the draft's SIT equals bbws.toml's SIT,
nothing is written to the account, an account mismatch is refused before any other call; merging a second
environment; init from a draft."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.discover import Bucket, Discovered, Table, discover, probe_environment
from harness.draft import draft, merge, render, template, write
from harness.errors import InventoryError
from harness.inventory import load_inventory
from harness.targets.aws import AwsTarget
from tests.conftest import REPO, sit_run_env

READ = ("List", "Describe", "Get")


@pytest.fixture
def served_env(served_sit: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in sit_run_env(served_sit).items():
        monkeypatch.setenv(key, value)
    yield served_sit


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_"))} | env
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "inventory", "discover", *args],
        cwd=REPO,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_discover_yields_bbws_sit_and_never_writes(served_env: dict[str, str], tmp_path: Path) -> None:
    bbws = load_inventory("bbws").environment("sit")
    target = AwsTarget(probe_environment("sit", bbws.account, bbws.region)).start()
    calls: list[str] = []
    target.add_call_listener(lambda service, op, params: calls.append(f"{service}.{op}"))
    try:
        found = discover(target, "sit")
    finally:
        target.close()
    assert calls and all(c.split(".", 1)[1].startswith(READ) for c in calls), sorted(set(calls))
    assert sum(found.calls.values()) == len(calls)
    path = tmp_path / "draft.toml"
    write(*draft(found, "mine"), path)
    sit = load_inventory(path).environment("sit")
    assert {f.name for f in sit.functions} == {f.name for f in bbws.functions}
    assert sit.alias == bbws.alias == "latest-sit"
    assert {(t.name, t.hash_key.name, t.pitr != "none") for t in sit.tables} == {
        (t.name, t.hash_key.name, t.pitr != "none") for t in bbws.tables
    }
    assert {b.name for b in sit.buckets} == {b.name for b in bbws.buckets}
    assert sit.ecs and bbws.ecs and set(sit.ecs.services) == set(bbws.ecs.services)
    assert sit.ecs.cluster == bbws.ecs.cluster
    assert sit.terraform and bbws.terraform
    assert set(sit.terraform.state_keys) == set(bbws.terraform.state_keys)
    assert (sit.terraform.state_bucket, sit.terraform.lock_table) == (
        bbws.terraform.state_bucket,
        bbws.terraform.lock_table,
    )
    text = path.read_text()
    assert 'alias = "latest-{env}"  # guessed' in text and "# runbook default" in text


def test_the_cli_writes_the_draft_and_refuses_an_account_mismatch(served_env: dict[str, str], tmp_path: Path) -> None:
    env = sit_run_env(served_env)
    out = tmp_path / "sit.toml"
    ok = _cli("--env", "sit", "--account", "815856636111", "--region", "af-south-1", "-o", str(out), env=env)
    assert ok.returncode == 0 and "7 functions, 6 tables, 1 buckets, 2 ECS services, 3 state keys" in ok.stdout, (
        ok.stdout + ok.stderr
    )
    assert load_inventory(out).environment("sit").account == "815856636111"
    other = tmp_path / "other.toml"
    refused = _cli("--env", "sit", "--account", "111111111111", "--region", "af-south-1", "-o", str(other), env=env)
    assert refused.returncode == 4 and "refusing to run" in refused.stderr and "no other AWS call" in refused.stderr
    assert not other.exists()
    again = _cli("--env", "sit", "--account", "815856636111", "--region", "af-south-1", "-o", str(out), env=env)
    assert again.returncode == 2 and "--merge" in again.stderr


def _found(env: str, account: str, extra_table: str | None = None) -> Discovered:
    found = Discovered(env, account, "eu-west-1")
    found.functions = {f"app-api-{env}": ["live", "backup-1"], f"app-worker-{env}": ["live"]}
    found.tables = [Table(f"orders-{env}", ("pk", "S"), ("sk", "S"), "PAY_PER_REQUEST", True)]
    if extra_table:
        found.tables.append(Table(extra_table, ("id", "S"), None, None, False))
    found.buckets = [Bucket(f"app-{env}-assets", True, True, "aws:kms", None)]
    return found


def test_a_second_environment_merges_into_the_draft(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    write(*draft(_found("dev", "111111111111", extra_table="scratch-dev"), "app"), path)
    import tomllib

    merged, notes = merge(tomllib.loads(path.read_text()), _found("prod", "222222222222"))
    write(merged, notes, path)
    inv = load_inventory(path)
    assert inv.env_names == ["dev", "prod"]
    dev, prod = inv.environment("dev"), inv.environment("prod")
    assert [t.name for t in dev.tables] == ["orders-dev", "scratch-dev"]
    assert [t.name for t in prod.tables] == ["orders-prod"]  # scratch is dev's only
    assert prod.protected and not dev.protected and prod.alias == "live"
    assert {f.name for f in prod.functions} == {"app-api-prod", "app-worker-prod"}
    assert "protected = true  # guessed from the name" in path.read_text()


def test_an_invalid_draft_is_not_written(tmp_path: Path) -> None:
    raw, notes = draft(_found("dev", "111111111111"), "app")
    raw["environments"]["dev"]["region"] = "mars-1"
    with pytest.raises(InventoryError, match="region"):
        write(raw, notes, tmp_path / "bad.toml")
    assert not (tmp_path / "bad.toml").exists()
    assert "[[dynamodb.tables]]" in render(*draft(_found("dev", "111111111111"), "app"))


def test_names_become_templates_only_where_the_env_is_a_word() -> None:
    assert template("bbws-tenant-instance-management-sit", "sit") == "bbws-tenant-instance-management-{env}"
    assert template("sit-bbws-sites-service", "sit") == "{env}-bbws-sites-service"
    assert template("site-sitemap", "sit") == "site-sitemap"
    assert template("app-production-x", "prod") == "app-production-x"


def test_init_from_a_draft(tmp_path: Path) -> None:
    from harness.cli.init import scaffold

    draft_path = tmp_path / "draft.toml"
    write(*draft(_found("dev", "111111111111"), "app"), draft_path)
    written, kept = scaffold(tmp_path / "proj", str(draft_path))
    assert "inventory.toml" in written and not kept
    assert load_inventory(tmp_path / "proj" / "inventory.toml").name == "app"


def test_rehearse_refuses_a_real_account_without_allow_mutation(served_env: dict[str, str]) -> None:
    from harness.runbook import lint as lint_mod

    example = Path(lint_mod.__file__).parent / "examples" / "lambda-rollback.md"
    full = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_"))} | sit_run_env(served_env)
    run = subprocess.run(
        [sys.executable, "-m", "harness.cli", "runbook", "rehearse", str(example), "--section", "2", "--env", "sit"]
        + ["--target", "aws"],
        cwd=REPO,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 3 and "is a real account (--allow-mutation to run them there)" in run.stdout, (
        run.stdout + run.stderr
    )
    assert "step 1" not in run.stdout


@pytest.fixture(scope="module")
def served_propie() -> Iterator[dict[str, str]]:
    from tests.conftest import serve, stop

    proc, info = serve("production", inventory="propie")
    yield info
    stop(proc)


def test_discover_yields_propie_production(
    served_propie: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in sit_run_env(served_propie).items():
        monkeypatch.setenv(key, value)
    propie = load_inventory("propie").environment("production")
    target = AwsTarget(probe_environment("production", served_propie["AWS_ACCOUNT_ID"], propie.region)).start()
    try:
        found = discover(target, "production")
    finally:
        target.close()
    write(*draft(found, "propie-draft"), tmp_path / "draft.toml")
    prod = load_inventory(tmp_path / "draft.toml").environment("production")
    assert {f.name for f in prod.functions} == {f.name for f in propie.functions} and prod.alias == propie.alias
    assert {(t.name, t.hash_key.name, t.pitr != "none") for t in prod.tables} == {
        (t.name, t.hash_key.name, t.pitr != "none") for t in propie.tables
    }
    assert prod.amplify and propie.amplify
    assert (prod.amplify.app_id, prod.amplify.branch, prod.amplify.domain) == (
        propie.amplify.app_id,
        propie.amplify.branch,
        propie.amplify.domain,
    )
    assert set(prod.cfn_stacks) == set(propie.cfn_stacks) and prod.protected


def test_tags_and_prefixes_filter_names() -> None:
    from harness.discover import Filter, tagged_names

    class Tagging:
        def get_paginator(self, name: str) -> "Tagging":
            return self

        def paginate(self, **params: object) -> list[dict]:
            assert params["TagFilters"] == [{"Key": "team", "Values": ["core"]}]
            arns = [
                "arn:aws:lambda:eu-west-1:111111111111:function:app-api-dev",
                "arn:aws:dynamodb:eu-west-1:111111111111:table/orders-dev",
                "arn:aws:s3:::app-dev-assets",
            ]
            return [{"ResourceTagMappingList": [{"ResourceARN": a} for a in arns]}]

    class Target:
        def client(self, service: str) -> Tagging:
            return Tagging()

    names = tagged_names(Target(), {"team": "core"})  # type: ignore[arg-type] (a stub with client())
    assert names == {"app-api-dev", "orders-dev", "app-dev-assets"}
    keep = Filter(("app-",), names)
    assert keep("app-api-dev") and not keep("orders-dev") and not keep("app-other-dev")
    assert Filter(())("anything") and not Filter(("x-",))("y-1")
