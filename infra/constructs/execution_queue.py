"""The execution queue: where every fire of a job lands (from the scheduler, run-now and retries).

Its dead-letter queue catches messages the executor failed on EXECUTION_MAX_RECEIVES times.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from jobsched import config

DLQ_RETENTION = Duration.days(14)


class ExecutionQueue(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=config.EXECUTION_DLQ,
            retention_period=DLQ_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=config.EXECUTION_QUEUE,
            visibility_timeout=Duration.seconds(config.EXECUTION_VISIBILITY_SECONDS),
            retention_period=Duration.days(4),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=config.EXECUTION_MAX_RECEIVES, queue=self.dead_letter_queue
            ),
        )
