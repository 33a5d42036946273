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
from moto.cloudformation.models import CloudFormationBackend, Event, Stack
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult

from harness.targets.embedded.fidelity import registry
from harness.targets.embedded.fidelity.registry import AccountContext

MARKER, FAILS_WITH = "HarnessRehearsal", "FailsWith"
HISTORY_ATTR = "_harness_templates"  # on a moto Stack: [{"template", "parameters", "status", "at"}]
STABLE_ATTR = "_harness_stable"  # on a moto Stack: (template, parameters) before a failed update that did not roll back
ROLLBACK_REFUSED = "Stack:{stack_id} is in {status} state and can not be rolled back."
# CloudFormation API reference, ContinueUpdateRollback: only a stack in UPDATE_ROLLBACK_FAILED can continue.
CONTINUE_REFUSED = "Stack:{stack_id} is in {status} state and can not continue update rollback."
STACK_TYPE = "AWS::CloudFormation::Stack"


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


def _resource_event(
    stack: Stack, logical: str, resource_type: str, status: str, reason: str | None, ctx: AccountContext
) -> None:
    event = Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=logical,
        physical_resource_id="",
        resource_type=resource_type,
        resource_status=status,
        resource_status_reason=reason,
        resource_properties=None,
    )
    event.timestamp = _naive(ctx)
    stack.events.append(event)


def _types(template: Any, logical_ids: dict[str, str]) -> dict[str, str]:
    resources = parse(template).get("Resources") or {}
    return {lid: str((resources.get(lid) or {}).get("Type", "")) for lid in logical_ids}


def _fail(stack: Stack, template: Any, failing: dict[str, str], operation: str, ctx: AccountContext) -> str:
    """Resource IN_PROGRESS/FAILED events for each failing resource; returns the stack-level reason."""
    types = _types(template, failing)
    for logical, reason in failing.items():
        _resource_event(stack, logical, types[logical], f"{operation}_IN_PROGRESS", None, ctx)
        _resource_event(stack, logical, types[logical], f"{operation}_FAILED", reason, ctx)
    verb = "create" if operation == "CREATE" else "update"
    return f"The following resource(s) failed to {verb}: [{', '.join(failing)}]. "


def _update_stack(original: Any) -> Any:
    def update_stack(self: CloudFormationResponse) -> Any:
        ctx = registry.context(self.current_account)
        if ctx is None:
            return original(self)
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        if self._get_bool_param("UsePreviousTemplate", False):
            body = stack.template
        elif self._get_param("TemplateBody"):
            body = self._get_param("TemplateBody")
        else:
            return _recorded(original(self), stack, ctx)  # TemplateURL: moto reads it; no failure marks checked
        no_change(self, stack, body)
        failing = failing_resources(stack.template, body)
        if not failing:
            return _recorded(original(self), stack, ctx)
        self._validate_status(stack)
        stack._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
        reason = _fail(stack, body, failing, "UPDATE", ctx)
        if self._get_bool_param("DisableRollback", False):
            stack.__dict__.setdefault(STABLE_ATTR, (stack.template, dict(stack.parameters)))
            stack.status = "UPDATE_FAILED"
            stack._add_stack_event("UPDATE_FAILED", resource_status_reason=reason)
        else:  # the resources never changed here, so rolling back leaves the previous template and parameters
            stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
            stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
            stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
            stack.status = "UPDATE_ROLLBACK_COMPLETE"
        return ActionResult({"StackId": stack.stack_id})

    update_stack.__doc__ = (
        "UpdateStack; marked resources fail, and the update rolls back unless DisableRollback (fidelity extension)."
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
    stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason="User Initiated")
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
    stack.status = "UPDATE_ROLLBACK_COMPLETE"
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
        failing = failing_resources(None, body) if body else {}
        if not failing:
            record(stack, ctx)
            return result
        stack.events = [e for e in stack.events if e.resource_status != "CREATE_COMPLETE"]
        reason = _fail(stack, body, failing, "CREATE", ctx)
        on_failure = self._get_param("OnFailure") or ("DO_NOTHING" if disable else "ROLLBACK")
        if on_failure == "DO_NOTHING":
            stack.status = "CREATE_FAILED"
            stack._add_stack_event("CREATE_FAILED", resource_status_reason=reason)
        elif on_failure == "DELETE":
            self.cloudformation_backend.delete_stack(stack.stack_id)
        else:
            _rollback_create(stack, reason)
        return result

    create_stack.__doc__ = (
        "CreateStack; marked resources fail, then ROLLBACK (default), DO_NOTHING or DELETE (fidelity extension)."
    )
    return create_stack


def _rollback_create(stack: Stack, reason: str | None) -> None:
    """Delete what a failed create made: ROLLBACK_IN_PROGRESS -> ROLLBACK_COMPLETE."""
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
    stack.resource_map.delete()
    stack._add_stack_event("ROLLBACK_COMPLETE")
    stack.status = "ROLLBACK_COMPLETE"


def rollback_stack(self: CloudFormationResponse) -> Any:
    """RollbackStack: from UPDATE_FAILED to the last stable state, from CREATE_FAILED to ROLLBACK_COMPLETE."""
    ctx = registry.context(self.current_account)
    if ctx is None:  # plain moto: the action it never implemented
        raise NotImplementedError("The rollback_stack action has not been implemented")
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    if stack.status == "UPDATE_FAILED":
        stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason="User Initiated")
        template, parameters = stack.__dict__.pop(STABLE_ATTR, (stack.template, dict(stack.parameters)))
        stack.template, stack.parameters = template, parameters
        stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
        record(stack, ctx)
    elif stack.status == "CREATE_FAILED":
        _rollback_create(stack, "User Initiated")
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
        return str(cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"])

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
