"""The execution archive of one region: its bucket, the archiver, and the alarms on both.

History older than the executions table's 30 days lives here until the 12-month retention
(jobsched.execution.archive has the object layout). Every third day a rule invokes the archiver to plan the
run: one message per scan segment on the archive queue; the archiver then scans the segments two at a time
at a bounded read rate, copying the executions the table's TTL removes within six days into the bucket.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Token, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.aws_lambda_event_sources import SqsEventSource
from constructs import Construct

from infra.constructs.execution_queue import queue_with_dead_letters
from infra.constructs.function_factory import FunctionFactory
from jobsched import config
from jobsched.execution.archive import ARCHIVE_AHEAD, ARCHIVE_EVERY
from jobsched.execution.models import HISTORY_RETENTION, TABLE_RETENTION

ARCHIVER_TIMEOUT = Duration.seconds(config.ARCHIVER_TIMEOUT_SECONDS)
# Most of a segment's time is spent waiting for its read rate; memory holds one job's items at a time.
ARCHIVER_MEMORY_MB = 256
ARCHIVER_BATCH_SIZE = 1  # one segment per invocation: its scan fits the timeout, a failure redoes one segment
# Segments scanned at a time: with config.ARCHIVE_READ_UNITS_PER_SECOND each, the run's read rate on the
# table (2 x 25 = 50 units/s; docs/operations.md, "Capacity of the executions table").
ARCHIVER_MAX_CONCURRENCY = 2
PLAN_EVENT = {"plan": True}
# 00:30 UTC on days 1, 4, 7, ... of the month (ARCHIVE_EVERY; a month's end makes one gap shorter, never
# longer, so each execution still meets two runs within ARCHIVE_AHEAD of its expiry).
ARCHIVE_SCHEDULE = events.Schedule.cron(minute="30", hour="0", day=f"1/{ARCHIVE_EVERY.days}")
# Objects are written about TABLE_RETENTION - ARCHIVE_AHEAD after their day; they go when it is a year old.
ARCHIVE_EXPIRATION = HISTORY_RETENTION - TABLE_RETENTION + ARCHIVE_AHEAD
# Kept in S3 Standard while recent history is read most; then Glacier Instant Retrieval (millisecond
# reads, as the API needs). S3 leaves objects under 128 KB in Standard (most days of a rarely run job).
COLD_AFTER = Duration.days(60)
ARCHIVER_DLQ = config.ARCHIVE_DLQ


class ExecutionArchive(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: FunctionFactory,
        executions_table: dynamodb.ITableV2,
        regions: tuple[str, ...],
        readers: list[iam.IGrantable],
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=config.archive_bucket_name(stack.account, stack.region),
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="history-retention",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=COLD_AFTER,
                        )
                    ],
                    expiration=Duration.days(ARCHIVE_EXPIRATION.days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
        Validations.of(self.bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason="Only the service's own functions read and write this bucket (IAM, TLS-only policy, "
                "no "
                "public access); CloudTrail records the bucket's management events. Server access logs would "
                "add a second bucket and a log object per request batch for no reader.",
            )
        )

        # The run's segments wait in the archive queue; a segment that failed ARCHIVE_MAX_RECEIVES times, and
        # a planning run that failed after its retries, land in the one dead-letter queue, which alarms.
        self.queue, self.dead_letter_queue = queue_with_dead_letters(
            self,
            name=config.ARCHIVE_QUEUE,
            dead_letter_name=ARCHIVER_DLQ,
            visibility_seconds=config.ARCHIVE_VISIBILITY_SECONDS,
            max_receives=config.ARCHIVE_MAX_RECEIVES,
        )
        self.function = functions.create(
            "ArchiverFunction",
            code_dir="archiver",
            description="jobsched archiver: executions about to leave the table -> the archive bucket",
            timeout=ARCHIVER_TIMEOUT,
            memory_size=ARCHIVER_MEMORY_MB,
            environment={"ARCHIVE_READ_UNITS_PER_SECOND": f"{config.ARCHIVE_READ_UNITS_PER_SECOND:g}"},
        )
        alias = functions.live_alias(self.function)
        alias.configure_async_invoke(
            on_failure=destinations.SqsDestination(self.dead_letter_queue), retry_attempts=2
        )
        alias.add_event_source(
            SqsEventSource(
                self.queue, batch_size=ARCHIVER_BATCH_SIZE, max_concurrency=ARCHIVER_MAX_CONCURRENCY
            )
        )
        # Queues the run's segments (the plan); reads (to merge) and writes day objects and day indexes;
        # scans this region's executions table. ListBucket lists nothing: without it S3 answers a missing
        # object with AccessDenied, not NoSuchKey.
        self.queue.grant_send_messages(self.function)
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject"], resources=[self.bucket.arn_for_objects("*")]
            )
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn])
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:Scan"], resources=[executions_table.table_arn])
        )
        bucket_id = stack.get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        Validations.of(self.function.role or self.function).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]",
                reason="The archiver writes one object per tenant, job and day, named at run time, in this "
                "region's archive bucket only.",
            )
        )
        self.rule = events.Rule(
            self,
            "Daily",
            schedule=ARCHIVE_SCHEDULE,
            targets=[targets.LambdaFunction(alias, event=events.RuleTargetInput.from_object(PLAN_EVENT))],
        )
        self._grant_readers(readers, regions)
        self.alarms = self._alarms(alarm_topic)

    def _grant_readers(self, readers: list[iam.IGrantable], regions: tuple[str, ...]) -> None:
        """The Executions API reads a job's archive in the job's home region, whichever region serves it."""
        stack = Stack.of(self)
        buckets = [
            f"arn:{stack.partition}:s3:::{config.archive_bucket_name(stack.account, r)}" for r in regions
        ]
        for reader in readers:
            # Reads go by a job's day index (GET); ListBucket only makes a missing object NoSuchKey.
            reader.grant_principal.add_to_principal_policy(
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=buckets)
            )
            reader.grant_principal.add_to_principal_policy(
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"{arn}/*" for arn in buckets])
            )
            role = getattr(reader, "role", None)
            if isinstance(role, Construct):
                Validations.of(role).acknowledge(
                    *[
                        Acknowledgment(
                            id=f"AwsSolutions-IAM5[Resource::{_nag_bucket(stack, r)}/*]",
                            reason="Reads the execution archive's objects (one per tenant, job and day, "
                            "named "
                            "at run time) in each region's archive bucket; read only.",
                        )
                        for r in regions
                    ]
                )

    def _alarms(self, topic: sns.ITopic) -> list[cloudwatch.Alarm]:
        prefix = f"{config.SERVICE}-{Stack.of(self).region}-warning-"
        failed = cloudwatch.Alarm(
            self,
            "ArchiverFailed",
            alarm_name=prefix + "ArchiverFailed",
            alarm_description="[WARNING] An archive run (its plan, or a scan segment) failed: history about "
            "to leave the table may not be archived. See docs/operations.md (archive) to rerun it before the "
            "TTL removes it.",
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        # No alarm of its own on the archiver's errors: a run that still fails after its retries is in the
        # DLQ (above), and repeated errors raise its watched-function alarm (ArchiverFunction-Errors), which
        # its deployments roll back on (docs/decisions.md).
        failed.add_alarm_action(cloudwatch_actions.SnsAction(topic))
        failed.add_ok_action(cloudwatch_actions.SnsAction(topic))
        return [failed]


def _nag_bucket(stack: Stack, region: str) -> str:
    """A bucket ARN the way cdk-nag prints it (an unresolved account as <AWS::AccountId>)."""
    partition = "<AWS::Partition>" if Token.is_unresolved(stack.partition) else stack.partition
    account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
    return f"arn:{partition}:s3:::{config.archive_bucket_name(account, region)}"
