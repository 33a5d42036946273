"""Game-day fault injection: inject/undo pairs, each refusing on protected environments (harness/faults/base.py).

| module | fault | detected by |
|---|---|---|
| ``deployment`` | bad Lambda version behind the alias (with its deployment record), weighted routing to one, a bad release | ``health-endpoint``; ``lambda-alias-version`` (routing) |
| ``spikes`` | error spike (invoked), throttle and latency spikes (published: simulated) | ``error-rate``, ``log-errors``; ``source-throttles``; ``latency-p95`` |
| ``data`` | bulk update and delete of given keys in a PITR table | the 000 §6.5 comparison with a snapshot (no 000 §7.4 row) |
| ``terraform`` | a corrupted state version, a stuck lock | ``terraform-state`` |
| ``ecs`` | running count held below desired (emulator handle) | ``ecs-tasks`` |
| ``s3`` | public access block removed | ``s3-public-access-block`` |
| ``dynamodb`` | PITR disabled | ``dynamodb-pitr`` |
| ``alarms`` | an alarm put into ALARM (simulated) | ``cloudwatch-alarms`` |
"""  # noqa: E501 (markdown table rows cannot wrap)

from harness.faults.base import Fault, FaultRefused, compound, guard

__all__ = ["Fault", "FaultRefused", "compound", "guard"]
