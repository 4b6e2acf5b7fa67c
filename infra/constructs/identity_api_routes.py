"""The Identity API: a tenant admin's keys (/api/v1/keys), OAuth clients (/api/v1/clients) and audit."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Arn, ArnComponents, ArnFormat, Aws, Stack, Token, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import AuthSettings
from infra.constructs.api_routes import add_keyed_methods
from infra.constructs.function_factory import FunctionFactory
from infra.constructs.table_access import TENANT_PARTITIONS, grant_partitions
from jobsched import config
from jobsched.keyscheme import API_KEY_PREFIX, CLIENT_PREFIX, CLIENTS_INDEX_PK, KEYS_INDEX_PK, partitions

# Key records, OAuth client records (jobs table), and their listings on gsi1.
IDENTITY_PARTITIONS = (*TENANT_PARTITIONS, partitions(API_KEY_PREFIX), partitions(CLIENT_PREFIX))
IDENTITY_INDEX_PARTITIONS = (KEYS_INDEX_PK, CLIENTS_INDEX_PK)


class IdentityApiRoutes(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api_v1: apigw.Resource,
        request_validator: apigw.IRequestValidator,
        functions: FunctionFactory,
        jobs_table: dynamodb.ITableV2,
        auth: AuthSettings,
        primary_region: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.create(
            "IdentityApiFunction",
            code_dir="identity_api",
            description="jobsched Identity API: a tenant admin's keys, OAuth clients and audit",
        )
        self._grant(jobs_table, auth, primary_region)
        integration = apigw.LambdaIntegration(functions.live_alias(self.function), allow_test_invoke=False)
        self.methods = add_keyed_methods(api_v1, "identity_api", integration, request_validator)

    def _grant(self, jobs_table: dynamodb.ITableV2, auth: AuthSettings, primary_region: str) -> None:
        function = self.function
        grant_partitions(
            function, jobs_table, ("GetItem", "PutItem", "UpdateItem", "Query"), IDENTITY_PARTITIONS
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"],
                resources=[f"{jobs_table.table_arn}/index/{config.GSI1}"],
                conditions={
                    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(IDENTITY_INDEX_PARTITIONS)}
                },
            )
        )
        # A key is registered in every region's usage plan of its tier (as `jobsched keys create` does).
        gateway = f"arn:{Aws.PARTITION}:apigateway:*::"
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["apigateway:GET", "apigateway:POST", "apigateway:DELETE"],
                resources=[
                    f"{gateway}/apikeys",
                    f"{gateway}/apikeys/*",
                    f"{gateway}/usageplans",
                    f"{gateway}/usageplans/*/keys",
                ],
            )
        )
        every_region = (
            "A tenant's key is registered in every region's usage plans (one value behind latency routing), "
            "so the region is a wildcard; API keys and usage plans get generated ids, and the function "
            "deletes only keys it finds by the service's own name."
        )
        Validations.of(function.role or function).acknowledge(
            *(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:apigateway:*::{path}]",
                    reason=every_region,
                )
                for path in ("/apikeys", "/apikeys/*", "/usageplans", "/usageplans/*/keys")
            )
        )
        if auth.uses_cognito:
            stack = Stack.of(self)
            function.add_environment("OAUTH_CLIENTS", "cognito")
            function.add_environment("TOKEN_SETTINGS_PARAMETER", config.TOKEN_SETTINGS_PARAMETER)
            function.add_environment("TOKEN_SETTINGS_REGION", primary_region)
            parameter = Arn.format(
                ArnComponents(
                    service="ssm",
                    region=primary_region,
                    resource="parameter",
                    resource_name=config.TOKEN_SETTINGS_PARAMETER.lstrip("/"),
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                ),
                stack,
            )
            pools = Arn.format(
                ArnComponents(
                    service="cognito-idp",
                    region=primary_region,
                    resource="userpool",
                    resource_name="*",
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                ),
                stack,
            )
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[parameter])
            )
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["cognito-idp:CreateUserPoolClient", "cognito-idp:DeleteUserPoolClient"],
                    resources=[pools],
                )
            )
            Validations.of(function.role or function).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::arn:aws:cognito-idp:"
                    f"{primary_region}:{_account_in_findings(stack)}:userpool/*]",
                    reason="The user pool's id is made when the primary region deploys; the function "
                    "reads it from SSM at run time, so its ARN cannot be named here.",
                )
            )


def _account_in_findings(stack: Stack) -> str:
    """How cdk-nag spells the account in a finding: the pseudo parameter, or a stage's literal account."""
    return "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
