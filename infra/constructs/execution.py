"""Execution: the executor on the execution queue, the Execution API's routes, and the targets' IAM scope.

cdk.json context `execution_targets` limits which resources the executor's own role may call for allow-listed
targets: {"event_bus_arns": [...], "queue_arns": [...], "function_arns": [...], "topic_arns": [...],
"state_machine_arns": [...]}, ARN patterns where ${AWS::Region}, ${AWS::AccountId} and ${AWS::Partition}
stand for the deploying stack's; absent, the account's own in the region. Targets in a tenant's own account
are called through the tenant's role (sts:AssumeRole, only with an ExternalId). An explicit Deny keeps the
service's own resources out of reach of every target call (docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, Duration, Stack, Token, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.aws_lambda_event_sources import SqsEventSource
from constructs import Construct

from infra.constructs.api_routes import add_keyed_methods
from infra.constructs.function_factory import FunctionFactory
from infra.constructs.table_access import ACCESS_PARTITIONS, TENANT_PARTITIONS, grant_partitions
from jobsched import config

TARGETS_CONTEXT_KEY = "execution_targets"
_OWN = "arn:${AWS::Partition}:{service}:${AWS::Region}:${AWS::AccountId}:{resource}"


@dataclass(frozen=True)
class TargetAction:
    """One AWS target kind: its IAM action, its cdk.json key, its default scope, the service's own names."""

    action: str
    context_key: str
    default: str
    own: str


