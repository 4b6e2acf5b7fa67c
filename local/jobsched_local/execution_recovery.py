"""Executions a crash left `running` are finished or retried: their messages are sent again.

The execution queue is moto's, in memory, so a crash loses what was on it. The executions table
(DynamoDB Local) keeps what matters: an execution `running` with `next_attempt_at` awaits a retry whose
message may be gone; one `running` without it was being run when its claimer died.

At start, before the executor polls (the worker's `start` runs before the execution poller's), every
`running` execution belongs to the previous run of this single-node runtime, whose queue and executor
are gone, so nothing legitimately holds it:
- one awaiting a retry gets its next attempt (attempts + 1) again, not before its `next_attempt_at`;
- one that was being run has its lease released (a conditional write on the attempt and lease it had)
  and gets the same attempt again, which the executor's claim lets the new claimer take over.
Then every RECOVERY_INTERVAL_SECONDS, for what a live runtime can still leave behind:
- a retry overdue by RETRY_GRACE: the next attempt, as the executor would have sent it;
- an attempt whose lease has passed: the same attempt (the lease bounds how long a live executor may
  hold it, so a live one is never doubled).
A message sent again while the original still exists is a duplicate delivery, which the executor's
claim absorbs; the executor also re-checks the job (a deleted or changed job ends the execution skipped).
Messages the API queued that never made a record at all are the journal's (queue_journal.py): replayed
at start, before the running ones are looked at.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from jobsched import config
from jobsched.aws.dynamodb import from_item, to_item
from jobsched.execution.fire import FireMessage, Trigger
from jobsched.execution.models import ExecutionStatus
from jobsched_local.queue_journal import QueueJournal, execution_has_record
from jobsched_local.workers import PeriodicWorker

LOG = logging.getLogger(__name__)
RECOVERY_INTERVAL_SECONDS = 60.0
RETRY_GRACE = timedelta(seconds=60)
Now = Callable[[], datetime]
Send = Callable[[FireMessage], None]


def running_executions(dynamodb: Any, table: str = config.EXECUTIONS_TABLE) -> Iterator[dict[str, Any]]:
    scan = {
        "TableName": table,
        "FilterExpression": "#status = :running",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": to_item({":running": ExecutionStatus.RUNNING.value}),
        "ConsistentRead": True,
    }
    for page in dynamodb.get_paginator("scan").paginate(**scan):
        for item in page.get("Items", []):
            yield from_item(item)


def message_to_resend(item: dict[str, Any], now: datetime) -> FireMessage | None:
    """The message that moves this running execution on, or None while it is still legitimately held."""
    attempts = int(item.get("attempts") or 1)
    next_attempt_at = _time(item.get("next_attempt_at"))
    lease_until = int(item.get("lease_until") or 0)
    if next_attempt_at is not None:
        if next_attempt_at > now - RETRY_GRACE:
            return None
        attempt = attempts + 1
    elif 0 < lease_until < now.timestamp():
        attempt = attempts
    else:
        return None
    return _message(item, attempt, now)


def _message(item: dict[str, Any], attempt: int, now: datetime) -> FireMessage:
    return FireMessage(
        tenant=str(item["tenant"]),
        job_id=str(item["job_id"]),
        job_version=int(item.get("job_version") or 1),
        scheduled_time=_time(item["scheduled_at"]) or now,
        trigger=Trigger(str(item.get("trigger") or Trigger.SCHEDULE.value)),
        execution_id=str(item["execution_id"]),
        attempt=attempt,
        retry_of=str(item["retry_of"]) if item.get("retry_of") else None,
    )


def message_at_start(item: dict[str, Any], now: datetime) -> FireMessage:
    """At start nothing holds a running execution: the retry it awaits, or the attempt it was in."""
    attempts = int(item.get("attempts") or 1)
    next_attempt_at = _time(item.get("next_attempt_at"))
    if next_attempt_at is None:
        return _message(item, attempts, now)
    message = _message(item, attempts + 1, now)
    return message.model_copy(update={"not_before": next_attempt_at}) if next_attempt_at > now else message


def release_lease(dynamodb: Any, item: dict[str, Any], table: str = config.EXECUTIONS_TABLE) -> bool:
    """Mark the lease of a dead claimer's attempt as over, so a new claim of the same attempt succeeds.

    Conditional on the attempt and lease the record still has: if anything moved it on, nothing changes.
    """
    lease_until = int(item.get("lease_until") or 0)
    if lease_until == 1:
        return True  # released already
    try:
        dynamodb.update_item(
            TableName=table,
            Key=to_item({"pk": item["pk"], "sk": item["sk"]}),
            UpdateExpression="SET lease_until = :released",
            ConditionExpression="#status = :running AND attempts = :k AND lease_until = :lease",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(
                {
                    ":released": 1,
                    ":running": ExecutionStatus.RUNNING.value,
                    ":k": int(item.get("attempts") or 1),
                    ":lease": lease_until,
                }
            ),
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def recover_at_start(dynamodb: Any, send: Send, now: datetime) -> int:
    """Send again what every execution the previous run left `running` needs; returns messages sent."""
    sent = 0
    for item in running_executions(dynamodb):
        try:
            message = message_at_start(item, now)
        except (KeyError, ValueError):
            LOG.warning("execution %s is running but unreadable; left as it is", item.get("execution_id"))
            continue
        if not item.get("next_attempt_at") and not release_lease(dynamodb, item):
            continue  # moved on meanwhile: not left behind
        send(message)
        sent += 1
        LOG.warning(
            "execution %s of %s/%s was left running by the previous run; sent attempt %d again",
            message.execution_id,
            message.tenant,
            message.job_id,
            message.attempt,
        )
    return sent


def recover(dynamodb: Any, send: Send, now: datetime) -> int:
    """Send again what every stuck execution needs; returns how many messages were sent."""
    sent = 0
    for item in running_executions(dynamodb):
        try:
            message = message_to_resend(item, now)
        except (KeyError, ValueError):
            LOG.warning("execution %s is running but unreadable; left as it is", item.get("execution_id"))
            continue
        if message is None:
            continue
        send(message)
        sent += 1
        LOG.warning(
            "execution %s of %s/%s was left running; sent attempt %d again",
            message.execution_id,
            message.tenant,
            message.job_id,
            message.attempt,
        )
    return sent


class ExecutionRecovery:
    name = "execution-recovery"

    def __init__(
        self,
        dynamodb: Any,
        send: Send,
        now: Now | None = None,
        interval: float = RECOVERY_INTERVAL_SECONDS,
        journal: QueueJournal | None = None,
        send_raw: Callable[[str], None] | None = None,
    ) -> None:
        self._dynamodb = dynamodb
        self._send = send
        self._now = now or (lambda: datetime.now(UTC))
        self._journal = journal
        self._send_raw = send_raw
        self._worker = PeriodicWorker(self.name, interval, self.run_once)

    def run_at_start(self) -> int:
        """The journal's unclaimed messages, then every execution the previous run left running."""
        sent = 0
        if self._journal is not None and self._send_raw is not None:
            sent += self._journal.replay(execution_has_record(self._dynamodb), self._send_raw)
        return sent + recover_at_start(self._dynamodb, self._send, self._now())

    def run_once(self) -> int:
        if self._journal is not None:
            self._journal.compact(execution_has_record(self._dynamodb))
        return recover(self._dynamodb, self._send, self._now())

    def start(self) -> None:
        try:
            self.run_at_start()
        except Exception:
            LOG.exception("recovering running executions at start failed; the next round retries")
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
