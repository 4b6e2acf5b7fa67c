"""The job census: every five minutes, active jobs, schedules in `error` and stuck executions, as gauges."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.function_factory import FunctionFactory
from jobsched import config

CENSUS_INTERVAL = Duration.minutes(5)


class JobMetrics(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: FunctionFactory,
        jobs_table: dynamodb.ITableV2,
        executions_table: dynamodb.ITableV2,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.create(
            "JobMetricsFunction",
            code_dir="job_metrics",
            description="jobsched job census: active jobs, schedules in error, stuck executions",
            timeout=Duration.seconds(60),
        )
        table_arn = jobs_table.table_arn
        # Queries of tenants' partitions and of the counters' index; count-only queries of the executions'
        # index of running ones. Nothing else.
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"],
                resources=[
                    table_arn,
                    f"{table_arn}/index/{config.GSI1}",
                    f"{executions_table.table_arn}/index/{config.GSI1}",
                ],
            )
        )
        self.rule = events.Rule(
            self,
            "Every5Minutes",
            schedule=events.Schedule.rate(CENSUS_INTERVAL),
            targets=[targets.LambdaFunction(functions.live_alias(self.function))],
        )
