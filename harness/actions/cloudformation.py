"""CloudFormation rollback (004 "Rollback Infrastructure Changes"), plan then apply, on the path the stack's
state allows (seed defect 6).

004 runs ``aws cloudformation rollback-stack`` first and ``update-stack`` with the previous template as the
alternative. RollbackStack "rolls back the specified stack to the last known stable state from
CREATE_FAILED or UPDATE_FAILED stack statuses" (API reference): after a bad update that *completed*
(UPDATE_COMPLETE, the usual case) it is refused with a ValidationError, and only the alternative rolls
back. So the plan reads the stack's status and takes:

- ``rollback-stack`` for UPDATE_FAILED (a failed update that did not roll back), waited for as
  ``stack_rollback_complete`` defines it; ``update-stack`` with the previous template and parameters for a
  stable stack (UPDATE_COMPLETE ...), waited for as ``stack_update_complete`` defines it;
- nothing for UPDATE_ROLLBACK_COMPLETE after CloudFormation rolled a failed update back by itself (the
  stack already runs its previous template), unless the caller names a previous template;
- a refusal for what neither can fix (in progress, ROLLBACK_COMPLETE, UPDATE_ROLLBACK_FAILED, a failed
  create: RollbackStack would delete its resources).

CloudFormation keeps no template history, so "previous" comes from, in order: the files the caller
names (004's ``file://backup/appsync-previous.yml`` and its parameters file), the inventory's backup
files (``cloudformation.previous_template``/``previous_parameters``) when they exist, or, on the
embedded rehearsal only, the emulator's record of the templates the stack ran (the newest that differs
from what runs now). Before it updates, the harness keeps its own record of what the stack runs (the
checkpoint: template and parameters, in the plan and, with ``backup_dir``, in files), so its own
update can be rolled back the same way. The report names the path taken and why.

The plan names the stack's resource count now and the previous template's; the wait polls
DescribeStacks on the target's clock (harness.poll, every 30 s as botocore's stack waiters do, whose own
sleeps are on the wall clock and never see a rehearsal's time pass; a progress line per status change and
every 10 s; a timeout fails with the last status seen): stack operations take minutes, IN_PROGRESS first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import yaml
from botocore.exceptions import ClientError

from harness import aws
from harness.actions.audit_record import audit, new_plan
from harness.actions.base import COMPLETE, FAILED, ActionResult, Change, Plan, execute
from harness.actions.guards import Authority, refusal
from harness.poll import PollFailed, PollTimeout, Waiting, poll
from harness.targets.base import TargetLike

RULE = "prod-rollback"
ROLLBACK_STATES = ("UPDATE_FAILED",)  # RollbackStack's own states, less CREATE_FAILED (below)
UPDATABLE = (
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "IMPORT_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
)
STACK_POLL_S = 30.0  # DescribeStacks every 30 s, the boto3 stack waiters' delay (free on a rehearsal clock)
STACK_TIMEOUT_S = 60 * 60.0  # CloudFormation's own default stack operation timeout is far longer; an hour is ample
WAIT_FOR = {  # path -> (goal status, statuses that end it badly), as boto3's stack waiters define them
    "rollback-stack": ("UPDATE_ROLLBACK_COMPLETE", ("UPDATE_ROLLBACK_FAILED", "UPDATE_FAILED")),
    "update-stack": ("UPDATE_COMPLETE", ("UPDATE_FAILED", "UPDATE_ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE")),
}
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    """No progress output."""


REFUSED = {
    "CREATE_FAILED": "a failed create has no previous version: RollbackStack would delete its resources "
    "(ROLLBACK_COMPLETE); delete and recreate it",
    "ROLLBACK_COMPLETE": "a failed create that rolled back holds no resources and cannot be updated; delete and "
    "recreate it",
    "UPDATE_ROLLBACK_FAILED": "the automatic rollback itself failed: continue it (continue-update-rollback) first",
}


class _Tolerant(yaml.SafeLoader):  # type: ignore[misc]  # (PyYAML's SafeLoader is untyped here)
    """YAML with CloudFormation's short-form tags (!Ref, !Sub ...) read as plain values."""


_Tolerant.add_multi_constructor("!", lambda loader, suffix, node: None)


def parsed(body: Any) -> dict[str, Any]:
    """A template (JSON/YAML text, or GetTemplate's parsed JSON) as a dict, for comparing and describing."""
    if isinstance(body, dict):
        return dict(body)
    try:
        doc = json.loads(body)
    except ValueError:
        doc = yaml.load(body, Loader=_Tolerant)
    return doc if isinstance(doc, dict) else {}


def as_text(body: Any) -> str:
    """A template body to send back to CloudFormation (GetTemplate parses JSON ones)."""
    return body if isinstance(body, str) else json.dumps(body, indent=2)


