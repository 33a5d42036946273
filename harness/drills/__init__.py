"""Game-day drills: fault -> detection -> recovery -> verification, timed against the inventory's RTO (002).

- ``runner``: the phases, their judgement and timing (:func:`~harness.drills.runner.run_drill`); ``model``: plain data;
- ``base``: the :class:`~harness.drills.base.Drill` protocol (a method per phase, state on the instance);
- ``lambda_drills``, ``pitr_drill``, ``state_drill``, ``promotion_drill``: the five drills, as classes;
- ``external``: a team's own command as the recovery (``--recovery-cmd``);
- ``digest``: the environment digest a drill must leave unchanged; ``traffic``: healthy traffic after a recovery;
- ``history``: the game-day history file; ``rows``: which checklist rows a drill asks for;
- ``terraform_state``: the drill with real Terraform plans (``harness state-drill``).

The runner lives here, not in the pytest plugin, so drills run from tests, benchmarks or a CLI alike; it never
imports ``checks/``: checklist rows come from a probe the caller supplies (harness/pytest_plugin/gameday.py).
"""
