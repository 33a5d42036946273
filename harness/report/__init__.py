"""Reports a rollback, promotion or game day leaves behind, as markdown (no pytest, no Allure).

- :mod:`harness.report.timeline`: the UTC timeline table of an action (000 §8 "Timeline");
- :mod:`harness.report.incident`: the 000 §8 incident report, from any action result (or drill facts);
- :mod:`harness.report.checklists`: the 001 §7.1 / §7.2 promotion and §7.3 rollback checklists, filled in;
- :mod:`harness.report.gameday`: a drill's report and 000 §8 incident report, the run's game-day summary;
- :mod:`harness.report.svg_chart`: the RTO-per-drill chart across runs, as SVG (no plotting stack).

Inputs are the actions' typed results and checklist rows as plain mappings (``CheckResult.to_dict()``
or the verification report's rows): ``harness/`` never imports ``checks/``.
"""

from harness.report.checklists import promotion_checklist, rollback_checklist
from harness.report.gameday import render_drill, render_drill_incident, render_summary
from harness.report.incident import IncidentFacts, incident_facts, render_incident
from harness.report.svg_chart import rto_chart
from harness.report.timeline import render_timeline

__all__ = [
    "IncidentFacts",
    "incident_facts",
    "promotion_checklist",
    "render_drill",
    "render_drill_incident",
    "render_incident",
    "render_summary",
    "render_timeline",
    "rollback_checklist",
    "rto_chart",
]
