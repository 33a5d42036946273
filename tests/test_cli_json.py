"""``--output json`` on rollback, promote, restore-table, copy-back and state-restore: one JSON document on stdout
that validates against the package's schema (harness.cli.output.SCHEMA), the human lines on stderr."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from harness.cli import main
from harness.cli.output import SCHEMA
from tests.conftest import aws_env


@pytest.fixture
def clean_env(monkeypatch):
    for name in [k for k in os.environ if k.startswith(("AWS_", "HARNESS_"))]:
        monkeypatch.delenv(name)
    return monkeypatch


def _document(capsys) -> tuple[dict, str]:
    out, err = capsys.readouterr()
    doc = json.loads(out)  # stdout is the document and nothing else
    jsonschema.validate(doc, SCHEMA)
    return doc, err


def test_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_rollback_json_names_the_plan_each_function_the_record_and_the_reports(clean_env, capsys, tmp_path: Path):
    fn = "bbws-tenant-instance-management-sit"
    args = ["rollback", "--env", "sit", "--function", fn, "--reason", "t", "--reports-dir", str(tmp_path)]
    code = main([*args, "--output", "json"])
    doc, err = _document(capsys)
    assert code == 0 and doc["exit_status"] == 0 and doc["outcome"] == "COMPLETE", doc
    assert doc["inputs"]["function"] == fn and doc["plan"]["action"] == "rollback"
    assert any("FunctionVersion 3 -> 2" in c for c in doc["plan"]["changes"]), doc["plan"]
    assert doc["items"] == [{"item": fn, "outcome": "COMPLETE", "message": doc["items"][0]["message"]}]
    assert doc["record_id"] and doc["record_id"].startswith("rollback-")
    assert len(doc["reports"]) == 2 and all(Path(p).is_file() for p in doc["reports"])
    assert "COMPLETE: rollback bbws/sit" in err and "plan: rollback" in err  # the human lines, on stderr


def test_restore_table_json_refused_keeps_the_plan_and_status(served_sit, clean_env, capsys):
    for name, value in aws_env(served_sit["AWS_ENDPOINT_URL"]).items():
        clean_env.setenv(name, value)
    args = ["restore-table", "--env", "sit", "--target", "aws", "--table", "tenants-sit", "--latest"]
    code = main([*args, "--output", "json"])
    doc, err = _document(capsys)
    assert code == 3 and doc["exit_status"] == 3 and doc["outcome"] is None and doc["record_id"] is None, doc
    assert doc["plan"]["action"] == "pitr-restore" and doc["plan"]["changes"], doc["plan"]
    assert "needs --allow-mutation" in err


def test_a_usage_mistake_is_still_one_document(clean_env, capsys):
    code = main(["rollback", "--env", "sit", "--function", "nope", "--reason", "t", "--output", "json"])
    doc, _ = _document(capsys)
    assert code == 2 and doc["exit_status"] == 2 and doc["plan"]["refusal"].startswith("unknown function 'nope'")


def test_promote_json_names_the_gates_plan_each_function_the_record_and_the_reports(clean_env, capsys, tmp_path):
    from tests.actions.conftest import in_window

    fn = "bbws-ecs-event-handler-sit"
    args = ["promote", "--from", "sit", "--to", "prod", "--function", fn, "--reason", "CR-9"]
    args += ["--approved-by", "Tech Lead", "--approved-by", "Operations Lead", "--reports-dir", str(tmp_path)]
    code = main([*args, "--rehearsal-start", in_window().isoformat(), "--output", "json"])
    doc, err = _document(capsys)
    assert code == 0 and doc["exit_status"] == 0 and doc["outcome"] == "COMPLETE", doc
    assert doc["command"] == "promote" and doc["inputs"]["function"] == fn and doc["plan"]["action"] == "promote"
    assert doc["plan"]["env"] == "prod" and doc["plan"]["changes"], doc["plan"]
    assert [i["item"] for i in doc["items"]] == ["bbws-ecs-event-handler-prod"] and doc["items"][0]["outcome"] == (
        "COMPLETE"
    )
    assert doc["record_id"] and len(doc["reports"]) == 2 and all(Path(p).is_file() for p in doc["reports"])
    assert "gate [PASS] source-errors" in err and "COMPLETE: promote sit -> prod" in err  # human lines on stderr


def test_promote_json_refused_without_approvals_keeps_the_plan_and_status(clean_env, capsys):
    args = ["promote", "--from", "sit", "--to", "prod", "--function", "bbws-ecs-event-handler-sit", "--reason", "t"]
    code = main([*args, "--output", "json"])
    doc, err = _document(capsys)
    assert code == 3 and doc["exit_status"] == 3 and doc["outcome"] is None, doc
    assert doc["plan"]["refusal"] and "approver" in doc["plan"]["refusal"] and "REFUSED" in err


def test_state_restore_json_names_the_plan_the_key_and_the_record(clean_env, capsys):
    key = "tenants/tenant-001/terraform.tfstate"
    code = main(["state-restore", "--env", "sit", "--key", key, "--previous", "--reason", "t", "--output", "json"])
    doc, err = _document(capsys)
    assert code == 0 and doc["exit_status"] == 0 and doc["outcome"] == "COMPLETE", (doc, err)
    assert doc["command"] == "state-restore" and doc["plan"]["action"] == "state-restore"
    assert any(key in c for c in doc["plan"]["changes"]) and doc["items"] and doc["items"][0]["outcome"] == "COMPLETE"
    assert "COMPLETE: state-restore" in err


def test_copy_back_json_refused_keeps_the_plan_and_the_refusal(served_sit, clean_env, capsys):
    for name, value in aws_env(served_sit["AWS_ENDPOINT_URL"]).items():
        clean_env.setenv(name, value)
    args = ["copy-back", "--env", "sit", "--target", "aws", "--table", "tenants-sit", "--from", "tenants-sit"]
    code = main([*args, "--output", "json"])
    doc, err = _document(capsys)
    assert code == 3 and doc["exit_status"] == 3 and doc["plan"]["action"] == "copy-back", (doc, err)
    assert doc["plan"]["refusal"] == "source and destination are both tenants-sit" and doc["outcome"] is None
    assert "REFUSED: source and destination are both tenants-sit" in err
