"""GET /health/deep: the function that checks what a request needs in this region, and its route."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.api_gateway import ApiGateway
from infra.constructs.function_factory import FunctionFactory


class DeepHealthRoute(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: FunctionFactory,
        api: ApiGateway,
        jobs_table: dynamodb.ITableV2,
        queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function: lambda_.Function = functions.create(
            "DeepHealthFunction",
            code_dir="deep_health",
            description="jobsched GET /health/deep: settings, jobs table, execution queue, operator drill",
            environment={"EXECUTION_QUEUE_URL": queue.queue_url},
        )
        # One GetItem of the region's drill marker (the table only, not its indexes) and one
        # GetQueueAttributes of the execution queue: all the checks may do.
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[jobs_table.table_arn])
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["sqs:GetQueueAttributes"], resources=[queue.queue_arn])
        )
        self.method = api.add_deep_health_route(functions.live_alias(self.function))
