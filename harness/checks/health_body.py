"""Health that says unhealthy is unhealthy (000 §7.1 step 2, §7.2): the checks-side name of
:mod:`harness.health`, where the pure rule lives so actions can use it too (harness/ never imports
checks/). Shared by ``api-health`` and the Lambda health rows.
"""

from harness.health import FAILING_STATUSES, declared_unhealthy, health_problem, parse_json

__all__ = ["FAILING_STATUSES", "declared_unhealthy", "health_problem", "parse_json"]
