"""The Schedule API: /api/v1/schedule/{job_id} (POST resume, DELETE pause) and /api/v1/schedule/status."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.function_factory import FunctionFactory
from infra.constructs.job_api_routes import COG4_REASON, JOB_ID_PARAMETER
from infra.constructs.table_access import TENANT_PARTITIONS, grant_partitions


class ScheduleApiRoutes(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api_v1: apigw.Resource,
        request_validator: apigw.IRequestValidator,
        functions: FunctionFactory,
        jobs_table: dynamodb.ITableV2,
        execution_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.create(
            "ScheduleApiFunction",
            code_dir="schedule_api",
            description="jobsched Schedule API: pause, resume, scheduling status",
        )
        # Pause/resume: read and conditionally update one job; status: query the tenant's jobs. Its own
        # tenant's items of the table only (no key records, no index: this function never reads one).
        grant_partitions(self.function, jobs_table, ("GetItem", "UpdateItem", "Query"), TENANT_PARTITIONS)
        execution_queue.grant_send_messages(self.function)  # a resume queues the fires its pause missed
        integration = apigw.LambdaIntegration(functions.live_alias(self.function), allow_test_invoke=False)
        schedule = api_v1.add_resource("schedule")
        job = schedule.add_resource("{job_id}")
        self.methods = [
            schedule.add_resource("status").add_method(
                "GET", integration, request_validator=request_validator
            )
        ]
        self.methods += [
            job.add_method(
                verb,
                integration,
                request_validator=request_validator,
                request_parameters={JOB_ID_PARAMETER: True},
            )
            for verb in ("POST", "DELETE")
        ]
        for method in self.methods:
            Validations.of(method).acknowledge(Acknowledgment(id="AwsSolutions-COG4", reason=COG4_REASON))
