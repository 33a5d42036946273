"""Declarative inventories of a system's environments (validated TOML)."""

from harness.inventory.loader import Inventory, bundled_names, inventory_path, load_inventory
from harness.inventory.model import Environment, Function, Table

__all__ = ["Environment", "Function", "Inventory", "Table", "bundled_names", "inventory_path", "load_inventory"]