def description(body: Any) -> str:
    """The template's Description ("" when it has none)."""
    return str(parsed(body).get("Description") or "")


def as_parameters(values: Any) -> list[dict[str, str]]:
    """Parameters as the CLI's JSON file has them (a list of ParameterKey/ParameterValue) or from a mapping."""
    if isinstance(values, dict):
        return [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in values.items()]
    return [
        {"ParameterKey": p["ParameterKey"], "ParameterValue": p["ParameterValue"]}
        for p in values or []
        if "ParameterValue" in p
    ]


@dataclass(frozen=True)
class PreviousTemplate:
    """The template and parameters to go back to, and where they came from (for the report)."""

    body: str
    parameters: list[dict[str, str]]
    source: str

    @property
    def description(self) -> str:
        """The template's Description."""
        return description(self.body)

    @property
    def resources(self) -> int:
        """How many resources the template declares."""
        return len(parsed(self.body).get("Resources") or {})


def from_files(template: str | Path, parameters: str | Path | None = None) -> PreviousTemplate:
    """004's backup files: the template, and the parameters JSON (``[{"ParameterKey": ..., "ParameterValue":
    ...}]``)."""
    body = Path(template).read_text(encoding="utf-8")
    params = as_parameters(json.loads(Path(parameters).read_text(encoding="utf-8"))) if parameters else []
    return PreviousTemplate(body, params, f"file://{template}" + (f" + file://{parameters}" if parameters else ""))


def from_rehearsal(
    target: TargetLike, stack: str, current: dict[str, Any], current_params: list[dict[str, str]]
) -> PreviousTemplate | None:
    """On the embedded target: the newest template the stack ran that differs from what it runs now."""
    handle = getattr(getattr(target, "extensions", None), "cloudformation", None)
    if handle is None:
        return None
    now = (current, {p["ParameterKey"]: p["ParameterValue"] for p in current_params})
    for entry in reversed(handle.template_history(stack)):
        if (parsed(entry["template"]), dict(entry["parameters"])) != now:
            return PreviousTemplate(
                entry["template"],
                as_parameters(entry["parameters"]),
                f"the rehearsal's record of the stack's templates (deployed {entry['at']:%Y-%m-%d %H:%M:%S} UTC; AWS "
                "keeps none)",
            )
    return None


def save_backup(
    folder: str | Path, stack: str, body: Any, parameters: list[dict[str, str]], at: datetime
) -> tuple[Path, Path]:
    """The harness's record of what a stack runs before it changes it: a template and a parameters file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{stack}-{at:%Y%m%dT%H%M%SZ}"
    template, params = folder / f"{stem}.template", folder / f"{stem}-parameters.json"
    template.write_text(as_text(body), encoding="utf-8")
    params.write_text(json.dumps(parameters, indent=2), encoding="utf-8")
    return template, params


def _stack(target: TargetLike, stack: str | None) -> str:
    if stack:
        return stack
    if not target.env.cfn_stacks:
        raise LookupError(f"inventory {target.env.inventory} has no [cloudformation] stacks")
    return target.env.cfn_stacks[0]


def _previous(
    target: TargetLike,
    stack: str,
    template_file: str | Path | None,
    parameters_file: str | Path | None,
    current: dict[str, Any],
    params: list[dict[str, str]],
) -> tuple[PreviousTemplate | None, str]:
    """The previous template by the module's order of sources, and what was looked at."""
    if template_file:
        return from_files(template_file, parameters_file), ""
    env = target.env
    looked = []
    if env.cfn_previous_template:
        if Path(env.cfn_previous_template).is_file():
            params_file = (
                env.cfn_previous_parameters
                if env.cfn_previous_parameters and Path(env.cfn_previous_parameters).is_file()
                else None
            )
            return from_files(env.cfn_previous_template, params_file), ""
        looked.append(f"{env.cfn_previous_template} (not found)")
    found = from_rehearsal(target, stack, current, params)
    if found is not None:
        return found, ""
    looked.append("no template record on this target")
    return None, "; ".join(looked)


@dataclass(frozen=True)
class StackRollbackSpec:
    """What a stack-rollback plan read and will do: the status, the checkpoint, the path and the previous template."""

    stack: str
    status: str
    checkpoint_template: str
    checkpoint_parameters: tuple[dict[str, str], ...]
    resources: int  # the stack's resources now
    backup_dir: str | None
    path: str | None  # rollback-stack | update-stack | None (nothing to do)
    previous: PreviousTemplate | None = None


