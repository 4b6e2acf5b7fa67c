"""What the scheduling constructs create, in moto, per region: the schedule group and the queues.

The execution queue redrives to its DLQ after EXECUTION_MAX_RECEIVES receives, as on AWS. Each step looks
for what it would create first, so provisioning twice (or beside another provisioner) is harmless.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from jobsched import config
from jobsched.execution.heartbeat import (
    HEARTBEAT_DESCRIPTION,
    HEARTBEAT_EXPRESSION,
    HEARTBEAT_SCHEDULE_NAME,
    heartbeat_input,
)
from jobsched.scheduling.settings import queue_arn

ClientFor = Callable[[str, str], Any]
# Local only: where the notice topic's messages can be read (on AWS the topic's subscribers are e-mail).
NOTIFICATION_OUTBOX = "jobsched-notifications-outbox"


def provision_scheduling(regions: Sequence[str], client_for: ClientFor) -> None:
    for region in regions:
        ensure_schedule_group(client_for("scheduler", region))
        ensure_queues(client_for("sqs", region))
        ensure_notification_topic(client_for("sns", region), client_for("sqs", region))


def ensure_schedule_group(client: Any, name: str = config.SCHEDULE_GROUP) -> None:
    try:
        client.get_schedule_group(Name=name)
    except client.exceptions.ResourceNotFoundException:
        client.create_schedule_group(Name=name)


def ensure_queues(client: Any) -> None:
    for name in (config.EXECUTION_DLQ, config.SCHEDULER_DLQ, config.SCHEDULE_SYNC_DLQ):
        _ensure_queue(client, name, {})
    _ensure_redriven_queue(
        client,
        config.EXECUTION_QUEUE,
        config.EXECUTION_DLQ,
        config.EXECUTION_VISIBILITY_SECONDS,
        config.EXECUTION_MAX_RECEIVES,
    )
    # The bulk worker's queue (infra/constructs/bulk_operations.py), redriven as on AWS.
    _ensure_redriven_queue(
        client, config.BULK_QUEUE, config.BULK_DLQ, config.BULK_VISIBILITY_SECONDS, config.BULK_MAX_RECEIVES
    )


def _ensure_redriven_queue(client: Any, name: str, dlq: str, visibility: int, max_receives: int) -> None:
    dlq_url = _ensure_queue(client, dlq, {})
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}
    _ensure_queue(client, name, {"VisibilityTimeout": str(visibility), "RedrivePolicy": json.dumps(redrive)})


def _ensure_queue(client: Any, name: str, attributes: dict[str, str]) -> str:
    try:
        return str(client.get_queue_url(QueueName=name)["QueueUrl"])
    except client.exceptions.QueueDoesNotExist:
        return str(client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def ensure_heartbeat_schedule(client: Any, region: str, account: str, token: str) -> None:
    """The region's dead man's switch, as the regional stack makes it (infra/constructs/heartbeat.py).

    It starts now: moto is rebuilt at every start and the token is new, so no fire from before the start
    is caught up (the schedule clock counts a rate from its start date).
    """
    definition = {
        "Name": HEARTBEAT_SCHEDULE_NAME,
        "GroupName": config.SCHEDULE_GROUP,
        "Description": HEARTBEAT_DESCRIPTION,
        "ScheduleExpression": HEARTBEAT_EXPRESSION,
        "ScheduleExpressionTimezone": "UTC",
        "StartDate": datetime.now(UTC),
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Target": {
            "Arn": queue_arn(region, account, config.EXECUTION_QUEUE),
            "RoleArn": f"arn:aws:iam::{account}:role/{config.SERVICE}-scheduler-{region}",
            "Input": heartbeat_input(token),
            "DeadLetterConfig": {"Arn": queue_arn(region, account, config.SCHEDULER_DLQ)},
        },
    }
    try:
        client.get_schedule(Name=HEARTBEAT_SCHEDULE_NAME, GroupName=config.SCHEDULE_GROUP)
    except client.exceptions.ResourceNotFoundException:
        client.create_schedule(**definition)
    else:
        client.update_schedule(**definition)


def ensure_notification_topic(sns: Any, sqs: Any) -> str:
    """The region's notice topic, and (locally only) a queue subscribed to it, raw, so the e-mails the
    service would send can be read: `aws sqs receive-message` on NOTIFICATION_OUTBOX."""
    topic_arn = str(sns.create_topic(Name=config.NOTIFICATION_TOPIC)["TopicArn"])  # idempotent
    outbox_url = _ensure_queue(sqs, NOTIFICATION_OUTBOX, {})
    outbox_arn = sqs.get_queue_attributes(QueueUrl=outbox_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    subscribed = sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", [])
    if not any(s.get("Endpoint") == outbox_arn for s in subscribed):
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=outbox_arn,
            Attributes={"RawMessageDelivery": "false"},
        )
    return topic_arn
