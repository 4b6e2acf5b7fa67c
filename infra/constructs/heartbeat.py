"""The region's dead man's switch: a service-owned EventBridge Scheduler schedule that fires every minute.

It is made by the stack (no user action, no custom resource): an AWS::Scheduler::Schedule in the service's
group whose target is the execution queue, sent with the scheduler role like every job's fire, with the
same fire template (execution.heartbeat.heartbeat_input). The executor's target for it is the region's own
API: it calls the stage's `GET /health` (HEARTBEAT_PROBE_URL) and records the heartbeat only when that
answered 200. Its token is the UUID of the stack's id: stable across updates, unknown outside the account,
and the same value in the schedule's input and in the executor's environment (docs/decisions.md). The
executor records each arrival in the region's heartbeat item and counts heartbeat_ok; OperationsAlarms
pages when none arrives for three minutes.
"""

from __future__ import annotations

from aws_cdk import Aws, Fn
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from infra.constructs.execution_queue import ExecutionQueue
from infra.constructs.scheduling import Scheduling
from infra.constructs.table_access import grant_partitions
from jobsched import config
from jobsched.execution.heartbeat import (
    HEARTBEAT_DESCRIPTION,
    HEARTBEAT_EXPRESSION,
    HEARTBEAT_PROBE_URL_ENV,
    HEARTBEAT_SCHEDULE_NAME,
    HEARTBEAT_TOKEN_ENV,
    heartbeat_input,
)
from jobsched.keyscheme import HEARTBEAT_PK_PREFIX

# A heartbeat late by more than this is worthless: the scheduler drops it (to its DLQ) instead of retrying.
HEARTBEAT_MAX_EVENT_AGE_SECONDS = 120
HEARTBEAT_RETRY_ATTEMPTS = 2
# The heartbeat items the executor writes (execution.adapters.heartbeats): a partition of their own, so the
# executor can write no other item, not even a region's drill marker (REGION#<region>).
HEARTBEAT_PARTITIONS = (f"{HEARTBEAT_PK_PREFIX}*",)


def heartbeat_token() -> str:
    """The UUID at the end of the stack's id (arn:...:stack/<name>/<uuid>), resolved at deploy time."""
    return Fn.select(2, Fn.split("/", Aws.STACK_ID))


class Heartbeat(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        scheduling: Scheduling,
        execution_queue: ExecutionQueue,
        executor: lambda_.Function,
        jobs_table: dynamodb.ITableV2,
        api_health_url: str,
    ) -> None:
        super().__init__(scope, construct_id)
        token = heartbeat_token()
        self.schedule = scheduler.CfnSchedule(
            self,
            "Schedule",
            name=HEARTBEAT_SCHEDULE_NAME,
            group_name=config.SCHEDULE_GROUP,
            description=HEARTBEAT_DESCRIPTION,
            schedule_expression=HEARTBEAT_EXPRESSION,
            schedule_expression_timezone="UTC",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=execution_queue.queue.queue_arn,
                role_arn=scheduling.role.role_arn,
                input=heartbeat_input(token),
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                    arn=scheduling.scheduler_dlq.queue_arn
                ),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=HEARTBEAT_MAX_EVENT_AGE_SECONDS,
                    maximum_retry_attempts=HEARTBEAT_RETRY_ATTEMPTS,
                ),
            ),
        )
        self.schedule.node.add_dependency(scheduling.group)
        executor.add_environment(HEARTBEAT_TOKEN_ENV, token)
        executor.add_environment(HEARTBEAT_PROBE_URL_ENV, api_health_url)
        # Heartbeat items only: UpdateItem where the partition key is HEARTBEAT#<region>.
        grant_partitions(executor, jobs_table, ("UpdateItem",), HEARTBEAT_PARTITIONS)