def plan_stack_rollback(
    target: TargetLike,
    authority: Authority,
    stack: str | None = None,
    *,
    template_file: str | Path | None = None,
    parameters_file: str | Path | None = None,
    backup_dir: str | Path | None = None,
) -> Plan[StackRollbackSpec]:
    """Read the stack's status and decide the path (and the previous template); reads only."""
    stack = _stack(target, stack)
    plan: Plan[StackRollbackSpec] = new_plan(
        "cloudformation-rollback", target, authority, ("cloudformation-stack-stable",)
    )
    plan.refusal = refusal(target, authority, rule=RULE)
    if plan.refused:
        return plan
    cfn = target.client("cloudformation")
    found = aws.get_or_none(cfn.describe_stacks, "ValidationError", StackName=stack)
    if not found or not found.get("Stacks"):
        plan.refusal = f"stack {stack} does not exist"
        return plan
    status = found["Stacks"][0]["StackStatus"]
    params = as_parameters(found["Stacks"][0].get("Parameters") or [])
    body = cfn.get_template(StackName=stack)["TemplateBody"]
    count = sum(1 for _ in aws.paginate(cfn, "list_stack_resources", "StackResourceSummaries", StackName=stack))
    base = StackRollbackSpec(
        stack, status, as_text(body), tuple(params), count, str(backup_dir) if backup_dir else None, None
    )
    running = f'{status}, template "{description(body)}" ({count} resources)'
    if status in ROLLBACK_STATES:
        _rollback_stack_lines(plan, base, running)
        return plan
    plan.refusal = _status_refusal(stack, status)
    if plan.refused:
        return plan
    if status == "UPDATE_ROLLBACK_COMPLETE" and not template_file:
        plan.spec = base
        plan.notes.append(
            f"{stack} is UPDATE_ROLLBACK_COMPLETE: CloudFormation already rolled the failed update back to the "
            "previous template; nothing to do (rollback-stack would be refused: it acts only on CREATE_FAILED or "
            "UPDATE_FAILED)"
        )
        return plan
    previous, looked = _previous(target, stack, template_file, parameters_file, parsed(body), params)
    if previous is None:
        plan.refusal = (
            f"stack {stack} is {status}, so RollbackStack does not apply (only CREATE_FAILED or UPDATE_FAILED), and "
            f"there is no previous template to update it with ({looked}): pass the backup files (004: --template-file "
            "backup/appsync-previous.yml --parameters-file backup/appsync-parameters-previous.json)"
        )
        return plan
    plan.spec = StackRollbackSpec(**{**vars(base), "path": "update-stack", "previous": previous})
    _update_stack_lines(plan, stack, status, running, previous)
    return plan


def _rollback_stack_lines(plan: Plan[StackRollbackSpec], base: StackRollbackSpec, running: str) -> None:
    plan.spec = StackRollbackSpec(**{**vars(base), "path": "rollback-stack"})
    plan.changes.append(
        Change(
            f"cloudformation:{base.stack}",
            "StackStatus",
            running,
            "UPDATE_ROLLBACK_COMPLETE (its last stable template and parameters)",
            note="004 Rollback Infrastructure Changes: rollback-stack",
        )
    )
    plan.notes.append(
        f"{base.stack} is {base.status}: a failed update that did not roll back, which is what RollbackStack is for "
        "(it acts only on CREATE_FAILED or UPDATE_FAILED); 004's first command applies"
    )


def _status_refusal(stack: str, status: str) -> str | None:
    if status.endswith("_IN_PROGRESS"):
        return f"stack {stack} is {status}: wait until it settles"
    if status in REFUSED:
        return f"stack {stack} is {status}: {REFUSED[status]}"
    if status not in UPDATABLE:
        return f"stack {stack} is {status}: neither rollback-stack nor update-stack applies"
    return None


def _update_stack_lines(
    plan: Plan[StackRollbackSpec], stack: str, status: str, running: str, previous: PreviousTemplate
) -> None:
    plan.changes.append(
        Change(
            f"cloudformation:{stack}",
            "template",
            running,
            f'"{previous.description}" ({previous.resources} resources) with its parameters ({previous.source})',
            note="004 Rollback Infrastructure Changes: update-stack with the previous template",
        )
    )
    if previous.description:
        plan.expect_versions[stack] = previous.description
    plan.notes.append(
        "004 runs rollback-stack first: RollbackStack acts only on stacks in CREATE_FAILED or UPDATE_FAILED, and "
        f"{stack} is {status}, so it would be refused (ValidationError 'is in {status} state and can not be rolled "
        "back'); the harness takes 004's alternative, update-stack with the previous template and parameters from "
        f"{previous.source} (seed defect 6)"
    )


