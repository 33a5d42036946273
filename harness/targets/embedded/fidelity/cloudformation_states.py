"""CloudFormation stack states after failed operations, and RollbackStack (moto's updates never fail and
it has no RollbackStack: every update ends UPDATE_COMPLETE).

With the extension, for a served account:

- a resource whose ``Metadata`` carries ``{"HarnessRehearsal": {"FailsWith": "<reason>"}}`` fails when an
  operation creates or changes it (an unchanged resource is not touched, as in CloudFormation). That is
  how a rehearsal stages "a bad update that fails"; "a bad update that completes" is any other update.
- a failed update rolls back automatically (UPDATE_ROLLBACK_IN_PROGRESS ->
  UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS -> UPDATE_ROLLBACK_COMPLETE, the stack on its previous
  template and parameters), unless UpdateStack says ``DisableRollback``: then it stops in UPDATE_FAILED
  (CloudFormation User Guide, "Choose how to handle failures when provisioning resources").
  A failed create rolls back to ROLLBACK_COMPLETE, stops in CREATE_FAILED with ``DisableRollback`` or
  ``OnFailure=DO_NOTHING``, or is deleted with ``OnFailure=DELETE``.
- RollbackStack "rolls back the specified stack to the last known stable state from CREATE_FAILED or
  UPDATE_FAILED stack statuses" and deletes what a failed create made (API reference, RollbackStack):
  UPDATE_FAILED -> UPDATE_ROLLBACK_COMPLETE on the last stable template and parameters, CREATE_FAILED
  -> ROLLBACK_COMPLETE. Any other status is a ValidationError
  ``Stack:<stack id> is in <STATUS> state and can not be rolled back.`` (the shape of AWS's refusal to
  update a ROLLBACK_COMPLETE stack; the exact wording for RollbackStack is not documented).
- each operation takes time on the account's clock (``cloudformation_timing``): UPDATE_IN_PROGRESS ->
  UPDATE_COMPLETE_CLEANUP_IN_PROGRESS -> UPDATE_COMPLETE, a failure's rollback phases, CREATE_IN_PROGRESS,
  each a stack event at its time; another update meanwhile is refused.
- every stack event is stamped with the account's clock, and each resource failure is an event of its
  own with the reason, so DescribeStackEvents records every transition.
- the emulator keeps the templates each stack was deployed with (``template_history``): CloudFormation
  keeps no such history, so only a rehearsal can offer it (the 004 runbook keeps backup files instead).
"""

from __future__ import annotations

import json
from datetime import timezone
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import CloudFormationBackend, Stack
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult

from harness.targets.embedded.fidelity import cloudformation_timing as timing
from harness.targets.embedded.fidelity import registry
from harness.targets.embedded.fidelity.cloudformation_timing import Step
from harness.targets.embedded.fidelity.registry import AccountContext

MARKER, FAILS_WITH = "HarnessRehearsal", "FailsWith"
HISTORY_ATTR = "_harness_templates"  # on a moto Stack: [{"template", "parameters", "status", "at"}]
BEFORE_ATTR = "_harness_before"  # on a moto Stack: (template, parameters) before its latest update (CancelUpdateStack)
STABLE_ATTR = "_harness_stable"  # on a moto Stack: (template, parameters) before a failed update that did not roll back
ROLLBACK_REFUSED = "Stack:{stack_id} is in {status} state and can not be rolled back."
# CloudFormation API reference, ContinueUpdateRollback: only a stack in UPDATE_ROLLBACK_FAILED can continue.
# CloudFormation's answer to CancelUpdateStack on a stack that is not UPDATE_IN_PROGRESS.
CANCEL_REFUSED = "CancelUpdateStack cannot be called from current stack status"
CONTINUE_REFUSED = "Stack:{stack_id} is in {status} state and can not continue update rollback."
STACK_TYPE = "AWS::CloudFormation::Stack"
WAIT_POLL_S = 30.0  # boto3's stack_update_complete / stack_rollback_complete waiters: every 30 s
WAIT_TIMEOUT_S = 60 * 60.0


def _naive(ctx: AccountContext) -> Any:
    """The account clock's "now" as moto keeps times (naive UTC)."""
    return ctx.clock.now().astimezone(timezone.utc).replace(tzinfo=None)


