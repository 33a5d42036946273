"""CloudFormation stack operations take time on the account's clock (moto completes each one at once).

On AWS a stack operation is asynchronous: UpdateStack answers with the StackId while the stack is
UPDATE_IN_PROGRESS, then UPDATE_COMPLETE_CLEANUP_IN_PROGRESS, then UPDATE_COMPLETE (or, when a resource
fails, UPDATE_ROLLBACK_IN_PROGRESS -> UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS ->
UPDATE_ROLLBACK_COMPLETE); CreateStack is CREATE_IN_PROGRESS before CREATE_COMPLETE (User Guide, "Monitor
the progress of a stack update" and "Stack status codes"). A caller that reads the stack right after the
call, or acts on it without waiting, sees an IN_PROGRESS status on AWS, and does here too.

The model: each operation is a list of :class:`Step` s on the account's clock. Its first step happens with
the call; the others are applied when a later request of the account arrives at or after their time
(``call_action``: every CloudFormation request settles the account's stacks first), so DescribeStacks and
DescribeStackEvents show the states and events as they would be at that moment. The IN_PROGRESS phase of
an operation lasts ``RESOURCE_S`` per resource it creates, changes or rolls back (at least one), a cleanup
phase ``CLEANUP_S``. Both are *assumed*: AWS publishes no durations (they depend on the resource types; the
User Guide's example update goes from UPDATE_IN_PROGRESS to UPDATE_COMPLETE within the same minute).

While an operation runs the stack refuses another update (ValidationError ``Stack:<id> is in <STATUS> state
and can not be updated.``). A seeded history is placed before the rehearsal began: inside
``CloudFormationHandle.history()`` operations complete at once (the API cannot backdate).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from moto.cloudformation.models import CloudFormationBackend, Event, Stack
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import BaseResponse

from harness.targets.embedded.fidelity import registry
from harness.targets.embedded.fidelity.registry import AccountContext

RESOURCE_S = 30.0  # per resource an operation creates, changes or rolls back (assumed: module docstring)
CLEANUP_S = 5.0  # the *_CLEANUP_IN_PROGRESS phase (assumed)
PENDING_ATTR = "_harness_pending"  # on a moto Stack: the steps of its running operation not yet applied
BUSY_REFUSED = "Stack:{stack_id} is in {status} state and can not be updated."

_history_lock = threading.Lock()
_history: set[str] = set()  # accounts whose stack operations complete at once (seeding history)


@dataclass
class Step:
    """One transition of a stack operation at ``at`` (naive UTC, as moto keeps times): a stack status with its
    event, or a resource's event (``resource``: logical id and type); ``then`` runs when it is applied."""

    at: datetime
    status: str | None  # None: no event, only ``then``
    reason: str | None = None
    resource: tuple[str, str] | None = None
    then: Callable[[], None] | None = None


def now(ctx: AccountContext) -> datetime:
    """The account clock's "now" as moto keeps times (naive UTC)."""
    return ctx.clock.now().astimezone(timezone.utc).replace(tzinfo=None)


def phase(ctx: AccountContext, resources: int) -> timedelta:
    """How long an operation's IN_PROGRESS phase lasts for ``resources`` resources (nothing while seeding)."""
    if ctx.account in _history:
        return timedelta(0)
    return timedelta(seconds=RESOURCE_S * max(resources, 1))


def cleanup(ctx: AccountContext) -> timedelta:
    """How long an operation's cleanup phase lasts (nothing while seeding)."""
    return timedelta(0) if ctx.account in _history else timedelta(seconds=CLEANUP_S)


@contextmanager
def history(account: str) -> Iterator[None]:
    """Stack operations of ``account`` complete at once in this block (a seeded history, before the rehearsal)."""
    with _history_lock:
        _history.add(account)
    try:
        yield
    finally:
        with _history_lock:
            _history.discard(account)


def busy(stack: Stack) -> bool:
    """True while an operation of ``stack`` has steps still to come."""
    return bool(stack.__dict__.get(PENDING_ATTR))


def refuse_if_busy(stack: Stack) -> None:
    """AWS refuses to update a stack while one of its operations runs."""
    from moto.cloudformation.exceptions import ValidationError

    if busy(stack) or str(stack.status).endswith("_IN_PROGRESS"):
        raise ValidationError(stack.stack_id, message=BUSY_REFUSED.format(stack_id=stack.stack_id, status=stack.status))


def _apply(stack: Stack, step: Step) -> None:
    if step.resource is not None:
        logical, resource_type = step.resource
        event = Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical,
            physical_resource_id="",
            resource_type=resource_type,
            resource_status=step.status or "",
            resource_status_reason=step.reason,
            resource_properties=None,
        )
        event.timestamp = step.at
        stack.events.append(event)
    elif step.status is not None:
        stack._add_stack_event(step.status, resource_status_reason=step.reason)
        stack.events[-1].timestamp = step.at
        stack.status = step.status
    if step.then is not None:
        step.then()


def settle(stack: Stack, at: datetime) -> None:
    """Apply the steps of ``stack``'s operation whose time has come (``at``: naive UTC)."""
    pending: list[Step] = stack.__dict__.get(PENDING_ATTR) or []
    while pending and pending[0].at <= at:
        _apply(stack, pending.pop(0))


def run(stack: Stack, ctx: AccountContext, steps: list[Step]) -> None:
    """Start an operation: its steps in time order, those due now applied at once (the first, at least)."""
    pending: list[Step] = stack.__dict__.setdefault(PENDING_ATTR, [])
    pending.extend(sorted(steps, key=lambda s: s.at))
    settle(stack, now(ctx))


def settle_all(backend: CloudFormationBackend, at: datetime) -> None:
    """Bring every stack of the backend to ``at``."""
    for stack in list(backend.stacks.values()):
        settle(stack, at)


def call_action(self: CloudFormationResponse) -> Any:
    """Every CloudFormation request of a served account first brings its stacks to the account's clock."""
    ctx = registry.context(self.current_account)
    if ctx is not None:
        settle_all(self.cloudformation_backend, now(ctx))
    return BaseResponse.call_action(self)