def stack_events(target: TargetLike, stack: str, since: datetime) -> list[dict[str, str]]:
    """The stack's events since ``since``, oldest first (time, resource, status, reason)."""
    events = aws.paginate(target.client("cloudformation"), "describe_stack_events", "StackEvents", StackName=stack)
    since = since - timedelta(seconds=1)  # event times come back to the millisecond
    chosen = [e for e in events if e["Timestamp"] >= since]
    return [
        {
            "time": e["Timestamp"].isoformat(),
            "resource": e["LogicalResourceId"],
            "status": e["ResourceStatus"],
            "reason": e.get("ResourceStatusReason") or "",
        }
        for e in reversed(chosen)
    ]


def wait_stack(target: TargetLike, stack: str, path: str, *, progress: Progress = _quiet) -> str:
    """Poll DescribeStacks on the target's clock until the path's goal status; the final status; RuntimeError with
    the last status seen when it ends badly or times out."""
    cfn = target.client("cloudformation")
    goal, bad = WAIT_FOR[path]
    waiting: Waiting[str] = Waiting(
        f"stack {stack}",
        state=lambda s: s,
        done=lambda s: s == goal,
        failed=lambda s: s in bad,
        timeout_s=STACK_TIMEOUT_S,
        interval_s=STACK_POLL_S,
    )
    try:
        return poll(
            target.clock,
            lambda: str(cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]),
            waiting,
            progress=progress,
        )
    except (PollTimeout, PollFailed) as exc:
        raise RuntimeError(str(exc)) from None


def apply_stack_rollback(
    target: TargetLike, plan: Plan[StackRollbackSpec], *, progress: Progress = _quiet
) -> ActionResult:
    """Run the planned path, wait on the target's clock, verify the status (and template), report the events."""
    if plan.spec is None:
        raise ValueError(f"{plan.action} plan has no spec (refused plans are never applied)")
    d = plan.spec
    stack, path = d.stack, d.path
    result = ActionResult(plan, COMPLETE)
    if not plan.changes or path is None:
        result.message = plan.notes[-1] if plan.notes else "nothing to do"
        return result
    cfn = target.client("cloudformation")
    began = target.clock.now()
    if d.backup_dir:
        saved = save_backup(d.backup_dir, stack, d.checkpoint_template, list(d.checkpoint_parameters), began)
        result.log(began, f"checkpoint: {stack}'s template and parameters saved to {saved[0]} and {saved[1]}")
        result.evidence["checkpoint_files"] = [str(p) for p in saved]
    with audit(target, plan, resource=f"cloudformation:{stack}", from_version=d.status, to_version=path) as trail:
        problem = None
        try:
            if path == "rollback-stack":
                result.log(target.clock.now(), f"rollback-stack {stack} ({d.status})")
                cfn.rollback_stack(StackName=stack)
            elif d.previous is not None:
                result.log(target.clock.now(), f"update-stack {stack} with the previous template ({d.previous.source})")
                cfn.update_stack(StackName=stack, TemplateBody=d.previous.body, Parameters=d.previous.parameters)
            wait_stack(target, stack, path, progress=progress)
            result.changed(target.clock.now(), plan.changes[0])
        except (ClientError, RuntimeError) as exc:
            problem = f"{type(exc).__name__}: {aws.error_message(exc) if isinstance(exc, ClientError) else exc}"
        final = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        running = description(cfn.get_template(StackName=stack)["TemplateBody"])
        result.evidence.update(
            path=path, final_status=final, template_description=running, events=stack_events(target, stack, began)
        )
        result.log(target.clock.now(), f'{stack}: {final}, template "{running}"')
        want = plan.expect_versions.get(stack)
        if problem is None and want and running != want:
            problem = f'the stack runs "{running}", not "{want}"'
        if problem:
            # A failed update-stack is rolled back by CloudFormation itself (the checkpoint: what ran before);
            # a failed rollback-stack leaves UPDATE_ROLLBACK_FAILED for continue-update-rollback.
            result.outcome, result.message = FAILED, f"{path} did not complete ({problem}); {stack} is {final}"
            trail.finish(FAILED)
    result.record = trail.record
    if result.outcome == COMPLETE:
        result.message = f'{path}: {stack} {d.status} -> {final}, template "{running}"'
    return result


def rollback_stack(
    target: TargetLike,
    authority: Authority,
    stack: str | None = None,
    *,
    template_file: str | Path | None = None,
    parameters_file: str | Path | None = None,
    backup_dir: str | Path | None = None,
    dry_run: bool = False,
    progress: Progress = _quiet,
) -> ActionResult:
    """Plan and apply the stack rollback on the path its state allows (004 Rollback Infrastructure Changes)."""
    return execute(
        lambda: plan_stack_rollback(
            target,
            authority,
            stack,
            template_file=template_file,
            parameters_file=parameters_file,
            backup_dir=backup_dir,
        ),
        lambda p: apply_stack_rollback(target, p, progress=progress),
        dry_run=dry_run,
    )
