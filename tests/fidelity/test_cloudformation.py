"""CloudFormation stack states on the embedded target (fidelity/cloudformation_states.py): failed updates roll
back or stop in UPDATE_FAILED, RollbackStack acts only where AWS says, every transition is a stack event."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError, WaiterError
from botocore.parsers import ResponseParserError

from harness import aws
from harness.clock import FixedClock
from harness.targets.embedded import EmbeddedTarget
from harness.targets.embedded.fidelity import cloudformation_timing as timing
from harness.targets.embedded.target import reset_account
from tests.fidelity.conftest import start_target

AT = datetime(2026, 2, 2, 9, 30, tzinfo=timezone.utc)


def template(release: str, fails_with: str | None = None, extra: bool = False) -> str:
    topic: dict = {"Type": "AWS::SNS::Topic"}
    if fails_with:
        topic["Metadata"] = {"HarnessRehearsal": {"FailsWith": fails_with}}
    resources = {"Topic": topic}
    if extra:
        resources["Other"] = {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": release}}
    return json.dumps({"Description": f"release {release}", "Resources": resources})


@pytest.fixture(scope="module")
def cfn_target() -> Iterator[EmbeddedTarget]:
    target = start_target("propie", "production", seed=False, clock=FixedClock(AT))
    yield target
    target.close()
    reset_account(target.env.account)


@pytest.fixture
def cfn(cfn_target: EmbeddedTarget):
    return cfn_target.client("cloudformation")


def status(cfn, stack: str) -> str:
    return cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]


def events(cfn, stack: str) -> list[tuple[str, str, str]]:
    """(resource, status, reason), oldest first."""
    return [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason") or "")
        for e in reversed(cfn.describe_stack_events(StackName=stack)["StackEvents"])
    ]


def settled(target: EmbeddedTarget, stack: str) -> str:
    """Wait on the target's clock, as a deployer does, until the stack's operation ends; its status."""
    return target.extensions.cloudformation.wait(stack)


def description(cfn, stack: str) -> str:
    return cfn.get_template(StackName=stack)["TemplateBody"]["Description"]


def test_plain_moto_never_fails_an_update_and_has_no_rollback_stack(make_target) -> None:
    plain = make_target("propie", "production", seed=False, fidelity=False)
    cfn = plain.client("cloudformation")
    cfn.create_stack(StackName="plain", TemplateBody=template("1"))
    cfn.update_stack(StackName="plain", TemplateBody=template("2", fails_with="boom"), DisableRollback=True)
    assert status(cfn, "plain") == "UPDATE_COMPLETE"  # what a rehearsal without the extension would show
    with pytest.raises(
        ResponseParserError, match="500 Internal Server Error"
    ):  # moto: "rollback_stack action has not been implemented"
        cfn.rollback_stack(StackName="plain")
    assert not plain.supports("cloudformation-states")


def test_a_failed_update_rolls_back_automatically(cfn_target, cfn) -> None:
    cfn.create_stack(StackName="auto", TemplateBody=template("1"))
    settled(cfn_target, "auto")
    cfn.update_stack(
        StackName="auto", TemplateBody=template("2", fails_with="Resource handler returned message: invalid schema")
    )
    assert settled(cfn_target, "auto") == "UPDATE_ROLLBACK_COMPLETE"
    assert status(cfn, "auto") == "UPDATE_ROLLBACK_COMPLETE" and description(cfn, "auto") == "release 1"
    assert events(cfn, "auto")[4:] == [
        ("auto", "UPDATE_IN_PROGRESS", "User Initiated"),
        ("Topic", "UPDATE_IN_PROGRESS", ""),
        ("Topic", "UPDATE_FAILED", "Resource handler returned message: invalid schema"),
        ("auto", "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed to update: [Topic]. "),
        ("auto", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", ""),
        ("auto", "UPDATE_ROLLBACK_COMPLETE", ""),
    ]
    # the documented waiter treats it as a failed update
    with pytest.raises(WaiterError):
        aws.wait(cfn, "stack_update_complete", cfn_target.waiter_config, StackName="auto")


def test_disable_rollback_stops_in_update_failed_and_rollback_stack_restores(cfn_target, cfn) -> None:
    cfn.create_stack(StackName="paused", TemplateBody=template("1"), Parameters=[])
    settled(cfn_target, "paused")
    cfn.update_stack(StackName="paused", TemplateBody=template("2", fails_with="boom"), DisableRollback=True)
    assert settled(cfn_target, "paused") == "UPDATE_FAILED"
    assert events(cfn, "paused")[-1] == (
        "paused",
        "UPDATE_FAILED",
        "The following resource(s) failed to update: [Topic]. ",
    )
    assert cfn.rollback_stack(StackName="paused")["StackId"].startswith("arn:aws:cloudformation:")
    assert status(cfn, "paused") == "UPDATE_ROLLBACK_IN_PROGRESS"
    settled(cfn_target, "paused")
    assert status(cfn, "paused") == "UPDATE_ROLLBACK_COMPLETE" and description(cfn, "paused") == "release 1"
    assert [e[1] for e in events(cfn, "paused")[-3:]] == [
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
    ]
    assert events(cfn, "paused")[-3][2] == "User Initiated"


@pytest.mark.parametrize("state", ["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"])
def test_rollback_stack_is_refused_outside_create_failed_and_update_failed(cfn_target, cfn, state: str) -> None:
    name = f"refuse-{state.lower().replace('_', '-')}"
    cfn.create_stack(StackName=name, TemplateBody=template("1"))
    settled(cfn_target, name)
    if state == "UPDATE_COMPLETE":
        cfn.update_stack(StackName=name, TemplateBody=template("2"))
    elif state == "UPDATE_ROLLBACK_COMPLETE":
        cfn.update_stack(StackName=name, TemplateBody=template("2", fails_with="boom"))
    settled(cfn_target, name)
    before = (status(cfn, name), events(cfn, name), description(cfn, name))
    with pytest.raises(ClientError) as exc:
        cfn.rollback_stack(StackName=name)
    stack_id = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackId"]
    assert exc.value.response["Error"]["Code"] == "ValidationError"
    assert exc.value.response["Error"]["Message"] == f"Stack:{stack_id} is in {state} state and can not be rolled back."
    assert (status(cfn, name), events(cfn, name), description(cfn, name)) == before  # a refusal changes nothing
    with pytest.raises(ClientError) as exc:
        cfn.rollback_stack(StackName="no-such-stack")
    assert exc.value.response["Error"]["Code"] == "ValidationError"


def test_failed_creates_roll_back_stop_or_delete(cfn_target, cfn) -> None:
    cfn.create_stack(StackName="c-rollback", TemplateBody=template("1", fails_with="boom"))
    assert settled(cfn_target, "c-rollback") == "ROLLBACK_COMPLETE"
    assert [e[1] for e in events(cfn, "c-rollback")] == [
        "CREATE_IN_PROGRESS",
        "CREATE_IN_PROGRESS",
        "CREATE_FAILED",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_COMPLETE",
    ]
    cfn.create_stack(StackName="c-paused", TemplateBody=template("1", fails_with="boom"), DisableRollback=True)
    assert settled(cfn_target, "c-paused") == "CREATE_FAILED"
    assert cfn.describe_stacks(StackName="c-paused")["Stacks"][0]["DisableRollback"] is True
    cfn.rollback_stack(StackName="c-paused")
    assert settled(cfn_target, "c-paused") == "ROLLBACK_COMPLETE"  # no last stable state: what it made is deleted
    cfn.create_stack(StackName="c-delete", TemplateBody=template("1", fails_with="boom"), OnFailure="DELETE")
    assert status(cfn, "c-delete") == "CREATE_IN_PROGRESS"
    cfn_target.clock.advance(seconds=timing.RESOURCE_S)
    assert "c-delete" not in [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]


def test_an_unchanged_marked_resource_is_not_touched(cfn_target, cfn) -> None:
    cfn.create_stack(StackName="steady", TemplateBody=template("1", fails_with="boom"), OnFailure="DO_NOTHING")
    assert settled(cfn_target, "steady") == "CREATE_FAILED"
    cfn.create_stack(StackName="steady2", TemplateBody=template("1"))
    settled(cfn_target, "steady2")
    cfn.update_stack(StackName="steady2", TemplateBody=template("1", extra=True))
    assert settled(cfn_target, "steady2") == "UPDATE_COMPLETE"


def test_update_with_the_previous_template_returns_to_it_and_history_is_kept(cfn_target, cfn) -> None:
    cfn.create_stack(StackName="hist", TemplateBody=template("1"))
    settled(cfn_target, "hist")
    cfn.update_stack(StackName="hist", TemplateBody=template("2"))  # a bad update that completes
    assert settled(cfn_target, "hist") == "UPDATE_COMPLETE"
    with pytest.raises(ClientError):  # 004's first command (seed defect 6)
        cfn.rollback_stack(StackName="hist")
    cfn.update_stack(StackName="hist", TemplateBody=template("1"))
    assert settled(cfn_target, "hist") == "UPDATE_COMPLETE"
    assert description(cfn, "hist") == "release 1"
    history = cfn_target.extensions.cloudformation.template_history("hist")
    assert [json.loads(h["template"])["Description"] for h in history] == ["release 1", "release 2", "release 1"]


def test_events_carry_the_target_clock(cfn_target, cfn) -> None:
    began = cfn_target.clock.now()
    cfn.create_stack(StackName="clocked", TemplateBody=template("1"))
    assert {e["Timestamp"] for e in cfn.describe_stack_events(StackName="clocked")["StackEvents"]} == {began}
    settled(cfn_target, "clocked")
    done = began + timedelta(seconds=timing.RESOURCE_S)
    assert {e["Timestamp"] for e in cfn.describe_stack_events(StackName="clocked")["StackEvents"]} == {began, done}


def _error(call) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Message"]


def test_an_update_that_changes_nothing_is_refused(cfn_target, cfn) -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStack.html: ValidationError
    "No updates are to be performed." for the identical template (also with UsePreviousTemplate) and no parameter
    change; a real change still updates (moto alone accepted the identical template without Parameters)."""
    cfn.create_stack(StackName="same", TemplateBody=template("1"))
    settled(cfn_target, "same")
    for call in (
        lambda: cfn.update_stack(StackName="same", TemplateBody=template("1")),
        lambda: cfn.update_stack(StackName="same", UsePreviousTemplate=True),
    ):
        assert _error(call) == ("ValidationError", 400, "No updates are to be performed.")
    assert status(cfn, "same") == "CREATE_COMPLETE" and description(cfn, "same") == "release 1"
    cfn.update_stack(StackName="same", TemplateBody=template("2"))
    assert settled(cfn_target, "same") == "UPDATE_COMPLETE"


