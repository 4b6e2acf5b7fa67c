"""Execution: the executor on the execution queue, the Execution API's routes, and the targets' IAM scope.

cdk.json context `execution_targets` limits which EventBridge buses and SQS queues jobs may target:
{"event_bus_arns": [...], "queue_arns": [...]}, ARN patterns where ${AWS::Region}, ${AWS::AccountId} and
${AWS::Partition} stand for the deploying stack's; absent, the account's own buses and queues in the region.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, Duration, Stack, Token, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from aws_cdk.aws_lambda_event_sources import SqsEventSource
from constructs import Construct

from infra.constructs.function_factory import FunctionFactory
from infra.constructs.job_api_routes import COG4_REASON, JOB_ID_PARAMETER, nag_table_arn
from jobsched import config

TARGETS_CONTEXT_KEY = "execution_targets"
DEFAULT_EVENT_BUS_ARNS = ("arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/*",)
DEFAULT_QUEUE_ARNS = ("arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:*",)
EXECUTOR_BATCH_SIZE = 10
EXECUTOR_MAX_CONCURRENCY = 50  # bounds concurrent executors per region (and so the load on targets)
EXECUTOR_MEMORY_MB = 512
EXECUTION_ID_PARAMETER = "method.request.path.execution_id"
TARGET_WILDCARD_REASON = (
    "Jobs name their own EventBridge bus or SQS queue, so the executor may call any bus or queue matching "
    "the patterns configured in cdk.json (execution_targets); by default the account's own in the region."
)


class Execution(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: FunctionFactory,
        api_v1: apigw.Resource,
        request_validator: apigw.IRequestValidator,
        queue: sqs.IQueue,
        jobs_table: dynamodb.ITableV2,
        executions_table: dynamodb.ITableV2,
    ) -> None:
        super().__init__(scope, construct_id)
        targets = self.node.try_get_context(TARGETS_CONTEXT_KEY) or {}
        self.executor = functions.create(
            "ExecutorFunction",
            code_dir="executor",
            description="jobsched executor: runs fired jobs from the execution queue",
            timeout=Duration.seconds(config.EXECUTOR_TIMEOUT_SECONDS),
            memory_size=EXECUTOR_MEMORY_MB,
        )
        self.executor.add_environment("EXECUTION_QUEUE_NAME", config.EXECUTION_QUEUE)
        functions.live_alias(self.executor).add_event_source(
            SqsEventSource(
                queue,
                batch_size=EXECUTOR_BATCH_SIZE,
                max_batching_window=Duration.seconds(1),
                report_batch_item_failures=True,
                max_concurrency=EXECUTOR_MAX_CONCURRENCY,
            )
        )
        queue.grant_send_messages(self.executor)  # the next attempt of a failed execution
        jobs_table.grant_read_write_data(self.executor)  # reads jobs, writes last_execution
        executions_table.grant_read_write_data(self.executor)
        self._grant_targets(
            self.executor.role,
            targets.get("event_bus_arns") or DEFAULT_EVENT_BUS_ARNS,
            targets.get("queue_arns") or DEFAULT_QUEUE_ARNS,
        )
        self._acknowledge_index_wildcards(self.executor, with_executions=True)

        self.api_function = functions.create(
            "ExecutionsApiFunction",
            code_dir="executions_api",
            description="jobsched Execution API: history, retry, run now",
        )
        jobs_table.grant_read_data(self.api_function)
        executions_table.grant_read_data(self.api_function)
        queue.grant_send_messages(self.api_function)
        self._acknowledge_index_wildcards(self.api_function, with_executions=True)
        self._add_routes(api_v1, request_validator, functions)

    def _grant_targets(
        self, role: iam.IRole | None, bus_arns: Sequence[str], queue_arns: Sequence[str]
    ) -> None:
        assert role is not None
        policy = iam.Policy(
            self,
            "TargetsPolicy",
            statements=[
                iam.PolicyStatement(actions=["events:PutEvents"], resources=[self._arn(a) for a in bus_arns]),
                iam.PolicyStatement(
                    actions=["sqs:SendMessage"], resources=[self._arn(a) for a in queue_arns]
                ),
            ],
        )
        policy.attach_to_role(role)
        Validations.of(policy).acknowledge(
            *[
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::{self._arn(a, as_nag_shows=True)}]",
                    reason=TARGET_WILDCARD_REASON,
                )
                for a in (*bus_arns, *queue_arns)
            ]
        )
        self.targets_policy = policy

    def _arn(self, pattern: str, *, as_nag_shows: bool = False) -> str:
        """The ${AWS::...} placeholders as the stack's values (or as cdk-nag spells unresolved ones)."""
        stack = Stack.of(self)
        for name, value in (
            ("Partition", stack.partition),
            ("Region", stack.region),
            ("AccountId", stack.account),
        ):
            shown = f"<AWS::{name}>" if as_nag_shows and Token.is_unresolved(value) else value
            pattern = pattern.replace(f"${{AWS::{name}}}", shown)
        return pattern

    def _acknowledge_index_wildcards(self, function: object, *, with_executions: bool) -> None:
        from aws_cdk import aws_lambda as lambda_

        assert isinstance(function, lambda_.Function)
        tables = [config.JOBS_TABLE] + ([config.EXECUTIONS_TABLE] if with_executions else [])
        Validations.of(function.role or function).acknowledge(
            *[
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::{nag_table_arn(self, table)}/index/*]",
                    reason="CDK's table grants cover the table's indexes with one index/* pattern; the "
                    "tables have one index (gsi1).",
                )
                for table in tables
            ]
        )

    def _add_routes(
        self, api_v1: apigw.Resource, request_validator: apigw.IRequestValidator, functions: FunctionFactory
    ) -> None:
        integration = apigw.LambdaIntegration(
            functions.live_alias(self.api_function), allow_test_invoke=False
        )
        job_param = {JOB_ID_PARAMETER: True}
        executions = api_v1.add_resource("executions").add_resource("{job_id}")
        execution = executions.add_resource("{execution_id}")
        retry = executions.add_resource("retry")
        jobs = api_v1.get_resource("jobs")
        job = jobs.get_resource("{job_id}") if jobs else None
        assert job is not None, "the Job API routes must exist before the Execution API adds /run"
        run = job.add_resource("run")
        methods = [
            executions.add_method(
                "GET", integration, request_validator=request_validator, request_parameters=job_param
            ),
            execution.add_method(
                "GET",
                integration,
                request_validator=request_validator,
                request_parameters={**job_param, EXECUTION_ID_PARAMETER: True},
            ),
            retry.add_method(
                "POST", integration, request_validator=request_validator, request_parameters=job_param
            ),
            run.add_method(
                "POST", integration, request_validator=request_validator, request_parameters=job_param
            ),
        ]
        for method in methods:
            Validations.of(method).acknowledge(Acknowledgment(id="AwsSolutions-COG4", reason=COG4_REASON))
