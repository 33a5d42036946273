"""Safety inputs normalised and strict: one approver however it is typed, inventory booleans/counts/windows
strict-typed (an error naming the key path), and one variable name for the served API's base URL."""

from __future__ import annotations

import pytest

from harness import options
from harness.actions.guards import Authority, refusal
from harness.errors import InventoryError
from harness.inventory import load_inventory
from harness.inventory.loader import bundled_names, inventory_path
from harness.safety import approval_refusal, distinct_approvers


class _Target:
    disposable = True
    name = "embedded"

    def __init__(self, env):
        self.env = env


@pytest.fixture(scope="module")
def prod():
    return load_inventory("bbws").environment("prod")


def test_one_approver_however_the_name_is_cased_or_spaced(prod):
    auth = Authority(approvers=("Engineering Lead", " engineering  lead"), reason="INC-42")
    why = refusal(_Target(prod), auth, rule="prod-rollback")
    assert why is not None and "needs 2 distinct approvers" in why and "got 1: Engineering Lead" in why, why
    assert auth.approvers == ("Engineering Lead", " engineering  lead")  # the record keeps what was typed


def test_two_people_are_two_approvers(prod):
    auth = Authority(approvers=("Engineering Lead", "Product Owner"), reason="INC-42")
    assert refusal(_Target(prod), auth, rule="prod-rollback") is None
    assert distinct_approvers(["Product Owner", "product owner ", "Engineering Lead"]) == [
        "Engineering Lead",
        "Product Owner",
    ]


def test_blank_approvers_do_not_count(prod):
    why = approval_refusal(prod.approvals["prod-rollback"], "prod-rollback", ["  ", "A"], "r")
    assert why is not None and "got 1: A" in why


@pytest.mark.parametrize(
    "old,new,path",
    [
        ("protected = true", 'protected = "yes"', "environments.prod.protected"),
        ("min_approvers = 2", 'min_approvers = "2"', "approvals.sit-to-prod.min_approvers"),
    ],
)
def test_a_string_where_a_boolean_or_count_belongs_is_an_error_naming_the_key(tmp_path, old, new, path):
    text = inventory_path("bbws").read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InventoryError) as raised:
        load_inventory(str(bad))
    assert path in str(raised.value), raised.value


@pytest.mark.parametrize("name", bundled_names())
def test_the_bundled_inventories_still_load(name):
    assert load_inventory(name).env_names


def test_serve_prints_the_api_variable_the_cli_and_plugin_read(served_sit):
    assert "HARNESS_API_BASE_URL" in served_sit and "API_BASE_URL" not in served_sit, served_sit
    assert "HARNESS_API_BASE_URL" in options.OPTIONS["--api-base-url"].env
