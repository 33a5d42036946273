"""ECS services run tasks; running counts can be lowered and restored and read back consistently."""

from __future__ import annotations

import pytest

from harness.targets.embedded import ecs_state

CLUSTER = "fidelity-cluster"


def create_service(target, name: str, desired: int) -> None:
    ecs = target.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    td = ecs.register_task_definition(
        family=name, containerDefinitions=[{"name": "web", "image": "wordpress:latest", "memory": 256, "essential": True}]
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
    assert state | {"arns": None} == {"running": 2, "pending": 0, "deployment_running": 2, "listed": 2, "statuses": ["RUNNING"], "arns": None}
    tasks = ecs_target.client("ecs").describe_tasks(cluster=CLUSTER, tasks=state["arns"])["tasks"]
    assert {t["group"] for t in tasks} == {"service:web-a"} and all(t["startedBy"].startswith("ecs-svc/") for t in tasks)


def test_lower_and_restore_running_count(ecs_target):
    create_service(ecs_target, "web-b", 2)
    acct, region = ecs_target.env.account, ecs_target.env.region
    before = observed(ecs_target, "web-b")["arns"]

    stopped = ecs_state.lower_running_count(acct, region, CLUSTER, "web-b", 0, reason="Essential container in task exited")

    assert sorted(stopped) == sorted(before)
    assert observed(ecs_target, "web-b") | {"arns": None} == {
        "running": 0, "pending": 2, "deployment_running": 0, "listed": 0, "statuses": [], "arns": None,
    }
    ecs = ecs_target.client("ecs")
    gone = ecs.describe_tasks(cluster=CLUSTER, tasks=before)["tasks"]
    assert {(t["lastStatus"], t["desiredStatus"], t["stoppedReason"]) for t in gone} == {("STOPPED", "STOPPED", "Essential container in task exited")}
    assert sorted(ecs.list_tasks(cluster=CLUSTER, serviceName="web-b", desiredStatus="STOPPED")["taskArns"]) == sorted(before)

    ecs.update_service(cluster=CLUSTER, service="web-b", desiredCount=3)  # scaling out does not cure the fault
    assert observed(ecs_target, "web-b")["running"] == 0

    ecs_state.restore_running_count(acct, region, CLUSTER, "web-b")

    after = observed(ecs_target, "web-b")
    assert after | {"arns": None} == {"running": 3, "pending": 0, "deployment_running": 3, "listed": 3, "statuses": ["RUNNING"], "arns": None}
    assert not set(after["arns"]) & set(before)
    assert ecs.describe_clusters(clusters=[CLUSTER])["clusters"][0]["runningTasksCount"] == 3


def test_partial_outage_and_scaling(ecs_target):
    create_service(ecs_target, "web-c", 3)
    ecs_state.lower_running_count(ecs_target.env.account, ecs_target.env.region, CLUSTER, "web-c", 1)
    assert observed(ecs_target, "web-c")["listed"] == 1
    ecs_state.restore_running_count(ecs_target.env.account, ecs_target.env.region, CLUSTER, "web-c")
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
