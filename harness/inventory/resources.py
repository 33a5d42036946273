"""Every resource an environment's inventory names, as a flat list (for smoke reads and seeding walks)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.inventory.model import Environment


@dataclass(frozen=True)
class Resource:
    # lambda-alias | lambda-discovery | dynamodb-table | s3-bucket | terraform-state | ecs-service | ssm-parameter |
    # log-group | cloudformation-stack | amplify-app
    kind: str
    name: str
    region: str
    ref: str
    parent: str = ""  # bucket of a state object, cluster of a service, function of an alias

    @property
    def id(self) -> str:
        """A short stable id for pytest node ids: kind-name."""
        return f"{self.kind}-{self.name}".replace("/", "_")


def inventory_resources(env: Environment) -> list[Resource]:
    """All resources of ``env`` that a rehearsal seeds and a real account must have."""
    out: list[Resource] = []
    r = env.region
    for f in env.functions:
        out.append(Resource("lambda-alias", env.alias, r, "000 §3.2", parent=f.name))
        out.append(Resource("log-group", f"{env.log_group_prefix}{f.name}", r, "000 §7.4"))
    for d in env.discovery:
        out.append(Resource("lambda-discovery", d.prefix, r, "002 §1"))
    for t in env.tables:
        out.append(Resource("dynamodb-table", t.name, r, t.ref))
    for b in env.buckets:
        out.append(Resource("s3-bucket", b.name, r, b.ref))
        if b.replication_destination and b.replication_region:
            out.append(Resource("s3-bucket", b.replication_destination, b.replication_region, "003 §5"))
    if env.terraform:
        tf = env.terraform
        out.append(Resource("s3-bucket", tf.state_bucket, r, tf.ref))
        if tf.lock_table:
            out.append(Resource("dynamodb-table", tf.lock_table, r, tf.ref))
        for key in tf.state_keys:
            out.append(Resource("terraform-state", key, r, tf.ref, parent=tf.state_bucket))
    if env.ecs:
        for s in env.ecs.services:
            out.append(Resource("ecs-service", s, r, env.ecs.ref, parent=env.ecs.cluster))
    if env.ssm_deployed_version:
        out.append(Resource("ssm-parameter", env.ssm_deployed_version, r, "002 §1"))
    for stack in (*env.sam_stacks, *env.cfn_stacks):
        out.append(Resource("cloudformation-stack", stack, r, "001 §6.2.2 / 004"))
    if env.amplify:
        out.append(Resource("amplify-app", env.amplify.app_id, r, env.amplify.ref, parent=env.amplify.branch))
    return out
