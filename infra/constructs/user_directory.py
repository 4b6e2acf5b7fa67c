"""Cognito in the primary region: users (sign-in, groups as roles) and OAuth 2.0 clients (scopes).

The user pool is the OIDC issuer every region's authorizer trusts; a token from it is valid behind any
region. Its issuer, the users' app client (the audience of their ID tokens) and the JWKS URL are written
to one SSM parameter, which the authorizers of every region read on their first bearer token (pool and
client ids are only known once the primary region is deployed).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Aws, CfnOutput, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from jobsched import config
from jobsched.keys.clients import RESOURCE_SERVER, SCOPE_DESCRIPTIONS


class UserDirectory(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, domain_prefix: str | None) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=f"{config.SERVICE}-users",
            # Tenants' administrators add their users; nobody signs themselves up into a tenant.
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            custom_attributes={
                "tenant": cognito.StringAttribute(min_len=1, max_len=63, mutable=True),
                "job_tags": cognito.StringAttribute(max_len=2048, mutable=True),
            },
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
            ),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        for role in config.Role:
            cognito.CfnUserPoolGroup(
                self,
                f"{role.value.title()}Group",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=role.value,
                description=f"jobsched role {role.value} (the authorizer reads cognito:groups)",
            )
        self.resource_server = self.user_pool.add_resource_server(
            "ResourceServer",
            identifier=RESOURCE_SERVER,
            scopes=[
                cognito.ResourceServerScope(scope_name=name, scope_description=text)
                for name, text in SCOPE_DESCRIPTIONS.items()
            ],
        )
        # The token endpoint of OAuth clients: https://<prefix>.auth.<region>.amazoncognito.com/oauth2/token
        self.domain = self.user_pool.add_domain(
            "Domain",
            cognito_domain=cognito.CognitoDomainOptions(
                domain_prefix=domain_prefix or f"{config.SERVICE}-{Aws.ACCOUNT_ID}"
            ),
        )
        # The app client people sign in with: its id is the audience of their ID tokens.
        self.users_client = self.user_pool.add_client(
            "UsersClient",
            user_pool_client_name=f"{config.SERVICE}-users",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            prevent_user_existence_errors=True,
        )
        issuer = self.user_pool.user_pool_provider_url
        self.token_settings = ssm.StringParameter(
            self,
            "TokenSettings",
            parameter_name=config.TOKEN_SETTINGS_PARAMETER,
            description="jobsched authorizers: the issuer they trust, its audience and JWKS URL",
            string_value=Stack.of(self).to_json_string(
                {
                    "issuer": issuer,
                    "audience": [self.users_client.user_pool_client_id],
                    "jwks_url": f"{issuer}/.well-known/jwks.json",
                }
            ),
        )
        CfnOutput(
            self, "UserPoolId", value=self.user_pool.user_pool_id, description="users and OAuth clients"
        )
        CfnOutput(
            self,
            "TokenEndpoint",
            value=self.domain.base_url() + "/oauth2/token",
            description="OAuth 2.0 client credentials (scopes jobsched/jobs.read, ...)",
        )
        plus_plan = (
            "Threat protection (the Plus feature plan) is an account decision with its own cost per user; "
            "sign-in needs MFA and strong passwords, and API callers are limited per tenant tier."
        )
        Validations.of(self.user_pool).acknowledge(
            Acknowledgment(id="AwsSolutions-COG8", reason=plus_plan),
        )
