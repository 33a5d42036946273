"""Notifications after a drill or a rollback, as the runbooks send them: Slack and SNS (off unless configured).

- Slack incoming webhook (002 rollback-lambda.yml "Notify Slack": ``slackapi/slack-github-action`` with
  ``SLACK_WEBHOOK_TYPE: INCOMING_WEBHOOK`` and a payload of ``text`` plus one mrkdwn section block), posted
  with ``requests``;
- SNS publish (004 "Alert Team: Notification is sent to the DevOps team via SNS"), with boto3 through the
  target's client, so a rehearsal publishes to the emulator's topic and a real run to the account's.

The text follows 000 §9.2.2 "Rollback Complete (Internal)": environment, from/to, duration, verification
status; a game day says it is one. Nothing is sent unless a webhook URL or a topic ARN is configured
(``--notify-slack-webhook`` / ``--notify-sns-topic``, or ``HARNESS_SLACK_WEBHOOK`` / ``SLACK_WEBHOOK_URL``
and ``HARNESS_SNS_TOPIC``). A notification that cannot be sent is reported, never raised into the drill.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import requests

from harness.drills.model import DrillResult, fmt_s, is_bad

HTTP_TIMEOUT_S = 10.0  # harness setting: one webhook POST
SNS_SUBJECT_MAX = 100  # SNS: "Subject ... must be less than 100 characters"
SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,256}(\.fifo)?)$")


@dataclass(frozen=True)
class NotifyConfig:
    """Where notifications go; both None: notifications are off."""

    slack_webhook: str | None = None
    sns_topic: str | None = None

    @property
    def enabled(self) -> bool:
        """True when at least one channel is configured."""
        return bool(self.slack_webhook or self.sns_topic)


def sns_region(topic_arn: str) -> str:
    """The region of an SNS topic ARN; ValueError when it is not one."""
    m = SNS_ARN.match(topic_arn)
    if not m:
        raise ValueError(f"not an SNS topic ARN: {topic_arn!r} (arn:aws:sns:REGION:ACCOUNT:NAME)")
    return m.group(1)


def _verdict(rows: Sequence[Mapping[str, Any]], slugs: tuple[str, ...]) -> str:
    chosen = [r for r in rows if r.get("slug") in slugs]
    if not chosen:
        return "not verified"
    return "FAIL" if any(is_bad(r) for r in chosen) else "PASS"


def drill_text(result: DrillResult) -> tuple[str, str]:
    """(subject, body): 000 §9.2.2 "ROLLBACK COMPLETED - [ENVIRONMENT]" filled in from a drill."""
    env = result.env.upper()
    ok = result.ok
    head = f"GAME DAY {'RECOVERY VERIFIED' if ok else result.outcome} - {env}"
    rows = result.rows.get("verification", []) + result.rows.get("settle", [])
    fault = result.fault or {}
    lines = [
        head,
        "",
        f"Drill: {result.title} ({result.name})",
        f"Environment: {result.inventory}/{result.env} (target {result.target}; a rehearsal, not an incident)"
        if result.target == "embedded"
        else f"Environment: {result.inventory}/{result.env} (target {result.target})",
        f"Fault: {fault.get('name', '-')} on {fault.get('resource', '-')}",
        f"Recovery: {result.recovery.method if result.recovery else '-'}",
        f"Duration (RTO, fault to verified recovery): {fmt_s(result.rto_s)} on the {result.clock}, "
        f"{fmt_s(result.rto_wall_s)} wall"
        + (f"; objective {fmt_s(result.rto_target_s)} ({result.rto_ref})" if result.rto_target_s else ""),
        "",
        "Verification Status:",
        f"- Lambda health: {_verdict(rows, ('health-endpoint',))}",
        f"- API endpoints: {_verdict(rows, ('api-health', 'api-responses'))}",
        f"- Error rate: {_verdict(rows, ('error-rate',))}",
        f"- Data integrity: {_verdict(rows, ('data-integrity', 'dynamodb-reads'))}",
        f"- Terraform state: {_verdict(rows, ('terraform-state',))}",
    ]
    if not ok:
        lines += ["", "Failures:", *[f"- {f}" for f in result.failures]]
    subject = f"{head}: {result.name}"
    return subject[: SNS_SUBJECT_MAX - 1], "\n".join(lines)


def slack_payload(subject: str, body: str, ok: bool) -> dict[str, Any]:
    """002's payload shape: ``text`` (the notification line) and one mrkdwn section with the details."""
    icon = ":white_check_mark:" if ok else ":x:"
    return {
        "text": f"{icon} {subject}",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{subject}* {icon}\n\n```{body}```"}}],
    }


def post_slack(url: str, payload: Mapping[str, Any], *, timeout_s: float = HTTP_TIMEOUT_S) -> None:
    """POST the payload to an incoming webhook; raises on a non-2xx answer (Slack answers ``ok``)."""
    resp = requests.post(url, json=dict(payload), timeout=timeout_s)
    if not 200 <= resp.status_code < 300:
        raise RuntimeError(f"Slack webhook answered HTTP {resp.status_code}: {resp.text[:200]}")


def publish_sns(client: Any, topic_arn: str, subject: str, body: str) -> str:
    """Publish to the topic; returns the MessageId."""
    return str(client.publish(TopicArn=topic_arn, Subject=subject, Message=body)["MessageId"])


def notify(result: DrillResult, config: NotifyConfig, sns_client: Callable[[str], Any]) -> list[str]:
    """Send the drill's notification to every configured channel; one line per channel (sent, or why not)."""
    if not config.enabled:
        return []
    subject, body = drill_text(result)
    done: list[str] = []
    if config.slack_webhook:
        try:
            post_slack(config.slack_webhook, slack_payload(subject, body, result.ok))
            done.append("slack: sent")
        except Exception as exc:  # noqa: BLE001 (reported with the drill, never raised into it)
            done.append(f"slack: NOT sent: {type(exc).__name__}: {exc}")
    if config.sns_topic:
        try:
            message_id = publish_sns(sns_client(sns_region(config.sns_topic)), config.sns_topic, subject, body)
            done.append(f"sns: sent ({message_id})")
        except Exception as exc:  # noqa: BLE001 (reported with the drill, never raised into it)
            done.append(f"sns: NOT sent: {type(exc).__name__}: {exc}")
    return done
