"""Another environment's rehearsal on the same moto server: promotions between accounts (001 §3, §4).

DEV -> SIT and SIT -> PROD move code between accounts. A rehearsal runs the other environment as a
*peer*: its own account on the server the session's target already runs (no second port, no second
set of patches), seeded from the same inventory, with its own fidelity context (so Invoke runs its
versions' code and its metrics follow its own clock, e.g. one started inside a maintenance window).
"""

from __future__ import annotations

from harness.clock import Clock
from harness.inventory.model import Environment
from harness.targets.embedded.target import EmbeddedTarget


def start_peer(
    target: EmbeddedTarget, env: Environment, *, clock: Clock | None = None, seed: bool = True
) -> EmbeddedTarget:
    """``env`` seeded on ``target``'s server in its own account (wiped first when seeding); started."""
    peer = EmbeddedTarget(env, server=target.server, clock=clock, fidelity=target.fidelity_enabled, seed=seed)
    return peer.start()