def parse(template: Any) -> dict[str, Any]:
    """A template body (JSON or YAML text, or a parsed dict) as a dict."""
    return template if isinstance(template, dict) else Stack.parse_template(template)


def failing_resources(old: Any, new: Any) -> dict[str, str]:
    """Resources of ``new`` marked to fail that the operation creates or changes: logical id -> reason."""
    before = parse(old).get("Resources", {}) if old else {}
    out: dict[str, str] = {}
    for logical, body in (parse(new).get("Resources") or {}).items():
        reason = ((body or {}).get("Metadata") or {}).get(MARKER, {}).get(FAILS_WITH)
        if reason and before.get(logical) != body:
            out[logical] = str(reason)
    return out


def record(stack: Stack, ctx: AccountContext) -> None:
    """Remember the template and parameters the stack now runs (the rehearsal's template history)."""
    history = stack.__dict__.setdefault(HISTORY_ATTR, [])
    entry = {
        "template": stack.template,
        "parameters": dict(stack.parameters),
        "status": stack.status,
        "at": ctx.clock.now(),
    }
    if not history or (history[-1]["template"], history[-1]["parameters"]) != (entry["template"], entry["parameters"]):
        history.append(entry)


def template_history(stack: Stack) -> list[dict[str, Any]]:
    """Every template and parameter set the stack ran, oldest first (emulator record)."""
    return list(stack.__dict__.get(HISTORY_ATTR, []))


def _types(template: Any, logical_ids: Any) -> dict[str, str]:
    resources = parse(template).get("Resources") or {}
    return {lid: str((resources.get(lid) or {}).get("Type", "")) for lid in logical_ids}


def changed_resources(old: Any, new: Any) -> dict[str, str]:
    """Resources of ``new`` that an update from ``old`` creates or changes: logical id -> type."""
    before = parse(old).get("Resources", {}) if old else {}
    after = parse(new).get("Resources") or {}
    return _types(new, [lid for lid, body in after.items() if before.get(lid) != body])


def _resource_steps(at: Any, done: Any, operation: str, resources: dict[str, str], ending: str) -> list[Step]:
    """Each resource's <operation>_IN_PROGRESS at ``at`` and its ``ending`` event at ``done``."""
    started = [Step(at, f"{operation}_IN_PROGRESS", resource=(lid, t)) for lid, t in resources.items()]
    return started + [Step(done, ending, resource=(lid, t)) for lid, t in resources.items()]


def _failed_steps(at: Any, done: Any, template: Any, failing: dict[str, str], operation: str) -> tuple[list[Step], str]:
    """Resource IN_PROGRESS at ``at`` and FAILED (with its reason) at ``done``; the stack-level reason."""
    types = _types(template, failing)
    steps = [Step(at, f"{operation}_IN_PROGRESS", resource=(lid, types[lid])) for lid in failing]
    steps += [Step(done, f"{operation}_FAILED", reason, resource=(lid, types[lid])) for lid, reason in failing.items()]
    verb = "create" if operation == "CREATE" else "update"
    return steps, f"The following resource(s) failed to {verb}: [{', '.join(failing)}]. "


