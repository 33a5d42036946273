"""CloudFormation row (004 Rollback Infrastructure Changes): the stack is stable, and stable on what was
meant to be deployed.

``cloudformation-stack-stable`` passes when the stack's status is a stable ``*_COMPLETE`` one that is
not the trace of an update that went wrong:

- CREATE_COMPLETE, UPDATE_COMPLETE, IMPORT_COMPLETE;
- UPDATE_ROLLBACK_COMPLETE / IMPORT_ROLLBACK_COMPLETE when an operator rolled it back (RollbackStack:
  the latest ``*_ROLLBACK_IN_PROGRESS`` stack event says "User Initiated");

and, when the expected template is known (``--expect-version <stack>=<release>``, or the template a
rollback action deployed), the deployed template's Description names it. Otherwise:

- WARN: UPDATE_ROLLBACK_COMPLETE after CloudFormation rolled a failed update back by itself (the stack
  is intact on its previous template, but the intended change did not land: the event's reason is
  evidence); any ``*_IN_PROGRESS`` (not settled yet);
- FAIL: the stack is missing; any ``*_FAILED`` status (UPDATE_FAILED: a failed update that did not roll
  back, waiting for RollbackStack); ROLLBACK_COMPLETE (a failed create: the stack holds no resources and
  cannot be updated); DELETE_COMPLETE; REVIEW_IN_PROGRESS; or a template other than the expected one
  (a bad update that completed: UPDATE_COMPLETE is stable, and wrong).
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from harness import aws
from harness.checks.context import CheckContext, Row
from harness.checks.result import CheckResult, Verdict

STABLE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
ROLLED_BACK = ("UPDATE_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_COMPLETE")
USER_INITIATED = "User Initiated"


class _TolerantLoader(yaml.SafeLoader):  # type: ignore[misc]  # (PyYAML ships no types: SafeLoader is Any)
    """YAML with CloudFormation's short-form tags (!Ref, !Sub ...) read as plain values."""


_TolerantLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def template_description(body: Any) -> str:
    """The template's Description (GetTemplate returns JSON templates parsed, YAML ones as text)."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            body = yaml.load(body, Loader=_TolerantLoader)
    return str((body or {}).get("Description") or "") if isinstance(body, dict) else ""


def names_release(description: str, release: str) -> bool:
    """True when ``release`` appears in the Description as a whole token (1.0.1 is not 1.0.12)."""
    return re.search(rf"(?<![\w.]){re.escape(release)}(?![\w.])", description) is not None


def last_rollback_event(events: list[dict[str, Any]], stack: str) -> dict[str, Any] | None:
    """The newest ``*ROLLBACK_IN_PROGRESS`` event of the stack itself (DescribeStackEvents lists newest first)."""
    return next(
        (
            e
            for e in events
            if e.get("LogicalResourceId") == stack and str(e.get("ResourceStatus", "")).endswith("ROLLBACK_IN_PROGRESS")
        ),
        None,
    )


def check_stack_stable(ctx: CheckContext, row: Row) -> CheckResult:
    """The stack is in a stable state that an operator meant, on the expected template when known."""
    stack = row.resource
    want = ctx.expect_versions.get(stack)
    expected = "stable *_COMPLETE state, not an automatic rollback" + (f", template release {want}" if want else "")
    cfn = ctx.client("cloudformation")
    found = aws.get_or_none(cfn.describe_stacks, "ValidationError", StackName=stack)
    if not found or not found.get("Stacks"):
        return row.result(expected, "stack does not exist", Verdict.FAIL)
    status = found["Stacks"][0]["StackStatus"]
    evidence: dict[str, Any] = {"status": status, "status_reason": found["Stacks"][0].get("StackStatusReason")}
    if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        return row.result(expected, f"{status}: not settled yet", Verdict.WARN, **evidence)
    if status in ROLLED_BACK:
        events = list(aws.paginate(cfn, "describe_stack_events", "StackEvents", StackName=stack))
        event = last_rollback_event(events, stack)
        reason = (event or {}).get("ResourceStatusReason") or ""
        evidence["rollback_event"] = {k: str(v) for k, v in (event or {}).items()}
        if reason != USER_INITIATED:
            observed = (
                f"{status}: CloudFormation rolled a failed update back "
                f"({reason.strip() or 'no reason recorded'}); the intended change did not land"
            )
            return row.result(expected, observed, Verdict.WARN, **evidence)
    elif status not in STABLE:
        return row.result(expected, f"{status}: not a stable state", Verdict.FAIL, **evidence)
    description = template_description(cfn.get_template(StackName=stack).get("TemplateBody"))
    evidence["template_description"] = description
    observed = f'{status}, template "{description}"' if description else status
    if want and not names_release(description, want):
        return row.result(expected, f"{observed}: not release {want}", Verdict.FAIL, **evidence)
    return row.result(expected, observed, Verdict.PASS, **evidence)
