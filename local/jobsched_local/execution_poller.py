"""Feeds the execution queue into the executor the way Lambda's SQS event source does.

Batches of up to 10 messages become one SQS event; the executor answers with batchItemFailures, and only
the other messages are deleted. Failed ones stay on the queue and come back after the visibility timeout;
moto moves a message to the DLQ once it was received more than maxReceiveCount times, as SQS does.
Delayed messages (the executor's retries) stay invisible until their DelaySeconds are over.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from jobsched import config
from jobsched_local.lambda_context import make_context
from jobsched_local.lambda_functions import Handler

LOG = logging.getLogger(__name__)
EXECUTOR_FUNCTION = "executor"
BATCH_SIZE = 10
WAIT_SECONDS = 1  # long polling: an idle queue costs one call per second

ClientFor = Callable[[str, str], Any]


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda hands an SQS-triggered function for these received messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


class ExecutionPoller:
    """A background worker: receive a batch, invoke the executor, delete what it did not report as failed."""

    name = "execution-poller"

    def __init__(
        self,
        handler: Handler,
        client_for: ClientFor,
        region: str,
        queue_name: str = config.EXECUTION_QUEUE,
        wait_seconds: int = WAIT_SECONDS,
        function: str = EXECUTOR_FUNCTION,
        timeout_seconds: int = config.EXECUTOR_TIMEOUT_SECONDS,
    ) -> None:
        """`function` and `timeout_seconds`: the SQS-triggered function this feeds (the executor by default;
        the bulk worker on the bulk queue, which the same loop serves)."""
        self._function = function
        self._timeout_seconds = timeout_seconds
        if function != EXECUTOR_FUNCTION:
            self.name = f"{function.replace('_', '-')}-poller"
        self._handler = handler
        self._client_for = client_for
        self._region = region
        self._queue_name = queue_name
        self._wait_seconds = wait_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._queue: tuple[Any, str, str] | None = None  # client, URL, ARN: made once, on first use

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except Exception:
                LOG.exception("execution poller failed a step")
                self._stopping.wait(1)

    def _queue_of(self) -> tuple[Any, str, str]:
        if self._queue is None:
            sqs = self._client_for("sqs", self._region)
            url = sqs.get_queue_url(QueueName=self._queue_name)["QueueUrl"]
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
            self._queue = (sqs, str(url), str(attributes["QueueArn"]))
        return self._queue

    def poll_once(self) -> int:
        """One receive and one invocation; returns how many messages were received."""
        sqs, url, arn = self._queue_of()
        received = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=BATCH_SIZE,
            WaitTimeSeconds=self._wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return 0
        context = make_context(self._function, self._region)
        context.timeout_seconds = float(self._timeout_seconds)
        try:
            response = self._handler(sqs_event(received, arn, self._region), context) or {}
        except Exception:
            # The whole invocation failed: Lambda retries the whole batch after the visibility timeout.
            LOG.exception(
                "%s invocation failed; %d messages return after the visibility timeout",
                self._function,
                len(received),
            )
            return len(received)
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        done = [m for m in received if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return len(received)
