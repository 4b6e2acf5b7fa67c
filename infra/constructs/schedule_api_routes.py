"""The Schedule API: /api/v1/schedule/{job_id} (POST resume, DELETE pause), /api/v1/schedule/status and bulk
pause/resume (/api/v1/schedule/bulk), as jobsched.api.routes declares them."""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.api_routes import add_keyed_methods
from infra.constructs.function_factory import FunctionFactory
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
        bulk_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.create(
            "ScheduleApiFunction",
            code_dir="schedule_api",
            description="jobsched Schedule API: pause, resume, scheduling status",
        )
        # Pause/resume: read and conditionally update one job; status: query the tenant's jobs; bulk: query
        # them, record the operation (PutItem) and read it back. Its own tenant's items of the table only
        # (no key records, no index: this function never reads one).
        grant_partitions(
            self.function, jobs_table, ("GetItem", "UpdateItem", "Query", "PutItem"), TENANT_PARTITIONS
        )
        execution_queue.grant_send_messages(self.function)  # a resume queues the fires its pause missed
        bulk_queue.grant_send_messages(self.function)  # the first page of a large bulk operation
        integration = apigw.LambdaIntegration(functions.live_alias(self.function), allow_test_invoke=False)
        self.methods = add_keyed_methods(api_v1, "schedule_api", integration, request_validator)
