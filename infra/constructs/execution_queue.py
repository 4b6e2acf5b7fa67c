"""The execution queue: where every fire of a job lands (from the scheduler, run-now and retries).

Its dead-letter queue catches messages the executor failed on EXECUTION_MAX_RECEIVES times.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from jobsched import config

DLQ_RETENTION = Duration.days(14)


def queue_with_dead_letters(
    scope: Construct, *, name: str, dead_letter_name: str, visibility_seconds: int, max_receives: int
) -> tuple[sqs.Queue, sqs.Queue]:
    """A work queue and its dead-letter queue, both encrypted and TLS-only, as ids "Queue" and
    "DeadLetterQueue" in `scope`: a message that failed `max_receives` times moves to the second."""
    dead_letter_queue = sqs.Queue(
        scope,
        "DeadLetterQueue",
        queue_name=dead_letter_name,
        retention_period=DLQ_RETENTION,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
    )
    queue = sqs.Queue(
        scope,
        "Queue",
        queue_name=name,
        visibility_timeout=Duration.seconds(visibility_seconds),
        retention_period=Duration.days(4),
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=max_receives, queue=dead_letter_queue),
    )
    return queue, dead_letter_queue


class ExecutionQueue(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.queue, self.dead_letter_queue = queue_with_dead_letters(
            self,
            name=config.EXECUTION_QUEUE,
            dead_letter_name=config.EXECUTION_DLQ,
            visibility_seconds=config.EXECUTION_VISIBILITY_SECONDS,
            max_receives=config.EXECUTION_MAX_RECEIVES,
        )
