"""Bulk pause/resume in the background: the bulk queue (+ DLQ) and the bulk worker that drains it.

The Schedule API does a bulk pause/resume of up to BULK_INLINE_LIMIT jobs within the request; beyond that
it records the operation and queues its first page here. The worker does one page per message (bounded work
per invocation) and queues the next (docs/decisions.md, "Bulk pause and resume").
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sqs as sqs
from aws_cdk.aws_lambda_event_sources import SqsEventSource
from constructs import Construct

from infra.constructs.execution_queue import queue_with_dead_letters
from infra.constructs.function_factory import FunctionFactory
from infra.constructs.table_access import TENANT_PARTITIONS, grant_partitions
from jobsched import config

BULK_WORKER_BATCH_SIZE = 1  # one page per invocation: the work of an invocation stays bounded
# Pages of different operations run side by side up to this; one operation's pages run one after another.
BULK_WORKER_MAX_CONCURRENCY = 5


class BulkOperations(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: FunctionFactory,
        jobs_table: dynamodb.ITableV2,
        execution_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue, self.dead_letter_queue = queue_with_dead_letters(
            self,
            name=config.BULK_QUEUE,
            dead_letter_name=config.BULK_DLQ,
            visibility_seconds=config.BULK_VISIBILITY_SECONDS,
            max_receives=config.BULK_MAX_RECEIVES,
        )
        self.worker = functions.create(
            "BulkWorkerFunction",
            code_dir="bulk_worker",
            description="jobsched bulk worker: one page of a bulk pause/resume per message",
            timeout=Duration.seconds(config.BULK_WORKER_TIMEOUT_SECONDS),
        )
        functions.live_alias(self.worker).add_event_source(
            SqsEventSource(
                self.queue,
                batch_size=BULK_WORKER_BATCH_SIZE,
                report_batch_item_failures=True,
                max_concurrency=BULK_WORKER_MAX_CONCURRENCY,
            )
        )
        self.queue.grant_send_messages(self.worker)  # the next page
        # Reads the operation and a page of its tenant's jobs (Query), pauses or resumes each (UpdateItem)
        # and records the page (PutItem, conditional): its tenants' partitions only, no index.
        grant_partitions(
            self.worker, jobs_table, ("GetItem", "Query", "UpdateItem", "PutItem"), TENANT_PARTITIONS
        )
        execution_queue.grant_send_messages(self.worker)  # a resume queues the fires its pause missed
