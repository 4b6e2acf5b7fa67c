"""Executor: SQS batches of fire messages; each record runs one attempt of one execution.

A message that is not a fire the service made (no parse, unknown job, wrong fire token) is rejected: logged,
counted (fires_rejected_total) and deleted, never retried. Records run concurrently (each in a worker thread:
jobsched.execution.adapters.fire_batches), and only the records that raised are reported back as batch item
failures, so SQS redelivers just those.
"""

from __future__ import annotations

import gc

gc.disable()  # on again at the end: docs/decisions.md, "No garbage collection while a function starts"

import os
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from jobsched import config
from jobsched.aws.clients import client, deferred_client
from jobsched.aws.sqs_batches import BatchResponse
from jobsched.execution.adapters.execution_store import DynamoExecutionStore
from jobsched.execution.adapters.fire_batches import handle_fire_batch
from jobsched.execution.adapters.fire_queue import SqsFireQueue
from jobsched.execution.adapters.health_probe import ApiHealthProbe
from jobsched.execution.adapters.heartbeats import DynamoHeartbeats
from jobsched.execution.adapters.job_reader import DynamoJobReader
from jobsched.execution.adapters.notification_channels import NotificationSender, notification_topic_arn
from jobsched.execution.executor import Executor, Rejection, RejectReason, Result
from jobsched.execution.fire import FireMessage
from jobsched.execution.heartbeat import HEARTBEAT_PROBE_URL_ENV, HEARTBEAT_TOKEN_ENV, HeartbeatReceiver
from jobsched.execution.notifications import Notifier
from jobsched.settings import load_settings
from jobsched.targets.adapters.access_store import DynamoTargetAccessStore
from jobsched.targets.adapters.invokers import AwsTargetInvoker, HttpInvoker, TargetDispatcher
from jobsched.telemetry import (
    instrument_handler,
    record_execution,
    record_final_failure,
    record_fire_rejected,
    record_heartbeat,
    record_heartbeat_unanswered,
)

SETTINGS = load_settings()
HEARTBEAT_PROBE_URL = os.environ.get(HEARTBEAT_PROBE_URL_ENV)

STORE = DynamoExecutionStore(deferred_client("dynamodb"), SETTINGS.executions_table)
JOBS = DynamoJobReader(deferred_client("dynamodb"), SETTINGS.jobs_table)
HTTP = HttpInvoker(SETTINGS.target_policy())
TOPIC = (
    notification_topic_arn(SETTINGS.region, SETTINGS.service_account_id)
    if SETTINGS.service_account_id
    else None
)
EXECUTOR = Executor(
    store=STORE,
    jobs=JOBS,
    # Only a failed attempt re-queues: a cold start that succeeds never makes this client.
    queue=SqsFireQueue(
        deferred_client("sqs"), os.environ.get("EXECUTION_QUEUE_NAME", config.EXECUTION_QUEUE)
    ),
    invoker=TargetDispatcher(
        HTTP,
        AwsTargetInvoker(
            client,
            access=DynamoTargetAccessStore(deferred_client("dynamodb"), SETTINGS.jobs_table),
            service_account=SETTINGS.service_account_id,
        ),
    ),
    lease=timedelta(seconds=config.EXECUTOR_TIMEOUT_SECONDS),
    on_final_failure=lambda job: record_final_failure(),
    on_finished=lambda status, duration_ms: record_execution(status.value, duration_ms),
    on_rejected=lambda rejected: record_fire_rejected(
        rejected.reason.value, tenant=rejected.tenant, job_id=rejected.job_id, trigger=rejected.trigger
    ),
    # The region's dead man's switch (jobsched.execution.heartbeat); its token comes from the stack.
    heartbeat=HeartbeatReceiver(
        SETTINGS.region,
        os.environ.get(HEARTBEAT_TOKEN_ENV) or None,
        DynamoHeartbeats(deferred_client("dynamodb"), SETTINGS.jobs_table),
        on_received=lambda heartbeat: record_heartbeat(),
        # Its target, the region's own API health route (set by the stack and by the local runtime).
        probe=ApiHealthProbe(HEARTBEAT_PROBE_URL) if HEARTBEAT_PROBE_URL else None,
        on_unanswered=record_heartbeat_unanswered,
    ),
    # Failure and recovery notices: only jobs that ask for them make the SNS client.
    notifier=Notifier(JOBS, NotificationSender(HTTP, deferred_client("sns"), TOPIC), STORE),
)


def _record(body: str) -> Result:
    try:
        message = FireMessage.model_validate_json(body)
    except ValidationError:
        # Not a fire the service made: dropped (returning deletes it), never retried into the DLQ.
        EXECUTOR.reject(Rejection(RejectReason.UNPARSEABLE))
        return Result.REJECTED
    return EXECUTOR.process(message)


@instrument_handler
def handler(event: dict[str, Any], context: Any) -> BatchResponse:
    return handle_fire_batch(event, _record)


# Started: what the start made lives as long as the function, so the collector leaves it alone.
gc.freeze()
gc.enable()