TARGET_ACTIONS = (
    TargetAction("events:PutEvents", "event_bus_arns", "event-bus/*", "event-bus/{prefix}*"),
    TargetAction("sqs:SendMessage", "queue_arns", "*", "{prefix}*"),
    TargetAction("lambda:InvokeFunction", "function_arns", "function:*", "function:{prefix}*"),
    TargetAction("sns:Publish", "topic_arns", "*", "{prefix}*"),
    TargetAction("states:StartExecution", "state_machine_arns", "stateMachine:*", "stateMachine:{prefix}*"),
)
EXECUTOR_BATCH_SIZE = 10
EXECUTOR_MAX_CONCURRENCY = 50  # bounds concurrent executors per region (and so the load on targets)
EXECUTOR_MEMORY_MB = 512
TARGET_WILDCARD_REASON = (
    "Allow-listed job targets are named per tenant at run time (jobsched targets allow), so the executor may "
    "call the buses, queues, functions, topics and state machines matching cdk.json's execution_targets "
    "patterns (default: the account's own in the region); an explicit Deny excludes the service's own."
)
ASSUME_ROLE_REASON = (
    "Each tenant names its own target role in its own account (jobsched tenants set-role), so the role ARN "
    "is known only at run time; the statement requires an sts:ExternalId (the executor always sends the "
    "tenant id), and the tenant's trust policy must require that ExternalId."
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
        regions: tuple[str, ...] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        targets = self.node.try_get_context(TARGETS_CONTEXT_KEY) or {}
        self.executor = functions.create(
            "ExecutorFunction",
            code_dir="executor",
            description="jobsched executor: runs fired jobs from the execution queue",
            timeout=Duration.seconds(config.EXECUTOR_TIMEOUT_SECONDS),
            memory_size=EXECUTOR_MEMORY_MB,
            environment={"EXECUTION_QUEUE_NAME": config.EXECUTION_QUEUE},
        )
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
        # Reads jobs and writes last_execution; reads the operators' target grants; claims and records
        # executions (UpdateItem) and looks for an earlier running one (Query). Nothing else, no index.
        grant_partitions(self.executor, jobs_table, ("GetItem", "UpdateItem"), TENANT_PARTITIONS)
        grant_partitions(self.executor, jobs_table, ("BatchGetItem",), ACCESS_PARTITIONS)
        grant_partitions(self.executor, executions_table, ("UpdateItem", "Query"), TENANT_PARTITIONS)
        self._grant_targets(self.executor.role, targets)
        # Failure and recovery e-mails (jobsched.execution.notifications): subscriptions filter on `email`.
        self.notification_topic = sns.Topic(
            self,
            "NotificationTopic",
            topic_name=config.NOTIFICATION_TOPIC,
            display_name="jobsched job notifications",
            enforce_ssl=True,
        )
        self.notification_topic.grant_publish(self.executor)

        self.api_function = functions.create(
            "ExecutionsApiFunction",
            code_dir="executions_api",
            description="jobsched Execution API: history, retry, run now",
        )
        # Reads the tenant's job (run-now copies its fire token) and its executions; no index, no keys.
        grant_partitions(self.api_function, jobs_table, ("GetItem",), TENANT_PARTITIONS)
        grant_partitions(self.api_function, executions_table, ("GetItem", "Query"), TENANT_PARTITIONS)
        queue.grant_send_messages(self.api_function)
        self._grant_home_regions(regions)
        self._add_routes(api_v1, request_validator, functions)

    def _grant_home_regions(self, regions: tuple[str, ...]) -> None:
        """A job's history and fires live in its home region: the API reads that region's executions table
        and queues run-now there, whichever region serves the request (same names in every region)."""
        stack = Stack.of(self)
        others = [region for region in regions if region != stack.region]
        if not others:
            return
        tables = [
            stack.format_arn(
                service="dynamodb", region=r, resource="table", resource_name=config.EXECUTIONS_TABLE
            )
            for r in others
        ]
        queues = [stack.format_arn(service="sqs", region=r, resource=config.EXECUTION_QUEUE) for r in others]
        self.api_function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:Query"],
                resources=tables,
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(TENANT_PARTITIONS)}},
            )
        )
        self.api_function.add_to_role_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=queues)
        )

    def _grant_targets(self, role: iam.IRole | None, targets: dict[str, list[str]]) -> None:
        assert role is not None
        allowed = {
            kind: [self._arn(a) for a in targets.get(kind.context_key) or [self._own(kind, kind.default)]]
            for kind in TARGET_ACTIONS
        }
        # The service's own, in every region of the account (its stacks run in several).
        own = {
            kind.action: self._own(kind, kind.own.format(prefix=config.SERVICE), region="*")
            for kind in TARGET_ACTIONS
            if kind.action not in ("sqs:SendMessage", "sns:Publish")
        }
        sns_kind = next(kind for kind in TARGET_ACTIONS if kind.action == "sns:Publish")
        sqs_kind = next(kind for kind in TARGET_ACTIONS if kind.action == "sqs:SendMessage")
        # The executor must still queue its own retries: its region's execution queue is the one service
        # resource its SendMessage may reach (the fire token holds that door, docs/security.md).
        own_queues_but_execution = [
            self._own(sqs_kind, name, region="*")
            for name in (config.EXECUTION_DLQ, config.SCHEDULER_DLQ, config.SCHEDULE_SYNC_DLQ)
        ]
        own_queues_elsewhere = self._own(sqs_kind, f"{config.SERVICE}*", region="*")
        statements = [
            iam.PolicyStatement(actions=[kind.action], resources=allowed[kind]) for kind in TARGET_ACTIONS
        ]
        statements += [
            iam.PolicyStatement(
                sid="AssumeTenantTargetRoles",
                actions=["sts:AssumeRole"],
                resources=[f"arn:{Stack.of(self).partition}:iam::*:role/*"],
                conditions={"Null": {"sts:ExternalId": "false"}},
            ),
            iam.PolicyStatement(
                sid="DenyServiceResources",
                effect=iam.Effect.DENY,
                actions=list(own),
                resources=list(own.values()),
            ),
            iam.PolicyStatement(
                sid="DenyServiceQueues",
                effect=iam.Effect.DENY,
                actions=["sqs:SendMessage"],
                resources=own_queues_but_execution,
            ),
            # The executor publishes failure notices to its region's notification topic: every other topic
            # of the service (the alarm topics anywhere, any jobsched* topic in another region) is denied.
            iam.PolicyStatement(
                sid="DenyServiceTopics",
                effect=iam.Effect.DENY,
                actions=["sns:Publish"],
                resources=[self._own(sns_kind, f"{config.SERVICE}-alarms-*", region="*")],
            ),
            iam.PolicyStatement(
                sid="DenyServiceTopicsInOtherRegions",
                effect=iam.Effect.DENY,
                actions=["sns:Publish"],
                resources=[self._own(sns_kind, f"{config.SERVICE}*", region="*")],
                conditions={"StringNotEquals": {"aws:RequestedRegion": Stack.of(self).region}},
            ),
            iam.PolicyStatement(
                sid="DenyServiceQueuesInOtherRegions",
                effect=iam.Effect.DENY,
                actions=["sqs:SendMessage"],
                resources=[own_queues_elsewhere],
                conditions={"StringNotEquals": {"aws:RequestedRegion": Stack.of(self).region}},
            ),
        ]
        policy = iam.Policy(self, "TargetsPolicy", statements=statements)
        policy.attach_to_role(role)
        patterns = {
            self._arn(pattern, as_nag_shows=True)
            for kind in TARGET_ACTIONS
            for pattern in targets.get(kind.context_key) or [self._own(kind, kind.default, raw=True)]
            if "*" in pattern
        }
        Validations.of(policy).acknowledge(
            *[
                Acknowledgment(id=f"AwsSolutions-IAM5[Resource::{pattern}]", reason=TARGET_WILDCARD_REASON)
                for pattern in sorted(patterns)
            ],
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::arn:{self._shown('Partition')}:iam::*:role/*]",
                reason=ASSUME_ROLE_REASON,
            ),
        )
        self.targets_policy = policy

    def _own(self, kind: TargetAction, resource: str, *, raw: bool = False, region: str | None = None) -> str:
        """An ARN pattern in the deploying account: in its region, or in `region` ("*": every region)."""
        service = kind.action.split(":", 1)[0]
        pattern = _OWN.replace("{service}", service).replace("{resource}", resource)
        if region is not None:
            pattern = pattern.replace("${AWS::Region}", region)
        return pattern if raw else self._arn(pattern)

    def _shown(self, name: str) -> str:
        value = {"Partition": Stack.of(self).partition}[name]
        return f"<AWS::{name}>" if Token.is_unresolved(value) else value

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

    def _add_routes(
        self, api_v1: apigw.Resource, request_validator: apigw.IRequestValidator, functions: FunctionFactory
    ) -> None:
        integration = apigw.LambdaIntegration(
            functions.live_alias(self.api_function), allow_test_invoke=False
        )
        add_keyed_methods(api_v1, "executions_api", integration, request_validator)
