"""Notifications (002 Slack incoming webhook, 004 SNS): a local HTTP receiver gets 002's payload; the emulator's SNS
delivers the 000 §9.2.2 text to an SQS queue subscribed to the topic. Off unless configured; failures are reported."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from harness.drills.model import DrillResult, PhaseRecord, row
from harness.notify import NotifyConfig, drill_text, notify, slack_payload, sns_region
from tests.fidelity.conftest import start_target


class Receiver(BaseHTTPRequestHandler):
    """An incoming webhook stand-in: remembers every JSON body, answers ``ok`` (or 500 on /broken)."""

    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Receiver.received.append({"path": self.path, "json": json.loads(body)})
        status = 500 if self.path == "/broken" else 200
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"no")

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Receiver.received = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def result(ok: bool = True) -> DrillResult:
    now = datetime(2026, 1, 25, 22, 0, tzinfo=timezone.utc)
    r = DrillResult(
        "lambda-bad-deployment",
        "Bad Lambda deployment -> alias rollback",
        "lambda_code",
        "000 §4.2",
        "bbws",
        "sit",
        "embedded",
        "rehearsal clock",
        rto_s=4.2,
        rto_wall_s=0.5,
        rto_target_s=300.0,
        rto_ref="002 RTO table",
        started=now,
        ended=now,
    )
    r.phases.append(PhaseRecord("verification", now, now, 0.1))
    r.rows["verification"] = [row("health-endpoint", "fn", "200", "200", ok, "000 §4.2.5")]
    if not ok:
        r.fail("not recovered: stayed red: health-endpoint on fn")
    return r


def test_nothing_is_sent_unless_configured() -> None:
    assert notify(result(), NotifyConfig(), lambda region: None) == []


def test_slack_gets_002s_payload(receiver) -> None:
    sent = notify(result(), NotifyConfig(slack_webhook=f"{receiver}/hook"), lambda region: None)
    assert sent == ["slack: sent"]
    payload = Receiver.received[0]["json"]
    assert payload["text"].startswith(":white_check_mark: GAME DAY RECOVERY VERIFIED - SIT")
    assert payload["blocks"][0]["type"] == "section" and payload["blocks"][0]["text"]["type"] == "mrkdwn"
    assert "Lambda health: PASS" in payload["blocks"][0]["text"]["text"]


def test_a_failed_notification_is_reported_not_raised(receiver) -> None:
    sent = notify(result(ok=False), NotifyConfig(slack_webhook=f"{receiver}/broken"), lambda region: None)
    assert sent[0].startswith("slack: NOT sent: RuntimeError: Slack webhook answered HTTP 500")
    assert Receiver.received[0]["json"]["text"].startswith(":x: GAME DAY FAIL - SIT")


def test_sns_publishes_to_the_emulators_topic_and_the_queue_reads_it() -> None:
    target = start_target("bbws", "sit", seed=False)
    try:
        sns, sqs = target.client("sns"), target.client("sqs")
        topic = sns.create_topic(Name="bbws-devops-alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="bbws-devops-alerts-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        assert sns_region(topic) == target.env.region
        sent = notify(result(), NotifyConfig(sns_topic=topic), lambda region: target.client("sns", region=region))
        assert sent[0].startswith("sns: sent (")
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, WaitTimeSeconds=1)["Messages"]
        envelope = json.loads(messages[0]["Body"])
        subject, body = drill_text(result())
        assert envelope["Subject"] == subject and envelope["Message"] == body
        assert "Duration (RTO, fault to verified recovery): 4.2 s on the rehearsal clock" in envelope["Message"]
    finally:
        target.close()


def test_payload_and_arn_shapes() -> None:
    assert slack_payload("s", "b", False)["text"] == ":x: s"
    with pytest.raises(ValueError, match="not an SNS topic ARN"):
        sns_region("arn:aws:sqs:af-south-1:815856636111:q")
