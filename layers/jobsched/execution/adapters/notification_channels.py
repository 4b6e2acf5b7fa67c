"""The channels of failure and recovery notices: a signed webhook, and an e-mail through the region's SNS
topic.

The webhook goes through the same HTTP invoker as the job's own HTTP target: the SSRF guard, the pinned
address and the Standard Webhooks signature with the job's secret (``webhook-id`` = execution id + event, so
a receiver can deduplicate). E-mail is a Publish to ``jobsched-notifications`` with the address in the
``email`` message attribute: the topic's e-mail subscriptions filter on it (docs/execution.md).
"""

from __future__ import annotations

from typing import Any

from jobsched import config
from jobsched.execution.notifications import Notice
from jobsched.execution.ports import Delivery
from jobsched.jobs.models import HttpTarget
from jobsched.targets.adapters.invokers import HttpInvoker

NOTICE_TIMEOUT_SECONDS = 10


def notification_topic_arn(region: str, account: str) -> str:
    return f"arn:aws:sns:{region}:{account}:{config.NOTIFICATION_TOPIC}"


class NotificationSender:
    def __init__(self, http: HttpInvoker, sns: Any, topic_arn: str | None) -> None:
        self._http = http
        self._sns = sns
        self._topic_arn = topic_arn

    def webhook(self, url: str, notice: Notice) -> str | None:
        target = HttpTarget(
            url=url,
            body=notice.body().decode(),
            headers={"x-jobsched-event": notice.event_type},
            timeout_seconds=NOTICE_TIMEOUT_SECONDS,
        )
        delivery = Delivery(
            tenant=notice.tenant,
            execution_id=notice.webhook_id,
            scheduled_at=notice.execution.scheduled_at,
            attempt=notice.execution.attempts or 1,
            trigger=notice.execution.trigger,
        )
        outcome = self._http.invoke(notice.job, target, notice.webhook_secret, delivery)
        if outcome.succeeded:
            return None
        return outcome.error or f"the webhook answered {outcome.status_code}"

    def email(self, address: str, notice: Notice) -> str | None:
        if self._topic_arn is None:
            return "no notification topic is configured (SERVICE_ACCOUNT_ID)"
        document = notice.document()
        lines = [f"{key}: {value}" for key, value in document.items() if value is not None]
        try:
            self._sns.publish(
                TopicArn=self._topic_arn,
                Subject=notice.subject,
                Message="\n".join(lines),
                MessageAttributes={
                    "email": {"DataType": "String", "StringValue": address},
                    "jobsched-event": {"DataType": "String", "StringValue": notice.event_type},
                    "jobsched-job-id": {"DataType": "String", "StringValue": notice.job.job_id},
                },
            )
        except Exception as exc:
            return f"SNS publish failed: {type(exc).__name__}: {exc}"[:512]
        return None
