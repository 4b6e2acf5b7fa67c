"""`jobsched dlq redrive`: move messages from the execution DLQ back onto the execution queue.

Receive, send, then delete, one batch at a time: a message is on the DLQ until its copy is on the queue,
so an interruption can duplicate a message but never lose one (the executor's claim absorbs duplicates).
Works against AWS and against the local runtime (AWS_ENDPOINT_URL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any

from tqdm import tqdm

from jobsched import config

BATCH = 10


@dataclass(frozen=True)
class RedriveSummary:
    moved: int
    failed: int
    remaining: int


def approximate_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"].get("ApproximateNumberOfMessages", 0))


def redrive(
    sqs: Any,
    *,
    max_messages: int | None = None,
    source: str = config.EXECUTION_DLQ,
    destination: str = config.EXECUTION_QUEUE,
    progress_to: IO[str] | None = None,
) -> RedriveSummary:
    source_url = sqs.get_queue_url(QueueName=source)["QueueUrl"]
    destination_url = sqs.get_queue_url(QueueName=destination)["QueueUrl"]
    depth = approximate_depth(sqs, source_url)
    total = min(depth, max_messages) if max_messages is not None else depth
    moved = failed = 0
    with tqdm(total=total, unit="msg", desc="redrive", file=progress_to, disable=progress_to is None) as bar:
        while max_messages is None or moved + failed < max_messages:
            want = BATCH if max_messages is None else min(BATCH, max_messages - moved - failed)
            messages = sqs.receive_message(
                QueueUrl=source_url,
                MaxNumberOfMessages=want,
                WaitTimeSeconds=0,
                VisibilityTimeout=60,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            sent = sqs.send_message_batch(
                QueueUrl=destination_url,
                Entries=[
                    {"Id": str(i), "MessageBody": m["Body"]}
                    | ({"MessageAttributes": m["MessageAttributes"]} if m.get("MessageAttributes") else {})
                    for i, m in enumerate(messages)
                ],
            )
            ok = {entry["Id"] for entry in sent.get("Successful", [])}
            to_delete = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(messages)
                if str(i) in ok
            ]
            if to_delete:
                sqs.delete_message_batch(QueueUrl=source_url, Entries=to_delete)
            moved += len(to_delete)
            failed += len(messages) - len(to_delete)
            bar.update(len(messages))
    return RedriveSummary(moved=moved, failed=failed, remaining=approximate_depth(sqs, source_url))


def format_summary(summary: RedriveSummary, region: str) -> str:
    line = (
        f"moved {summary.moved} messages from {config.EXECUTION_DLQ} to {config.EXECUTION_QUEUE} in {region}"
    )
    if summary.failed:
        line += f"; {summary.failed} could not be sent and stay on the DLQ"
    return line + f"; about {summary.remaining} left on the DLQ"
