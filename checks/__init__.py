"""Read-only checks, one per runbook checklist row; each returns a CheckResult and never mutates."""

from checks.result import CheckResult, Verdict

__all__ = ["CheckResult", "Verdict"]
