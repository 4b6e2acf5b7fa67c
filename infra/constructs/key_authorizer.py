"""The REQUEST authorizer that turns an API key into tenant, role and tier."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.function_factory import FunctionFactory
from jobsched import config


class KeyAuthorizer(Construct):
    """API keys alone are not identity: this authorizer looks the hashed key up in the jobs table.

    API Gateway caches each key's answer for AUTHORIZER_CACHE_SECONDS, so most requests never reach it;
    the usage plan still applies throttling and quotas to the same key.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: FunctionFactory,
        jobs_table: dynamodb.ITableV2,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.create(
            "AuthorizerFunction",
            code_dir="authorizer",
            description="jobsched REQUEST authorizer: API key to tenant, role and tier",
        )
        # The key lookup is a single GetItem on the table (no index), so that is all it may do.
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[jobs_table.table_arn])
        )
        self.authorizer = apigw.RequestAuthorizer(
            self,
            "Authorizer",
            authorizer_name=f"{config.SERVICE}-api-key",
            # The alias, so a canary deployment of the authorizer shifts its traffic too.
            handler=functions.live_alias(self.function),
            identity_sources=[apigw.IdentitySource.header(config.API_KEY_HEADER)],
            results_cache_ttl=Duration.seconds(config.AUTHORIZER_CACHE_SECONDS),
        )
