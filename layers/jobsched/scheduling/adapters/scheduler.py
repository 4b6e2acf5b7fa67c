"""EventBridge Scheduler: one region's schedule group, as schedule-sync's SchedulerGateway.

Schedule writes are rate-limited per account and region (docs/scheduling.md): a throttled call is retried
here with exponential backoff and full jitter, and then raised, so the stream retries the record later.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobsched.execution.fire import Trigger
from jobsched.keyscheme import JobKey
from jobsched.scheduling.sync import (
    ExistingSchedule,
    ScheduleDefinition,
    ScheduleRejected,
    version_in_description,
)

THROTTLING_CODES = frozenset({"ThrottlingException", "TooManyRequestsException"})
MAX_THROTTLE_RETRIES = 5
BASE_BACKOFF_SECONDS = 0.2
MAX_BACKOFF_SECONDS = 5.0


class ScheduleThrottled(Exception):
    """Still throttled after the retries: the record is reported as failed and comes back later."""


@dataclass(frozen=True)
class DeliveryTarget:
    """Where fires go (the execution queue), who sends them, and where undeliverable fires end up."""

    queue_arn: str
    role_arn: str
    dead_letter_arn: str
    max_retry_attempts: int = 10
    max_event_age_seconds: int = 3600


class EventBridgeScheduleGateway:
    def __init__(
        self,
        client: Any,
        group: str,
        target: DeliveryTarget,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float], float] = lambda ceiling: random.uniform(0, ceiling),  # noqa: S311
    ) -> None:
        self._client = client
        self._group = group
        self._target = target
        self._sleep = sleep
        self._jitter = jitter

    @property
    def _errors(self) -> type[Exception]:
        # Read on use, not in __init__: a deferred client is then made by the first call, not at import.
        errors: type[Exception] = self._client.exceptions.ClientError
        return errors

    def get(self, name: str) -> ExistingSchedule | None:
        try:
            found = self._call(self._client.get_schedule, Name=name, GroupName=self._group)
        except self._errors as exc:
            if _code(exc) == "ResourceNotFoundException":
                return None
            raise
        return ExistingSchedule(
            arn=str(found["Arn"]),
            version=version_in_description(found.get("Description")),
            enabled=found.get("State") == "ENABLED",
            fire_token=fire_token_of(found.get("Target", {}).get("Input")),
        )

    def create(self, definition: ScheduleDefinition) -> str:
        try:
            created = self._call(self._client.create_schedule, **self._request(definition))
        except self._errors as exc:
            if _code(exc) == "ConflictException":
                return self.update(definition)  # created meanwhile (a retried record): converge
            raise _rejected(exc) from exc
        return str(created["ScheduleArn"])

    def update(self, definition: ScheduleDefinition) -> str:
        try:
            updated = self._call(self._client.update_schedule, **self._request(definition))
        except self._errors as exc:
            if _code(exc) == "ResourceNotFoundException":
                return self.create(definition)
            raise _rejected(exc) from exc
        return str(updated["ScheduleArn"])

    def delete(self, name: str) -> bool:
        try:
            self._call(self._client.delete_schedule, Name=name, GroupName=self._group)
        except self._errors as exc:
            if _code(exc) == "ResourceNotFoundException":
                return False
            raise
        return True

    def _request(self, definition: ScheduleDefinition) -> dict[str, Any]:
        window: dict[str, Any] = (
            {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": definition.flexible_window_minutes}
            if definition.flexible_window_minutes
            else {"Mode": "OFF"}
        )
        request: dict[str, Any] = {
            "Name": definition.name,
            "GroupName": self._group,
            "ScheduleExpression": definition.expression.text,
            "ScheduleExpressionTimezone": definition.timezone,
            "Description": definition.description,
            "State": "ENABLED" if definition.enabled else "DISABLED",
            "FlexibleTimeWindow": window,
            "ActionAfterCompletion": "DELETE" if definition.delete_after_completion else "NONE",
            "Target": {
                "Arn": self._target.queue_arn,
                "RoleArn": self._target.role_arn,
                "Input": scheduler_input_template(definition.job, definition.version, definition.fire_token),
                "RetryPolicy": {
                    "MaximumRetryAttempts": self._target.max_retry_attempts,
                    "MaximumEventAgeInSeconds": definition.max_event_age_seconds
                    or self._target.max_event_age_seconds,
                },
                "DeadLetterConfig": {"Arn": self._target.dead_letter_arn},
            },
        }
        if definition.start_at is not None:
            request["StartDate"] = definition.start_at
        if definition.end_at is not None:
            request["EndDate"] = definition.end_at
        return request

    def _call(self, operation: Callable[..., Any], **kwargs: Any) -> Any:
        for attempt in range(MAX_THROTTLE_RETRIES + 1):
            try:
                return operation(**kwargs)
            except self._errors as exc:
                if _code(exc) not in THROTTLING_CODES:
                    raise
                if attempt == MAX_THROTTLE_RETRIES:
                    raise ScheduleThrottled(
                        f"{operation.__name__} still throttled after {attempt} retries"
                    ) from exc
                self._sleep(self._jitter(min(MAX_BACKOFF_SECONDS, BASE_BACKOFF_SECONDS * 2**attempt)))
        raise AssertionError("unreachable")


def scheduler_input_template(job: JobKey, job_version: int, fire_token: str | None) -> str:
    """The Input of a job's schedule target: a fire message (jobsched.execution.fire.FireMessage) with
    EventBridge Scheduler's context placeholders, which the scheduler fills at each fire."""
    fields: dict[str, object] = {
        "tenant": job.tenant,
        "job_id": job.job_id,
        "job_version": job_version,
        "trigger": Trigger.SCHEDULE.value,
    }
    if fire_token is not None:
        fields["fire_token"] = fire_token
    fixed = json.dumps(fields)
    return (
        fixed[:-1] + ', "scheduled_time": "<aws.scheduler.scheduled-time>"'
        ', "scheduler_execution_id": "<aws.scheduler.execution-id>"'
        ', "scheduler_attempt": <aws.scheduler.attempt-number>}'
    )


def fire_token_of(template: str | None) -> str | None:
    """The fire token a schedule's Input carries; None for none (or an Input this adapter did not write)."""
    try:
        fields = json.loads((template or "").replace("<aws.scheduler.attempt-number>", "1"))
    except ValueError:
        return None
    token = fields.get("fire_token") if isinstance(fields, dict) else None
    return token if isinstance(token, str) else None


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _rejected(exc: Any) -> Exception:
    if _code(exc) in {"ValidationException", "ServiceQuotaExceededException"}:
        message = str(exc.response.get("Error", {}).get("Message", exc))
        return ScheduleRejected(f"the scheduler refused the schedule: {message}")
    error: Exception = exc
    return error
