"""Inventories: the bundled ones load; broken ones fail before any AWS call, naming file, key path and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import InventoryError
from harness.inventory import bundled_names, load_inventory
from harness.inventory.loader import BUNDLED_DIR

BBWS = (BUNDLED_DIR / "bbws.toml").read_text()


@pytest.mark.parametrize("name", ["bbws", "bbws-access", "propie"])
def test_bundled_inventory_loads_and_every_env_resolves(name: str) -> None:
    inv = load_inventory(name)
    assert inv.spec.inventory.sources, "an inventory cites its seed sections"
    for env_name in inv.env_names:
        env = inv.environment(env_name)
        assert "{" not in repr(env.functions) + repr(env.tables) + repr(env.buckets), "placeholders left unresolved"


def test_bundled_names() -> None:
    assert {"bbws", "bbws-access", "propie"} <= set(bundled_names())


def test_bbws_names_from_the_runbooks() -> None:
    sit = load_inventory("bbws").environment("sit")
    assert (sit.account, sit.region, sit.alias, sit.profile, sit.role) == (
        "815856636111",
        "af-south-1",
        "latest-sit",
        "bbws-sit",
        "bbws-github-actions-role-sit",
    )
    assert {f.name for f in sit.functions} == {
        "bbws-tenant-instance-management-sit",
        "bbws-site-management-sit",
        "sit-bbws-sites-service",
        "sit-bbws-templates-service",
        "sit-bbws-plugins-service",
        "sit-bbws-async-processor",
        "bbws-ecs-event-handler-sit",
    }
    pitr = {t.name: t.pitr for t in sit.tables}
    assert pitr["sites-sit"] == "required" and pitr["bbws-deployments-sit"] == "recommended"
    assert sit.table("Site-Generation-State").hash_key.name == "SiteId"
    assert sit.terraform.state_keys == (
        "tenants/tenant-001/terraform.tfstate",
        "tenants/tenant-002/terraform.tfstate",
        "tenant-instances-lambda/sit/terraform.tfstate",
    )
    assert sit.ecs.services == ("tenant-001-wordpress", "tenant-002-wordpress")
    assert sit.sam_stacks == ("bbws-ecs-event-handler-sit",)
    assert [b.replication_destination for b in sit.buckets] == [None]
    prod = load_inventory("bbws").environment("prod")
    assert prod.protected and prod.failover_region == "eu-west-1"
    assert [(b.replication_destination, b.replication_region) for b in prod.buckets] == [
        ("bbws-prod-data-bucket-failover", "eu-west-1")
    ]
    assert prod.approvals["sit-to-prod"].min_approvers == 2


def test_bbws_access_discovery_and_regions() -> None:
    inv = load_inventory("bbws-access")
    dev = inv.environment("dev")
    assert dev.region == "eu-west-1" and inv.environment("prod").region == "af-south-1"
    assert dev.alias == "live" and len(dev.discovery) == 6
    assert dev.discovery[0].prefix == "bbws-access-dev-lambda-permission-service"
    assert dev.ssm_deployed_version == "/bbws-access/dev/deployed-version"
    assert dev.deployments_table.name == "bbws-access-dev-ddb-deployments"


def test_propie_values_from_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROPIE_ACCOUNT_ID", raising=False)
    monkeypatch.delenv("PROPIE_AMPLIFY_APP_ID", raising=False)
    inv = load_inventory("propie")
    rehearsal = inv.environment("production")
    assert rehearsal.account == "111122223333" and set(rehearsal.unresolved) == {
        "PROPIE_ACCOUNT_ID",
        "PROPIE_AMPLIFY_APP_ID",
    }
    with pytest.raises(
        InventoryError,
        match=r"propie\.toml: environments\.production\.account: needs environment variable PROPIE_ACCOUNT_ID; "
        r"amplify\.app_id: needs environment variable PROPIE_AMPLIFY_APP_ID",
    ):
        inv.environment("production", strict_env_vars=True)
    monkeypatch.setenv("PROPIE_ACCOUNT_ID", "444455556666")
    monkeypatch.setenv("PROPIE_AMPLIFY_APP_ID", "d2abc")
    real = inv.environment("production", strict_env_vars=True)
    assert (real.account, real.amplify.app_id, real.unresolved) == ("444455556666", "d2abc", ())
    assert real.tables[0].name == "prop-ie-production-data"


BROKEN = {
    "missing account": (
        ('account = "815856636111"\n', ""),
        r"environments\.sit\.account: required key is missing",
    ),
    "malformed account": (
        ('account = "815856636111"', 'account = "81585663611"'),
        r"environments\.sit\.account: account must be 12 digits",
    ),
    "bad region": (
        (
            '[environments.sit]\naccount = "815856636111"\nregion = "af-south-1"',
            '[environments.sit]\naccount = "815856636111"\nregion = "af-south"',
        ),
        r"environments\.sit\.region: not an AWS region name: 'af-south'",
    ),
    "unknown region": (
        (
            '[environments.sit]\naccount = "815856636111"\nregion = "af-south-1"',
            '[environments.sit]\naccount = "815856636111"\nregion = "af-south-9"',
        ),
        r"environments\.sit\.region: unknown AWS region 'af-south-9'",
    ),
    "unknown key": (
        ('[ecs]\ncluster = "bbws-cluster-{env}"', '[ecs]\nclusterr = "x"\ncluster = "bbws-cluster-{env}"'),
        r"ecs\.clusterr: unknown key",
    ),
    "duplicate function": (
        ('functions = ["bbws-ecs-event-handler-{env}"]', 'functions = ["bbws-site-management-{env}"]'),
        r"lambda\.services\[2\]\.functions\[0\]: duplicate function 'bbws-site-management-dev' \(also at "
        r"lambda\.services\[1\]\.functions\[0\]\)",
    ),
    "unknown placeholder": (
        ('cluster = "bbws-cluster-{env}"', 'cluster = "bbws-cluster-{environment}"'),
        r"ecs\.cluster: unknown placeholder \{environment\}",
    ),
    "wrong type": (
        ("desired_count = 1", 'desired_count = "one"'),
        r"ecs\.desired_count: .*integer",
    ),
    "unknown promotes_to": (
        ('promotes_to = "prod"', 'promotes_to = "production"'),
        r"environments\.sit\.promotes_to names unknown environment 'production'",
    ),
    "tenant placeholder outside a list": (
        ('cluster = "bbws-cluster-{env}"', 'cluster = "bbws-cluster-{tenant_id}"'),
        r"ecs\.cluster: \{tenant_id\} is only allowed in lists",
    ),
    "not TOML": (
        ("[ecs]\n", "[ecs\n"),
        r"not valid TOML",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_inventory_fails_with_file_key_path_and_problem(tmp_path: Path, case: str) -> None:
    (old, new), pattern = BROKEN[case]
    assert old in BBWS, f"test fixture out of date: {old!r} not in bbws.toml"
    path = tmp_path / "broken.toml"
    path.write_text(BBWS.replace(old, new, 1))
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    text = str(info.value)
    assert text.startswith(f"{path}: "), text
    assert __import__("re").search(pattern, text), text


def test_missing_file_and_unknown_env_name_the_choices(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match=r"nope\.toml: no such inventory file, and not a bundled inventory \(bbws"):
        load_inventory(tmp_path / "nope.toml")
    with pytest.raises(InventoryError, match=r"unknown environment 'qa'; valid: dev, sit, prod"):
        load_inventory("bbws").environment("qa")


def test_loading_makes_no_aws_call(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("inventory loading must not create AWS clients")

    monkeypatch.setattr(boto3.Session, "client", forbidden)
    monkeypatch.setattr(boto3, "client", forbidden)
    load_inventory("bbws").environment("prod")