def rolling_back(ctx: AccountContext, at: Any, resources: int, reason: str | None) -> list[Step]:
    """An update's rollback from ``at``: UPDATE_ROLLBACK_IN_PROGRESS -> ..._CLEANUP_IN_PROGRESS -> ..._COMPLETE."""
    cleanup_at = at + timing.phase(ctx, resources)
    return [
        Step(at, "UPDATE_ROLLBACK_IN_PROGRESS", reason),
        Step(cleanup_at, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"),
        Step(cleanup_at + timing.cleanup(ctx), "UPDATE_ROLLBACK_COMPLETE"),
    ]


def _updating(stack: Stack, ctx: AccountContext, changed: dict[str, str]) -> None:
    """moto updated at once: its UPDATE_COMPLETE event goes, and the update runs on the account's clock."""
    if stack.events and stack.events[-1].resource_status == "UPDATE_COMPLETE":
        stack.events.pop()
    stack.status = "UPDATE_IN_PROGRESS"
    at = timing.now(ctx)
    stack.__dict__["last_updated_time"] = at  # DescribeStacks' LastUpdatedTime (moto never sets one)
    done = at + timing.phase(ctx, len(changed))
    steps = _resource_steps(at, done, "UPDATE", changed, "UPDATE_COMPLETE")
    steps += [Step(done, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"), Step(done + timing.cleanup(ctx), "UPDATE_COMPLETE")]
    timing.run(stack, ctx, steps)


def _failing_update(stack: Stack, body: Any, failing: dict[str, str], disable: bool, ctx: AccountContext) -> None:
    """A marked resource fails after the update's phase; the stack rolls back, or stops in UPDATE_FAILED."""
    at = timing.now(ctx)
    stack.__dict__["last_updated_time"] = at
    done = at + timing.phase(ctx, len(failing))
    resource_steps, reason = _failed_steps(at, done, body, failing, "UPDATE")
    steps = [Step(at, "UPDATE_IN_PROGRESS", "User Initiated"), *resource_steps]
    if disable:
        stack.__dict__.setdefault(STABLE_ATTR, (stack.template, dict(stack.parameters)))
        steps.append(Step(done, "UPDATE_FAILED", reason))
    else:  # the resources never changed here, so rolling back leaves the previous template and parameters
        steps += rolling_back(ctx, done, len(failing), reason)
    timing.run(stack, ctx, steps)


def _update_stack(original: Any) -> Any:
    def update_stack(self: CloudFormationResponse) -> Any:
        ctx = registry.context(self.current_account)
        if ctx is None:
            return original(self)
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        timing.refuse_if_busy(stack)
        before = stack.template
        stack.__dict__[BEFORE_ATTR] = (stack.template, dict(stack.parameters))
        if self._get_bool_param("UsePreviousTemplate", False):
            body = stack.template
        elif self._get_param("TemplateBody"):
            body = self._get_param("TemplateBody")
        else:  # TemplateURL: moto reads it; no failure marks checked
            result = original(self)
            _updating(stack, ctx, changed_resources(before, stack.template))
            return _recorded(result, stack, ctx)
        no_change(self, stack, body)
        failing = failing_resources(stack.template, body)
        if not failing:
            result = original(self)
            _updating(stack, ctx, changed_resources(before, stack.template))
            return _recorded(result, stack, ctx)
        self._validate_status(stack)
        _failing_update(stack, body, failing, self._get_bool_param("DisableRollback", False), ctx)
        return ActionResult({"StackId": stack.stack_id})

    update_stack.__doc__ = (
        "UpdateStack on the account's clock; marked resources fail, and the update rolls back unless DisableRollback "
        "(fidelity extension)."
    )
    return update_stack


def no_change(response: CloudFormationResponse, stack: Stack, body: Any) -> None:
    """UpdateStack with the stack's own template and parameters: ValidationError "No updates are to be
    performed." (moto checks only when Parameters are given; 004's "update with the previous template" hits it
    when that template is already live)."""
    incoming = response._get_param("Parameters", []) or []
    params = response._get_param_values(incoming, stack.stack_parameters) if incoming else stack.stack_parameters
    if parse(body) == parse(stack.template) and params == stack.stack_parameters:
        raise ValidationError(stack.name, message="No updates are to be performed.")


def continue_update_rollback(self: CloudFormationResponse) -> Any:
    """ContinueUpdateRollback (moto has none: HTTP 500): from UPDATE_ROLLBACK_FAILED to UPDATE_ROLLBACK_COMPLETE,
    any other status a ValidationError naming it."""
    ctx = registry.context(self.current_account)
    if ctx is None:  # plain moto: the action it never implemented
        raise NotImplementedError("The continue_update_rollback action has not been implemented")
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    if stack.status != "UPDATE_ROLLBACK_FAILED":
        raise ValidationError(
            stack.stack_id, message=CONTINUE_REFUSED.format(stack_id=stack.stack_id, status=stack.status)
        )
    resources = len(parse(stack.template).get("Resources") or {})
    timing.run(stack, ctx, rolling_back(ctx, timing.now(ctx), resources, "User Initiated"))
    return ActionResult({})


def cancel_update_stack(self: CloudFormationResponse) -> Any:
    """CancelUpdateStack (moto has none: HTTP 500): "You can cancel only stacks that are in the UPDATE_IN_PROGRESS
    state" (API reference); the stack rolls back to the template and parameters the update replaced."""
    ctx = registry.context(self.current_account)
    if ctx is None:  # plain moto: the action it never implemented
        raise NotImplementedError("The cancel_update_stack action has not been implemented")
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    if stack.status != "UPDATE_IN_PROGRESS":
        raise ValidationError(stack.stack_id, message=CANCEL_REFUSED)
    stack.__dict__[timing.PENDING_ATTR] = []  # the rest of the update never happens
    stack.__dict__.pop(STABLE_ATTR, None)
    template, parameters = stack.__dict__.pop(BEFORE_ATTR, (stack.template, dict(stack.parameters)))
    stack.template, stack.parameters = template, parameters
    resources = len(parse(template).get("Resources") or {})
    timing.run(stack, ctx, rolling_back(ctx, timing.now(ctx), resources, "User Initiated"))
    record(stack, ctx)
    return ActionResult({})


def _recorded(result: Any, stack: Stack, ctx: AccountContext) -> Any:
    stack.__dict__.pop(STABLE_ATTR, None)
    record(stack, ctx)
    return result


def _create_stack(original: Any) -> Any:
    def create_stack(self: CloudFormationResponse) -> Any:
        ctx = registry.context(self.current_account)
        body = self._get_param("TemplateBody")
        result = original(self)
        if ctx is None:
            return result
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        disable = self._get_bool_param("DisableRollback", False)
        stack.disable_rollback = disable
        # moto created at once: its CREATE_COMPLETE event goes, and the create runs on the account's clock
        stack.events = [e for e in stack.events if e.resource_status != "CREATE_COMPLETE"]
        stack.status = "CREATE_IN_PROGRESS"
        failing = failing_resources(None, body) if body else {}
        resources = changed_resources(None, stack.template)
        at = timing.now(ctx)
        done = at + timing.phase(ctx, len(failing or resources))
        if not failing:
            record(stack, ctx)
            steps = _resource_steps(at, done, "CREATE", resources, "CREATE_COMPLETE")
            timing.run(stack, ctx, [*steps, Step(done, "CREATE_COMPLETE")])
            return result
        steps, reason = _failed_steps(at, done, body, failing, "CREATE")
        on_failure = self._get_param("OnFailure") or ("DO_NOTHING" if disable else "ROLLBACK")
        if on_failure == "DO_NOTHING":
            steps.append(Step(done, "CREATE_FAILED", reason))
        elif on_failure == "DELETE":
            backend = self.cloudformation_backend
            steps.append(Step(done, None, then=lambda: backend.delete_stack(stack.stack_id)))
        else:
            steps += _rollback_create(stack, ctx, done, reason)
        timing.run(stack, ctx, steps)
        return result

    create_stack.__doc__ = (
        "CreateStack on the account's clock; marked resources fail, then ROLLBACK (default), DO_NOTHING or DELETE "
        "(fidelity extension)."
    )
    return create_stack


def _rollback_create(stack: Stack, ctx: AccountContext, at: Any, reason: str | None) -> list[Step]:
    """Delete what a failed create made: ROLLBACK_IN_PROGRESS -> ROLLBACK_COMPLETE."""
    resources = len(parse(stack.template).get("Resources") or {})
    done = at + timing.phase(ctx, resources)
    return [Step(at, "ROLLBACK_IN_PROGRESS", reason), Step(done, "ROLLBACK_COMPLETE", then=stack.resource_map.delete)]


def rollback_stack(self: CloudFormationResponse) -> Any:
    """RollbackStack: from UPDATE_FAILED to the last stable state, from CREATE_FAILED to ROLLBACK_COMPLETE."""
    ctx = registry.context(self.current_account)
    if ctx is None:  # plain moto: the action it never implemented
        raise NotImplementedError("The rollback_stack action has not been implemented")
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    if stack.status == "UPDATE_FAILED":
        template, parameters = stack.__dict__.pop(STABLE_ATTR, (stack.template, dict(stack.parameters)))
        stack.template, stack.parameters = template, parameters
        resources = len(parse(template).get("Resources") or {})
        timing.run(stack, ctx, rolling_back(ctx, timing.now(ctx), resources, "User Initiated"))
        record(stack, ctx)
    elif stack.status == "CREATE_FAILED":
        timing.run(stack, ctx, _rollback_create(stack, ctx, timing.now(ctx), "User Initiated"))
    else:
        raise ValidationError(
            stack.stack_id, message=ROLLBACK_REFUSED.format(stack_id=stack.stack_id, status=stack.status)
        )
    return ActionResult({"StackId": stack.stack_id})


def _add_stack_event(original: Any) -> Any:
    def add_stack_event(
        self: Stack,
        resource_status: str,
        resource_status_reason: str | None = None,
        resource_properties: str | None = None,
    ) -> None:
        original(self, resource_status, resource_status_reason, resource_properties)
        ctx = registry.context(self.account_id)
        if ctx is not None:
            self.events[-1].timestamp = _naive(ctx)

    add_stack_event.__doc__ = "A stack event stamped with the account's clock (fidelity extension)."
    return add_stack_event


PATCHES = (
    (CloudFormationResponse, "update_stack", _update_stack),
    (CloudFormationResponse, "create_stack", _create_stack),
    (Stack, "_add_stack_event", _add_stack_event),
)
# Operations moto does not define at all, added to its response class (acting only for served accounts).
ADDED = (
    (CloudFormationResponse, "rollback_stack", rollback_stack),
    (CloudFormationResponse, "continue_update_rollback", continue_update_rollback),
    (CloudFormationResponse, "cancel_update_stack", cancel_update_stack),
    # inherited from BaseResponse: every request of a served account settles its stacks on the clock first
    (CloudFormationResponse, "call_action", timing.call_action),
)


def install() -> None:
    """Patch moto's CloudFormation once per process, then add RollbackStack."""
    registry.patch_all(PATCHES)
    for owner, name, fn in ADDED:
        if name in owner.__dict__ and owner.__dict__[name] is not fn:
            raise AttributeError(
                f"{owner.__name__} now defines '{name}' itself: re-check cloudformation_states before widening the "
                "moto pin"
            )
        setattr(owner, name, fn)


class CloudFormationHandle:
    """One target's view of its stacks as only the emulator knows them (the template history), and the
    rehearsal's faults: a bad update of the inventory's AppSync stand-in that fails or completes."""

    def __init__(self, ctx: AccountContext, env: Any = None, client: Any = None) -> None:
        self.ctx, self.env, self.client = ctx, env, client

    def deploy(self, stack: str, release: str, *, fails_with: str | None = None, disable_rollback: bool = False) -> str:
        """UpdateStack with the AppSync stand-in template of ``release`` (seed_propie); ``fails_with`` makes its
        resource fail, ``disable_rollback`` leaves the stack UPDATE_FAILED. Returns the stack status after it."""
        from harness.targets.embedded.seed_propie import appsync_parameters, appsync_template

        cfn = self.client("cloudformation")
        cfn.update_stack(
            StackName=stack,
            TemplateBody=appsync_template(stack, release, fails_with=fails_with),
            Parameters=appsync_parameters(self.env, release),
            DisableRollback=disable_rollback,
        )
        return self.wait(stack)

    def wait(self, stack: str) -> str:
        """Poll DescribeStacks on the target's clock, as a deployer waits, until the stack's operation ends; its
        status (boto3's stack waiters poll every 30 s: free on a rehearsal clock)."""
        from harness.poll import Waiting, poll

        cfn = self.client("cloudformation")
        waiting: Waiting[str] = Waiting(
            f"stack {stack}",
            state=lambda s: s,
            done=lambda s: not s.endswith("_IN_PROGRESS"),
            timeout_s=WAIT_TIMEOUT_S,
            interval_s=WAIT_POLL_S,
        )
        return poll(
            self.ctx.clock, lambda: str(cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]), waiting
        )

    def history(self) -> Any:
        """A block in which this account's stack operations complete at once (seeding the stacks' history, which
        happened before the rehearsal began: the API cannot backdate)."""
        return timing.history(self.ctx.account)

    def _backend(self) -> CloudFormationBackend:
        from moto.cloudformation.models import cloudformation_backends

        return cloudformation_backends[self.ctx.account][self.ctx.region]

    def template_history(self, stack_name: str) -> list[dict[str, Any]]:
        """Every (template, parameters) the stack ran, oldest first; templates as text."""
        stack = self._backend().get_stack(stack_name)
        return [
            {**h, "template": h["template"] if isinstance(h["template"], str) else json.dumps(h["template"])}
            for h in template_history(stack)
        ]
