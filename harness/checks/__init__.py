"""Read-only checks, one per runbook checklist row; each returns a CheckResult and never mutates."""

from harness.checks.result import CheckResult, Verdict

__all__ = ["CheckResult", "Verdict"]
