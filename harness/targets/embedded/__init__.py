"""Embedded target: moto in-process, seeded from the inventory, with fidelity extensions."""

from harness.targets.embedded.server import EmbeddedServer
from harness.targets.embedded.target import EmbeddedTarget, reset_account

__all__ = ["EmbeddedServer", "EmbeddedTarget", "reset_account"]
