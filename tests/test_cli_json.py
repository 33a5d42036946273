"""``--output json`` on rollback and restore-table: one JSON document on stdout that validates against the
package's schema (harness.cli.output.SCHEMA), the human lines on stderr."""

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
