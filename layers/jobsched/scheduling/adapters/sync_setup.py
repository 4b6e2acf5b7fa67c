"""schedule-sync wired to its AWS adapters: for the Lambda handler and, per region, the local runtime."""

from __future__ import annotations

from typing import Any

from jobsched.scheduling.adapters.job_schedule_store import DynamoJobScheduleStore
from jobsched.scheduling.adapters.scheduler import DeliveryTarget, EventBridgeScheduleGateway
from jobsched.scheduling.settings import SchedulingSettings
from jobsched.scheduling.sync import Clock, ScheduleSync
from jobsched.telemetry import record_schedule_rejected, record_schedule_sync_failure


def build_sync(
    settings: SchedulingSettings, scheduler: Any, dynamodb: Any, clock: Clock | None = None
) -> ScheduleSync:
    target = DeliveryTarget(
        queue_arn=settings.execution_queue_arn,
        role_arn=settings.scheduler_role_arn,
        dead_letter_arn=settings.scheduler_dlq_arn,
    )
    return ScheduleSync(
        settings.region,
        EventBridgeScheduleGateway(scheduler, settings.schedule_group, target),
        DynamoJobScheduleStore(dynamodb, settings.jobs_table),
        clock,
        on_failure=lambda change, error: record_schedule_sync_failure(change.job, error),
        on_rejected=record_schedule_rejected,
    )
