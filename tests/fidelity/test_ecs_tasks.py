"""ECS services run tasks; running counts can be lowered and restored through a target's handle and
read back consistently; holds are per target and times come from the target's clock."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from harness.clock import FixedClock
from harness.inventory import load_inventory
from harness.targets.embedded import EmbeddedTarget
from tests.fidelity.conftest import fresh_account, isolated

CLUSTER = "fidelity-cluster"


def create_service(target, name: str, desired: int) -> None:
    ecs = target.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    td = ecs.register_task_definition(
        family=name,
        containerDefinitions=[{"name": "web", "image": "wordpress:latest", "memory": 256, "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=td, desiredCount=desired)


def observed(target, name: str) -> dict:
    """Everything a check could read about the service, through the API."""
    ecs = target.client("ecs")
    svc = ecs.describe_services(cluster=CLUSTER, services=[name])["services"][0]
    arns = ecs.list_tasks(cluster=CLUSTER, serviceName=name)["taskArns"]
    tasks = ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"] if arns else []
    return {
        "running": svc["runningCount"],
        "pending": svc["pendingCount"],
        "deployment_running": svc["deployments"][0]["runningCount"],
        "listed": len(arns),
        "statuses": sorted({t["lastStatus"] for t in tasks}),
        "arns": arns,
    }


@pytest.fixture
def ecs_target(make_target):
    return make_target(seed=False)


def test_a_new_service_runs_its_desired_tasks_stably(ecs_target):
    create_service(ecs_target, "web-a", 2)
    for _ in range(3):  # moto's own tasks drift towards STOPPED each time they are described
        state = observed(ecs_target, "web-a")
    assert state | {"arns": None} == {
        "running": 2,
        "pending": 0,
        "deployment_running": 2,
        "listed": 2,
        "statuses": ["RUNNING"],
        "arns": None,
    }
    tasks = ecs_target.client("ecs").describe_tasks(cluster=CLUSTER, tasks=state["arns"])["tasks"]
    assert {t["group"] for t in tasks} == {"service:web-a"} and all(
        t["startedBy"].startswith("ecs-svc/") for t in tasks
    )


def test_lower_and_restore_running_count(ecs_target):
    create_service(ecs_target, "web-b", 2)
    ecs_handle = ecs_target.extensions.ecs
    before = observed(ecs_target, "web-b")["arns"]

    stopped = ecs_handle.lower_running_count(CLUSTER, "web-b", 0, reason="Essential container in task exited")

    assert sorted(stopped) == sorted(before)
    assert observed(ecs_target, "web-b") | {"arns": None} == {
        "running": 0,
        "pending": 2,
        "deployment_running": 0,
        "listed": 0,
        "statuses": [],
        "arns": None,
    }
    ecs = ecs_target.client("ecs")
    gone = ecs.describe_tasks(cluster=CLUSTER, tasks=before)["tasks"]
    assert {(t["lastStatus"], t["desiredStatus"], t["stoppedReason"]) for t in gone} == {
        ("STOPPED", "STOPPED", "Essential container in task exited")
    }
    assert sorted(ecs.list_tasks(cluster=CLUSTER, serviceName="web-b", desiredStatus="STOPPED")["taskArns"]) == sorted(
        before
    )

    ecs.update_service(cluster=CLUSTER, service="web-b", desiredCount=3)  # scaling out does not cure the fault
    assert observed(ecs_target, "web-b")["running"] == 0

    assert ecs_handle.running_cap(CLUSTER, "web-b") == 0 and ecs_handle.held() == [(CLUSTER, "web-b")]
    assert ecs_handle.restore_running_count(CLUSTER, "web-b") is True

    after = observed(ecs_target, "web-b")
    assert after | {"arns": None} == {
        "running": 3,
        "pending": 0,
        "deployment_running": 3,
        "listed": 3,
        "statuses": ["RUNNING"],
        "arns": None,
    }
    assert not set(after["arns"]) & set(before)
    assert ecs.describe_clusters(clusters=[CLUSTER])["clusters"][0]["runningTasksCount"] == 3


def test_partial_outage_and_scaling(ecs_target):
    create_service(ecs_target, "web-c", 3)
    ecs_target.extensions.ecs.lower_running_count(CLUSTER, "web-c", 1)
    assert observed(ecs_target, "web-c")["listed"] == 1
    ecs_target.extensions.ecs.restore_running_count(CLUSTER, "web-c")
    ecs_target.client("ecs").update_service(cluster=CLUSTER, service="web-c", desiredCount=1)
    state = observed(ecs_target, "web-c")
    assert (state["running"], state["listed"], state["pending"]) == (1, 1, 0)


def test_a_stopped_service_task_is_replaced(ecs_target):
    create_service(ecs_target, "web-d", 1)
    [task] = observed(ecs_target, "web-d")["arns"]
    ecs_target.client("ecs").stop_task(cluster=CLUSTER, task=task, reason="manual stop")
    state = observed(ecs_target, "web-d")
    assert state["running"] == 1 and state["arns"] != [task]


def test_seeded_services_agree_across_apis(seeded_sit):
    ecs, cfg = seeded_sit.client("ecs"), seeded_sit.env.ecs
    services = ecs.describe_services(cluster=cfg.cluster, services=list(cfg.services))["services"]
    for svc in services:
        arns = ecs.list_tasks(cluster=cfg.cluster, serviceName=svc["serviceName"])["taskArns"]
        assert svc["runningCount"] == len(arns) == cfg.desired_count


def test_moto_alone_starts_no_tasks(make_target):
    target = make_target(seed=False, fidelity=False)
    create_service(target, "web-e", 2)
    ecs = target.client("ecs")
    assert ecs.describe_services(cluster=CLUSTER, services=["web-e"])["services"][0]["runningCount"] == 0
    assert ecs.list_tasks(cluster=CLUSTER)["taskArns"] == []


def test_the_targets_clock_stamps_tasks_events_and_deployments(make_target):
    clock = FixedClock(datetime(2026, 1, 25, 22, 0, tzinfo=timezone.utc))
    target = make_target(seed=False, clock=clock)
    create_service(target, "web-g", 2)
    ecs = target.client("ecs")
    started = observed(target, "web-g")["arns"]
    tasks = ecs.describe_tasks(cluster=CLUSTER, tasks=started)["tasks"]
    assert {t["startedAt"] for t in tasks} == {clock.now()}

    clock.advance(minutes=7)
    stopped = target.extensions.ecs.lower_running_count(CLUSTER, "web-g", 1)
    [gone] = ecs.describe_tasks(cluster=CLUSTER, tasks=stopped)["tasks"]
    svc = ecs.describe_services(cluster=CLUSTER, services=["web-g"])["services"][0]
    assert gone["stoppedAt"] == clock.now() == svc["events"][0]["createdAt"] == svc["deployments"][0]["updatedAt"]


def test_a_hold_belongs_to_the_handle_that_placed_it():
    """One target per account (a second is refused and changes nothing); another handle on the account (a
    peer's view) neither sees nor lifts A's fault, nor does a deployment; only A's handle restores it."""
    from harness.targets.embedded.fidelity.ecs_faults import EcsHandle
    from harness.targets.embedded.target import AccountInUse

    env = isolated(load_inventory("bbws").environment("sit"), fresh_account())
    clock_a = FixedClock(datetime(2026, 1, 25, 22, 0, tzinfo=timezone.utc))
    a = EmbeddedTarget(env, seed=False, clock=clock_a).start()
    other = EcsHandle(env.account, env.region, FixedClock(datetime(2030, 1, 1, tzinfo=timezone.utc)))
    try:
        create_service(a, "web-f", 2)
        clock_a.advance(minutes=5)
        stopped = a.extensions.ecs.lower_running_count(CLUSTER, "web-f", 0)
        with pytest.raises(AccountInUse):
            EmbeddedTarget(env, seed=False, clock=FixedClock(datetime(2030, 1, 1, tzinfo=timezone.utc))).start()

        assert other.running_cap(CLUSTER, "web-f") is None and other.held() == []
        assert other.restore_running_count(CLUSTER, "web-f") is False
        a.client("ecs").update_service(cluster=CLUSTER, service="web-f", desiredCount=2)  # nor does a deployment
        assert observed(a, "web-f")["running"] == 0
        ecs = a.client("ecs")
        assert {t["stoppedAt"] for t in ecs.describe_tasks(cluster=CLUSTER, tasks=stopped)["tasks"]} == {clock_a.now()}

        clock_a.advance(minutes=1)
        assert a.extensions.ecs.restore_running_count(CLUSTER, "web-f") is True

        state = observed(a, "web-f")
        assert (state["running"], state["listed"]) == (2, 2)
        assert {t["startedAt"] for t in ecs.describe_tasks(cluster=CLUSTER, tasks=state["arns"])["tasks"]} == {
            clock_a.now()
        }
    finally:
        other.close()
        a.close()


def test_closing_a_target_lifts_its_holds(make_target):
    target = make_target(seed=False)
    create_service(target, "web-h", 2)
    target.extensions.ecs.lower_running_count(CLUSTER, "web-h", 0)
    ecs = target.client("ecs")
    target.extensions.ecs.close()
    assert target.extensions.ecs.held() == []
    assert ecs.describe_services(cluster=CLUSTER, services=["web-h"])["services"][0]["runningCount"] == 2
