"""Safety rules for mutating work: explicit flags, the runbook's approvals, maintenance windows.

Each function returns the reason for a refusal (one line) or None; callers refuse before any
change is made, so a refusal changes nothing.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from harness.inventory.model import Environment
from harness.inventory.schema import ApprovalRule, WindowSpec

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def approver_identity(name: str) -> str:
    """The identity an approver's name stands for: case and runs of whitespace do not make another person."""
    return " ".join(name.split()).casefold()


def distinct_approvers(approvers: list[str] | tuple[str, ...]) -> list[str]:
    """One entry per distinct identity (:func:`approver_identity`), as first typed (whitespace trimmed)."""
    seen: dict[str, str] = {}
    for name in approvers:
        if approver_identity(name):
            seen.setdefault(approver_identity(name), name.strip())
    return sorted(seen.values(), key=approver_identity)


def approval_refusal(rule: ApprovalRule | None, rule_name: str, approvers: list[str], reason: str | None) -> str | None:
    """Why these approvers/reason do not satisfy ``rule`` (000 §9.3, 001 §2.2), or None; two names that differ
    only in case or whitespace are one approver."""
    if rule is None:
        return f"no approval rule {rule_name!r} in the inventory for a protected environment"
    distinct = distinct_approvers(approvers)
    if len(distinct) < rule.min_approvers:
        return (
            f"{rule_name} needs {rule.min_approvers} distinct approver{'s' if rule.min_approvers != 1 else ''} "
            f"({' + '.join(rule.roles)}, {rule.ref}); "
            f"got {len(distinct)}: {', '.join(distinct) or 'none'} (use --approved-by NAME per approver)"
        )
    if rule.reason_required and not (reason and reason.strip()):
        return f"{rule_name} needs a reason ({rule.ref}); pass --reason TEXT"
    return None


def mutation_refusal(
    *,
    disposable: bool,
    target: str,
    env: Environment,
    allow_mutation: bool,
    approvers: list[str] | tuple[str, ...],
    reason: str | None,
    rule_name: str = "prod-rollback",
) -> str | None:
    """Why a mutation may not run here, or None (docs/architecture.md "Safety model").

    Only a disposable target (the embedded rehearsal, gone when the run ends) is changed without
    ``--allow-mutation``; real accounts and a LocalStack someone else may be using need it.
    """
    if not disposable and not allow_mutation:
        where = "a real account" if target == "aws" else f"target {target}"
        return f"mutating {env.inventory}/{env.name} on {where} needs --allow-mutation"
    if env.protected:
        return approval_refusal(env.approvals.get(rule_name), rule_name, list(approvers), reason)
    return None


def _parse(hhmm: str) -> time:
    h, m = hhmm.split(":")
    return time(int(h), int(m))


def window_containing(windows: tuple[WindowSpec, ...], when: datetime) -> WindowSpec | None:
    """The maintenance window (UTC) that contains ``when``; an end at or before the start runs past midnight."""
    when = when.astimezone(timezone.utc)
    for w in windows:
        start_t, end_t = _parse(w.start_utc), _parse(w.end_utc)
        for day_offset in (0, 1):  # a window that began yesterday may still be open
            day = when.date() - timedelta(days=day_offset)
            if DAYS[day.weekday()] != w.day:
                continue
            start = datetime.combine(day, start_t, tzinfo=timezone.utc)
            end = datetime.combine(day, end_t, tzinfo=timezone.utc)
            if end <= start:
                end += timedelta(days=1)
            if start <= when < end:
                return w
    return None


def window_refusal(env: Environment, when: datetime) -> str | None:
    """Why ``when`` is outside every maintenance window of a protected env (001 §4.1.2), or None."""
    if not env.protected or not env.maintenance_windows:
        return None
    if window_containing(env.maintenance_windows, when):
        return None
    listed = "; ".join(f"{w.day} {w.start_utc}-{w.end_utc} UTC" for w in env.maintenance_windows)
    return f"{when.astimezone(timezone.utc):%A %H:%M} UTC is outside the maintenance windows ({listed}; 001 §4.1.2)"
