"""A shape contract: every response of every operation the scenarios call (the harness's checks, actions,
drills and the fidelity extensions behind them) conforms to botocore's output shape: required members,
types, enums and ranges (https://docs.aws.amazon.com/ — each service's API reference is what the model
encodes)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import botocore.session
import pytest

from tests.fidelity.shapes import violations

REPO = Path(__file__).resolve().parents[2]
# Where AWS's own answers (or botocore's client-side decoding) depart from the output model; each reason given.
EXEMPT = (
    # botocore's handlers decode these JSON documents into dicts after the call (json_decode_policies,
    # json_decode_template_body): the wire carries the string the model describes.
    re.compile(r"^iam:\w+ \$\.Role\.AssumeRolePolicyDocument: "),
    re.compile(r"^cloudformation:GetTemplate \$\.TemplateBody: "),
    # DynamoDB answers 0 for an on-demand table's throughput, decreases and warm throughput although the model's
    # PositiveLongObject has min 1 (DescribeTable of any PAY_PER_REQUEST table on AWS).
    re.compile(r"^dynamodb:\w+ .*(ProvisionedThroughput|WarmThroughput)\.\w+: 0 outside \[1, None\]$"),
    # The stack's own events carry stack statuses (UPDATE_..._CLEANUP_IN_PROGRESS) in ResourceStatus, as on AWS,
    # which the ResourceStatus enum does not list.
    re.compile(r"^cloudformation:DescribeStackEvents .*ResourceStatus: '\w+_CLEANUP_IN_PROGRESS' not in the enum"),
)


def _shape(service: str, operation: str):
    return botocore.session.get_session().get_service_model(service).operation_model(operation).output_shape


def test_the_validator_sees_missing_members_wrong_types_and_enums():
    """The checker itself (a contract that cannot fail is a defect): GetAlias without AliasArn's type, a bad
    enum in DescribeTable, a missing required member in GetMetricData."""
    alias = {"AliasArn": 7, "Name": "live", "FunctionVersion": "1", "RevisionId": "r"}
    assert violations(_shape("lambda", "GetAlias"), alias) == ["$.AliasArn: 7 is not a string"]
    table = {"Table": {"TableName": "t", "TableStatus": "RESTORING", "CreationDateTime": datetime.now(timezone.utc)}}
    [enum] = violations(_shape("dynamodb", "DescribeTable"), table)
    assert "RESTORING" in enum and "TableStatus" in enum
    data = {"MetricDataResults": [{"Id": "a", "StatusCode": "Complete", "Values": ["x"]}]}
    assert violations(_shape("cloudwatch", "GetMetricData"), data) == [
        "$.MetricDataResults[0].Values[0]: 'x' is not a double"
    ]
    assert violations(_shape("logs", "GetQueryResults"), {"status": "Done"}) == [
        "$.status: 'Done' not in the enum QueryStatus "
        "['Scheduled', 'Running', 'Complete', 'Failed', 'Cancelled', 'Timeout', 'Unknown']"
    ]


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("inventory_name", "env_name"), [("bbws", "sit"), ("propie", "production")])
def test_every_response_the_scenarios_receive_matches_botocores_shape(
    tmp_path: Path, inventory_name: str, env_name: str
):
    """The whole scenario suite on the embedded rehearsal, every response validated as it is received."""
    log = tmp_path / "shapes.jsonl"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_", "PYTEST_"))}
    environ["HARNESS_SHAPE_LOG"] = str(log)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "scenarios/", "--inventory", inventory_name, "--env", env_name, "-q"]
        + ["-p", "no:cacheprovider", "-p", "tests.fidelity.shape_plugin", "--reports-dir", str(tmp_path / "r")],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=540,
    )
    # the failing rows (a drill's step table included) and the summary, not only the output's tail
    printed = proc.stdout.splitlines()
    failing = [line for line in printed if line.startswith(("E ", "FAILED", "ERROR")) or "| NO |" in line]
    assert proc.returncode == 0, "\n".join(failing[:80]) + proc.stdout[-1500:] + proc.stderr[-3000:]
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    validated = next(line["validated"] for line in lines if "validated" in line)
    assert len(validated) > 20, validated  # the hook saw the run's calls
    broken = sorted(
        {
            f"{line['operation']} {re.sub(r'[[][0-9]+[]]', '[]', error)[:200]}"
            for line in lines
            if "errors" in line
            for error in line["errors"]
        }
    )
    broken = [b for b in broken if not any(e.search(b) for e in EXEMPT)]
    assert broken == [], "\n".join(broken)
