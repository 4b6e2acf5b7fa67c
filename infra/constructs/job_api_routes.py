"""The Job API: the routes jobsched.api.routes sends to functions/job_api (Lambda proxy integration)."""

from __future__ import annotations

from aws_cdk import Stack, Token
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.constructs.api_routes import add_keyed_methods
from infra.constructs.function_factory import FunctionFactory
from infra.constructs.table_access import (
    ACCESS_PARTITIONS,
    TENANT_PARTITIONS,
    WRITE_ACTIONS,
    grant_partitions,
)


def nag_table_arn(scope: Construct, table_name: str) -> str:
    """A table ARN spelled the way cdk-nag prints it in finding ids: pseudo parameters as <AWS::...>.

    The account is a literal when the deploying credentials are known and a token offline, so the id of an
    acknowledgment has to follow, or a deploy would fail on a finding the offline synth had accepted.
    """
    stack = Stack.of(scope)

    def shown(value: str, pseudo_parameter: str) -> str:
        return f"<AWS::{pseudo_parameter}>" if Token.is_unresolved(value) else value

    partition = shown(stack.partition, "Partition")
    region = shown(stack.region, "Region")
    account = shown(stack.account, "AccountId")
    return f"arn:{partition}:dynamodb:{region}:{account}:table/{table_name}"


def api_v1_resource(rest_api: apigw.RestApi, *, authorizer: apigw.IAuthorizer) -> apigw.Resource:
    """/api/v1, whose methods all inherit: API key required and the key authorizer."""
    return rest_api.root.add_resource("api").add_resource(
        "v1",
        default_method_options=apigw.MethodOptions(
            api_key_required=True,
            authorizer=authorizer,
            authorization_type=apigw.AuthorizationType.CUSTOM,
        ),
    )


class JobApiRoutes(Construct):
    """/api/v1/jobs, /api/v1/jobs/{job_id} and the /api/v1 catch-all, proxied to the Job API function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api_v1: apigw.Resource,
        request_validator: apigw.IRequestValidator,
        functions: FunctionFactory,
        jobs_table: dynamodb.ITableV2,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.create(
            "JobApiFunction",
            code_dir="job_api",
            description="jobsched Job API: create, read, update, delete jobs",
        )
        # Its own tenant's items only (jobs, counter, idempotency records), and the operators' target grants
        # read-only: never key records, never an index (no code here queries one).
        grant_partitions(self.function, jobs_table, ("GetItem", "Query", *WRITE_ACTIONS), TENANT_PARTITIONS)
        grant_partitions(self.function, jobs_table, ("BatchGetItem",), ACCESS_PARTITIONS)
        # Console test invocations would bypass the authorizer; leaving them out also halves the
        # function's resource policy (one permission per method instead of two).
        # The `live` alias, which CodeDeploy shifts by canary, never the function's $LATEST.
        integration = apigw.LambdaIntegration(functions.live_alias(self.function), allow_test_invoke=False)

        self.methods = add_keyed_methods(api_v1, "job_api", integration, request_validator)
