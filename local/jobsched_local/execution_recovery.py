"""Executions a crash left `running` are finished or retried: their messages are sent again.

The execution queue is moto's, in memory, so a crash loses what was on it. The executions table
(DynamoDB Local) keeps what matters: an execution `running` with `next_attempt_at` awaits a retry whose
message may be gone; one `running` without it was being run when its claimer died. Once at start and
then every RECOVERY_INTERVAL_SECONDS this worker sends the message again:
- a retry overdue by RETRY_GRACE: the next attempt (attempts + 1), as the executor would have sent it;
- an attempt whose lease has passed: the same attempt, which the executor's claim lets a new claimer
  take over (the lease bounds how long a live executor may hold it, so a live one is never doubled).
A message sent again while the original still exists is a duplicate delivery, which the executor's
claim absorbs.
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
        self, dynamodb: Any, send: Send, now: Now | None = None, interval: float = RECOVERY_INTERVAL_SECONDS
    ) -> None:
        self._dynamodb = dynamodb
        self._send = send
        self._now = now or (lambda: datetime.now(UTC))
        self._worker = PeriodicWorker(self.name, interval, self.run_once)

    def run_once(self) -> int:
        return recover(self._dynamodb, self._send, self._now())

    def start(self) -> None:
        try:
            self.run_once()
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
