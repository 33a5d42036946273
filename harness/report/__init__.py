"""Reports a rollback, promotion or game day leaves behind, as markdown (no pytest, no Allure).

- :mod:`harness.report.timeline`: the UTC timeline table of an action (000 §8 "Timeline");
- :mod:`harness.report.incident`: the 000 §8 incident report, from any action result (or drill facts);
- :mod:`harness.report.checklists`: the 001 §7.1 / §7.2 promotion and §7.3 rollback checklists, filled in.

Inputs are the actions' typed results and checklist rows as plain mappings (``CheckResult.to_dict()``
or the verification report's rows): ``harness/`` never imports ``checks/``.
"""

from harness.report.checklists import promotion_checklist, rollback_checklist
from harness.report.incident import IncidentFacts, incident_facts, render_incident
from harness.report.timeline import render_timeline

__all__ = ["IncidentFacts", "incident_facts", "promotion_checklist", "render_incident", "render_timeline", "rollback_checklist"]
