"""Scheduling in one region: the schedule group, the role EventBridge Scheduler sends fires with, the
scheduler's dead-letter queue, and schedule-sync on this region's stream of the jobs table.

Only schedule-sync may create, update and delete schedules, and only it may pass the scheduler role.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CustomResource, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.execution_queue import DLQ_RETENTION, ExecutionQueue
from infra.constructs.function_factory import FunctionFactory
from infra.constructs.job_api_routes import nag_table_arn
from jobsched import config
from jobsched.keyscheme import JOB_PREFIX

# Fires the scheduler could not deliver are retried for up to an hour, then go to its DLQ.
SCHEDULER_MAX_RETRY_ATTEMPTS = 10
SCHEDULER_MAX_EVENT_AGE = Duration.hours(1)
SYNC_TIMEOUT = Duration.minutes(2)
SYNC_BATCH_SIZE = 50
SYNC_RETRY_ATTEMPTS = 10
SYNC_MAX_RECORD_AGE = Duration.days(1)
SCHEDULE_ACTIONS = (
    "scheduler:CreateSchedule",
    "scheduler:UpdateSchedule",
    "scheduler:DeleteSchedule",
    "scheduler:GetSchedule",
)
DLQ_REASON = (
    "This queue is itself a dead-letter queue (of {what}); giving it one more DLQ would only move the "
    "messages a second time. It keeps them 14 days and the status page shows its depth."
)


class Scheduling(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: FunctionFactory,
        execution_queue: ExecutionQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.group = scheduler.ScheduleGroup(
            self, "Group", schedule_group_name=config.SCHEDULE_GROUP, removal_policy=RemovalPolicy.RETAIN
        )
        self.scheduler_dlq = self._dead_letter_queue(
            "SchedulerDeadLetterQueue", config.SCHEDULER_DLQ, "EventBridge Scheduler deliveries"
        )
        self.sync_dlq = self._dead_letter_queue(
            "SyncDeadLetterQueue", config.SCHEDULE_SYNC_DLQ, "schedule-sync stream records"
        )
        schedules_arn = stack.format_arn(
            service="scheduler", resource="schedule", resource_name=f"{config.SCHEDULE_GROUP}/*"
        )
        # Confused deputy: the scheduler may assume this role only for schedules of this account's group.
        self.role = iam.Role(
            self,
            "SchedulerRole",
            description="EventBridge Scheduler sends job fires to the execution queue",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": schedules_arn},
                },
            ),
        )
        execution_queue.queue.grant_send_messages(self.role)
        self.scheduler_dlq.grant_send_messages(self.role)

        self.function = functions.create(
            "ScheduleSyncFunction",
            code_dir="schedule_sync",
            description="jobsched schedule-sync: jobs table stream -> EventBridge Scheduler schedules",
            timeout=SYNC_TIMEOUT,
            environment={
                "SCHEDULE_GROUP_NAME": config.SCHEDULE_GROUP,
                "SCHEDULER_ROLE_ARN": self.role.role_arn,
                "EXECUTION_QUEUE_ARN": execution_queue.queue.queue_arn,
                "SCHEDULER_DLQ_ARN": self.scheduler_dlq.queue_arn,
            },
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=list(SCHEDULE_ACTIONS), resources=[schedules_arn])
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            )
        )
        jobs_table = self._jobs_table_with_stream(functions)
        jobs_table.grant(self.function, "dynamodb:GetItem", "dynamodb:UpdateItem")
        # On the `live` alias, which CodeDeploy shifts by canary, like every event source of the service.
        functions.live_alias(self.function).add_event_source(
            event_sources.DynamoEventSource(
                jobs_table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=SYNC_BATCH_SIZE,
                max_batching_window=Duration.seconds(1),
                # One batch per shard at a time keeps records of a job in order and bounds the write rate.
                parallelization_factor=1,
                retry_attempts=SYNC_RETRY_ATTEMPTS,
                max_record_age=SYNC_MAX_RECORD_AGE,
                report_batch_item_failures=True,
                on_failure=event_sources.SqsDlq(self.sync_dlq),
                # Only job items wake the function (not key records, counters or idempotency records), and
                # only those homed here before or after the change (the filters are OR'ed): another region's
                # sync would read the job, find it homed elsewhere and delete a schedule that is not there.
                # A move names both homes, so both see it (docs/decisions.md, Cost).
                filters=[
                    lambda_.FilterCriteria.filter(
                        {
                            "dynamodb": {
                                "Keys": {"sk": {"S": lambda_.FilterRule.begins_with(JOB_PREFIX)}},
                                image: {"region": {"S": lambda_.FilterRule.is_equal(stack.region)}},
                            }
                        }
                    )
                    for image in ("NewImage", "OldImage")
                ],
            )
        )
        Validations.of(self.function.role or self.function).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{_nag_schedules_arn(stack)}]",
                reason="schedule-sync manages one schedule per job, named at run time, inside the service's "
                "own schedule group; the wildcard is limited to that group in this region and account.",
            )
        )

    def _dead_letter_queue(self, construct_id: str, name: str, what: str) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            construct_id,
            queue_name=name,
            retention_period=DLQ_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        Validations.of(queue).acknowledge(
            Acknowledgment(id="AwsSolutions-SQS3", reason=DLQ_REASON.format(what=what))
        )
        return queue

    def _jobs_table_with_stream(self, functions: FunctionFactory) -> dynamodb.ITableV2:
        """The local replica with its own stream ARN, which exists only after the replica does.

        A global table's replica streams each have their own ARN (with a creation timestamp), and
        CloudFormation returns only the deploying region's; so each region reads its replica's
        LatestStreamArn with DescribeTable at deploy time.
        """
        stack = Stack.of(self)
        table_arn = stack.format_arn(service="dynamodb", resource="table", resource_name=config.JOBS_TABLE)
        lookup = functions.create(
            "StreamArnLookupFunction",
            code_dir="stream_arn_lookup",
            description="jobsched deploy time: this region's jobs table replica stream ARN",
        )
        lookup.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:DescribeTable"], resources=[table_arn])
        )
        stream = CustomResource(
            self,
            "JobsStreamArn",
            service_token=functions.live_alias(lookup).function_arn,
            resource_type="Custom::TableStreamArn",
            properties={"TableName": config.JOBS_TABLE},
        )
        return dynamodb.TableV2.from_table_attributes(
            self,
            "JobsTable",
            table_name=config.JOBS_TABLE,
            table_stream_arn=stream.get_att_string("StreamArn"),
        )


def _nag_schedules_arn(stack: Stack) -> str:
    """The schedules ARN as cdk-nag prints it (pseudo parameters spelled the way nag_table_arn does)."""
    table = nag_table_arn(stack, "T")
    return table.replace(":dynamodb:", ":scheduler:").replace(
        ":table/T", f":schedule/{config.SCHEDULE_GROUP}/*"
    )