def test_continue_update_rollback_answers_a_validation_error_not_a_500(cfn_target, cfn) -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ContinueUpdateRollback.html: only a
    stack in UPDATE_ROLLBACK_FAILED continues; any other is a ValidationError (moto: HTTP 500, no such action);
    an unknown stack is ValidationError "does not exist"."""
    cfn.create_stack(StackName="cont", TemplateBody=template("1"))
    settled(cfn_target, "cont")
    code, http, message = _error(lambda: cfn.continue_update_rollback(StackName="cont"))
    assert (code, http) == ("ValidationError", 400) and "CREATE_COMPLETE" in message
    code, http, message = _error(lambda: cfn.continue_update_rollback(StackName="no-such-stack"))
    assert (code, http) == ("ValidationError", 400) and "does not exist" in message


def _walk(cfn_target, cfn, stack: str, steps: list[float]) -> list[str]:
    """The stack's status now and after each advance of the target's clock (seconds)."""
    seen = [status(cfn, stack)]
    for seconds in steps:
        cfn_target.clock.advance(seconds=seconds)
        seen.append(status(cfn, stack))
    return seen


def test_an_update_takes_time_on_the_target_clock_and_refuses_another_meanwhile(cfn_target, cfn) -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStack.html (the update is
    asynchronous: "You can check the status of the stack through the DescribeStacks action"),
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-monitor-stack.html
    (UPDATE_IN_PROGRESS, each changed resource's events, UPDATE_COMPLETE_CLEANUP_IN_PROGRESS, UPDATE_COMPLETE).
    moto alone answers UPDATE_COMPLETE on the first DescribeStacks, so code that never waits passes there."""
    cfn.create_stack(StackName="slow", TemplateBody=template("1"))
    assert status(cfn, "slow") == "CREATE_IN_PROGRESS"
    settled(cfn_target, "slow")
    began = cfn_target.clock.now()
    assert "LastUpdatedTime" not in cfn.describe_stacks(StackName="slow")["Stacks"][0]
    cfn.update_stack(StackName="slow", TemplateBody=template("2", extra=True))
    assert cfn.describe_stacks(StackName="slow")["Stacks"][0]["LastUpdatedTime"] == began
    code, http, message = _error(lambda: cfn.update_stack(StackName="slow", TemplateBody=template("3")))
    assert (code, http) == ("ValidationError", 400)
    assert message.endswith("is in UPDATE_IN_PROGRESS state and can not be updated.")
    assert _walk(cfn_target, cfn, "slow", [timing.RESOURCE_S - 1, 1, timing.CLEANUP_S]) == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",  # one resource changes (Other is new; Topic is untouched): RESOURCE_S
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_COMPLETE",
    ]
    stack_events = [
        (e["LogicalResourceId"], e["ResourceStatus"], e["Timestamp"] - began)
        for e in reversed(cfn.describe_stack_events(StackName="slow")["StackEvents"])
    ][-5:]
    phase = timedelta(seconds=timing.RESOURCE_S)
    assert stack_events == [
        ("slow", "UPDATE_IN_PROGRESS", timedelta(0)),
        ("Other", "UPDATE_IN_PROGRESS", timedelta(0)),
        ("Other", "UPDATE_COMPLETE", phase),
        ("slow", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", phase),
        ("slow", "UPDATE_COMPLETE", phase + timedelta(seconds=timing.CLEANUP_S)),
    ]


def test_a_failed_update_passes_through_its_rollback_states(cfn_target, cfn) -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html#cfn-console-view-stack-data-resources-status-codes
    (UPDATE_IN_PROGRESS -> UPDATE_ROLLBACK_IN_PROGRESS -> UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS ->
    UPDATE_ROLLBACK_COMPLETE); moto alone completed every update at once."""
    cfn.create_stack(StackName="sour", TemplateBody=template("1"))
    settled(cfn_target, "sour")
    cfn.update_stack(StackName="sour", TemplateBody=template("2", fails_with="boom"))
    assert _walk(cfn_target, cfn, "sour", [timing.RESOURCE_S, timing.RESOURCE_S, timing.CLEANUP_S]) == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
    ]


def test_seeded_stacks_are_settled_and_the_harness_waits_on_the_target_clock(make_target) -> None:
    """The seeded history happened before the rehearsal (settled at start); the harness's own update waits on
    the target's clock (harness.poll), never on botocore's wall-clock waiters, and sees UPDATE_COMPLETE."""
    from harness.actions import cloudformation as cfn_actions
    from harness.targets.embedded.seed_propie import appsync_parameters, appsync_template

    clock = FixedClock(AT)
    target = make_target("propie", "production", clock=clock)
    stack = target.env.cfn_stacks[0]
    cfn = target.client("cloudformation")
    assert status(cfn, stack) == "UPDATE_COMPLETE" and clock.now() == AT
    cfn.update_stack(
        StackName=stack,
        TemplateBody=appsync_template(stack, "9.0.0"),
        Parameters=appsync_parameters(target.env, "9.0.0"),
    )
    assert status(cfn, stack) == "UPDATE_IN_PROGRESS"
    assert cfn_actions.wait_stack(target, stack, "update-stack") == "UPDATE_COMPLETE"
    waited = (clock.now() - AT).total_seconds()
    assert (
        timing.RESOURCE_S + timing.CLEANUP_S
        <= waited
        <= timing.RESOURCE_S + timing.CLEANUP_S + cfn_actions.STACK_POLL_S
    )


def test_cancel_update_stack_rolls_a_running_update_back_and_is_refused_otherwise(cfn_target, cfn) -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CancelUpdateStack.html: "the stack
    rolls back the update and reverts to the previous stack configuration. You can cancel only stacks that are in
    the UPDATE_IN_PROGRESS state" (ValidationError otherwise; moto: HTTP 500, no such action)."""
    cfn.create_stack(StackName="cancel", TemplateBody=template("1"))
    settled(cfn_target, "cancel")
    code, http, message = _error(lambda: cfn.cancel_update_stack(StackName="cancel"))
    assert (code, http, message) == (
        "ValidationError",
        400,
        "CancelUpdateStack cannot be called from current stack status",
    )
    assert status(cfn, "cancel") == "CREATE_COMPLETE"  # a refusal changes nothing
    cfn.update_stack(StackName="cancel", TemplateBody=template("2", extra=True))
    cfn.cancel_update_stack(StackName="cancel")
    assert status(cfn, "cancel") == "UPDATE_ROLLBACK_IN_PROGRESS"
    assert settled(cfn_target, "cancel") == "UPDATE_ROLLBACK_COMPLETE" and description(cfn, "cancel") == "release 1"
    assert [e[1] for e in events(cfn, "cancel") if e[0] == "cancel"][-4:] == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
    ]
