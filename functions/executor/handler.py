"""Executor: SQS batches of fire messages; each record runs one attempt of one execution.

A message that is not a fire the service made (no parse, unknown job, wrong fire token) is rejected: logged,
counted (fires_rejected_total) and deleted, never retried. Records run concurrently (Powertools'
AsyncBatchProcessor; each target call in a worker thread), and only the records that raised are reported
back as batch item failures, so SQS redelivers just those.
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from typing import Any

from aws_lambda_powertools import single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from jobsched import config
from jobsched.aws.clients import client, deferred_client
from jobsched.execution.adapters.execution_store import DynamoExecutionStore
from jobsched.execution.adapters.fire_queue import SqsFireQueue
from jobsched.execution.adapters.job_reader import DynamoJobReader
from jobsched.execution.adapters.notification_channels import NotificationSender, notification_topic_arn
from jobsched.execution.executor import Executor, Rejection, RejectReason, Result
from jobsched.execution.fire import FireMessage
from jobsched.execution.notifications import Notifier
from jobsched.settings import load_settings
from jobsched.targets.adapters.access_store import DynamoTargetAccessStore
from jobsched.targets.adapters.invokers import AwsTargetInvoker, HttpInvoker, TargetDispatcher
from jobsched.telemetry import instrument_handler, record_execution, record_fire_rejected

SETTINGS = load_settings()
FINAL_FAILURE_METRIC = "executions_failed_final"


def _final_failure(tenant: str, job_id: str) -> None:
    # Dimensionless on purpose: tenant and job ids would make one metric per job (cost, cardinality).
    with single_metric(
        name=FINAL_FAILURE_METRIC,
        unit=MetricUnit.Count,
        value=1,
        namespace=config.METRICS_NAMESPACE,
    ) as metric:
        metric.add_dimension(name="service", value=config.SERVICE)


STORE = DynamoExecutionStore(client("dynamodb"), SETTINGS.executions_table)
JOBS = DynamoJobReader(client("dynamodb"), SETTINGS.jobs_table)
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
            access=DynamoTargetAccessStore(client("dynamodb"), SETTINGS.jobs_table),
            service_account=SETTINGS.service_account_id,
        ),
    ),
    lease=timedelta(seconds=config.EXECUTOR_TIMEOUT_SECONDS),
    on_final_failure=_final_failure,
    on_finished=lambda status, duration_ms: record_execution(status.value, duration_ms),
    on_rejected=lambda rejected: record_fire_rejected(
        rejected.reason.value, tenant=rejected.tenant, job_id=rejected.job_id, trigger=rejected.trigger
    ),
    # Failure and recovery notices: only jobs that ask for them make the SNS client.
    notifier=Notifier(JOBS, NotificationSender(HTTP, deferred_client("sns"), TOPIC), STORE),
)
processor = AsyncBatchProcessor(event_type=EventType.SQS)


async def _record(record: SQSRecord) -> Result:
    try:
        message = FireMessage.model_validate_json(record.body)
    except ValidationError:
        # Not a fire the service made: dropped (returning deletes it), never retried into the DLQ.
        EXECUTOR.reject(Rejection(RejectReason.UNPARSEABLE))
        return Result.REJECTED
    return await asyncio.to_thread(EXECUTOR.process, message)


@instrument_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return async_process_partial_response(
        event=event, record_handler=_record, processor=processor, context=context
    )
