"""The REQUEST authorizer that turns an API key or a bearer token into tenant, role and tier."""

from __future__ import annotations

from aws_cdk import Arn, ArnComponents, ArnFormat, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import AuthSettings
from infra.constructs.function_factory import FunctionFactory
from jobsched import config


class KeyAuthorizer(Construct):
    """API keys alone are not identity: this authorizer looks the hashed key up in the jobs table, or
    checks a bearer token against the trusted issuer's keys.

    Its answer names the API key the usage plan counts (usageIdentifierKey; the API's key source is the
    authorizer), so tiers hold for token callers too. API Gateway cannot cache an answer by one of two
    headers (a cached REQUEST authorizer needs every identity source present), so it is not cached there;
    the function keeps the JWKS in its container (docs/decisions.md).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: FunctionFactory,
        jobs_table: dynamodb.ITableV2,
        auth: AuthSettings,
        primary_region: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.create(
            "AuthorizerFunction",
            code_dir="authorizer",
            description="jobsched REQUEST authorizer: API key or bearer token to tenant, role and tier",
        )
        for name, value in token_environment(auth, primary_region).items():
            self.function.add_environment(name, value)
        if auth.uses_cognito:
            parameter = Arn.format(
                ArnComponents(
                    service="ssm",
                    region=primary_region,
                    resource="parameter",
                    resource_name=config.TOKEN_SETTINGS_PARAMETER.lstrip("/"),
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                ),
                Stack.of(self),
            )
            self.function.add_to_role_policy(
                iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[parameter])
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
            # Either x-api-key or Authorization: a cached authorizer would need both, so none is named.
            identity_sources=[],
            results_cache_ttl=Duration.seconds(0),
        )


def token_environment(auth: AuthSettings, primary_region: str) -> dict[str, str]:
    """What the authorizer reads to check bearer tokens (jobsched.settings)."""
    claims = {
        "TOKEN_TENANT_CLAIM": auth.tenant_claim,
        "TOKEN_ROLE_CLAIM": auth.role_claim,
        "TOKEN_TAGS_CLAIM": auth.tags_claim,
    }
    if auth.issuer is None:
        return {
            **claims,
            "TOKEN_SETTINGS_PARAMETER": config.TOKEN_SETTINGS_PARAMETER,
            "TOKEN_SETTINGS_REGION": primary_region,
        }
    return {
        **claims,
        "TOKEN_ISSUER": auth.issuer,
        "TOKEN_AUDIENCE": ",".join(auth.audience),
        "TOKEN_JWKS_URL": auth.jwks_url or auth.issuer.rstrip("/") + "/.well-known/jwks.json",
    }
