"""Deployment configuration: cdk.json's context parsed into one validated model.

Defaults come from jobsched.config, so a context key that is left out deploys what the runtime expects;
tests/infra checks that cdk.json and jobsched.config do not drift apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from jobsched import config
from jobsched.settings import comma_separated

REGIONS_KEY = "regions"
PRIMARY_REGION_KEY = "primary_region"
TIERS_KEY = "tiers"
OPERATIONS_KEY = "operations"
AUTH_KEY = "auth"
# The optional global name, all three together:
#   cdk synth -c domain_name=api.example.com -c hosted_zone_id=Z0123456789ABC -c hosted_zone_name=example.com
DOMAIN_NAME_KEY = "domain_name"
HOSTED_ZONE_ID_KEY = "hosted_zone_id"
HOSTED_ZONE_NAME_KEY = "hosted_zone_name"
DOMAIN_KEYS = (DOMAIN_NAME_KEY, HOSTED_ZONE_ID_KEY, HOSTED_ZONE_NAME_KEY)
# The release pipeline's source and accounts; absent, the pipeline stack is not synthesized.
PIPELINE_KEY = "pipeline"
CONTEXT_KEYS = (
    REGIONS_KEY,
    PRIMARY_REGION_KEY,
    TIERS_KEY,
    OPERATIONS_KEY,
    AUTH_KEY,
    *DOMAIN_KEYS,
    PIPELINE_KEY,
)
_ACCOUNT = re.compile(r"^\d{12}$")
_CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[\w-]+$"
)
_REPOSITORY = re.compile(r"^[\w.-]+/[\w.-]+$")
_HTTPS_URL = re.compile(r"^https://\S+$")
# What each pipeline setting must look like, and how an error names it.
_SHAPES = {
    "account": (_ACCOUNT, "a 12-digit AWS account id"),
    "staging_account": (_ACCOUNT, "a 12-digit AWS account id"),
    "connection_arn": (_CONNECTION_ARN, "a CodeStar/CodeConnections connection ARN"),
    "repository": (_REPOSITORY, "owner/name"),
    "smoke_target_url": (_HTTPS_URL, "an https:// URL"),
}
# A DNS name of letter-digit-hyphen labels (no wildcard: the certificate and the records name one host).
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_HOSTED_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")


class InfraConfigError(ValueError):
    """Raised when cdk.json's context does not describe a deployable configuration."""


class TierSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    requests_per_hour: int = Field(gt=0)
    rate_per_second: float = Field(gt=0)
    burst: int = Field(gt=0)
    daily_quota: int = Field(gt=0)


def _default_tiers() -> dict[config.Tier, TierSettings]:
    return {
        tier: TierSettings(
            requests_per_hour=limits.requests_per_hour,
            rate_per_second=limits.rate_per_second,
            burst=limits.burst,
            daily_quota=limits.daily_quota,
        )
        for tier, limits in config.TIERS.items()
    }


class NotificationTargets(BaseModel):
    """Who an SNS topic notifies: e-mail addresses, HTTPS endpoints (a paging service such as PagerDuty's
    SNS integration) and chat webhooks (an HTTPS relay into Slack, Teams or Google Chat that confirms SNS
    subscriptions). Each becomes one SNS subscription; HTTPS ones must confirm the subscription."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    emails: tuple[str, ...] = ()
    https_endpoints: tuple[str, ...] = ()
    chat_webhooks: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.emails or self.https_endpoints or self.chat_webhooks)

    @field_validator("emails")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if "@" not in address or " " in address:
                raise ValueError(f"{address!r} is not an e-mail address")
        return value

    @field_validator("https_endpoints", "chat_webhooks")
    @classmethod
    def _https(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            if not url.startswith("https://"):
                raise ValueError(f"{url!r} is not an https:// URL")
        return value


class Notifications(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    critical: NotificationTargets = NotificationTargets()
    warning: NotificationTargets = NotificationTargets()
    budget: NotificationTargets = NotificationTargets()

    @property
    def budget_targets(self) -> NotificationTargets:
        """Who the budget tells: the alarms' warning list, unless cdk.json gives the budget its own list."""
        return self.warning if self.budget.empty else self.budget


class BudgetSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    monthly_limit_usd: float = Field(default=5_000, gt=0)
    alert_threshold_percent: float = Field(default=80, gt=0, le=1_000)


class DeploymentSettings(BaseModel):
    """Canary releases: this share of traffic on the new version for this long, then all of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    canary_percent: int = Field(default=10, ge=1, le=99)
    canary_interval_minutes: int = Field(default=30, ge=1, le=2_880)


class OperationsSettings(BaseModel):
    """Alarm notifications, the monthly budget and canary deployments (deploy-time settings only)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    notifications: Notifications = Notifications()
    budget: BudgetSettings = BudgetSettings()
    deployment: DeploymentSettings = DeploymentSettings()


class PipelineSettings(BaseModel):
    """The release pipeline (infra/stacks/pipeline_stack.py): where it reads the code, where it deploys.

    Staging is an account of its own: the tables, queues and schedule group have fixed names, so staging
    and production cannot share an account. The smoke tests read each stage's API key from a Secrets
    Manager secret of the pipeline account (docs/operations.md says how to make them).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    connection_arn: str = Field(description="a CodeStar / CodeConnections connection to the repository")
    repository: str = Field(description="owner/name of the repository")
    branch: str = Field(default="main", min_length=1, max_length=255)
    account: str = Field(description="the pipeline's and production's account")
    staging_account: str
    staging_region: str = config.PRIMARY_REGION
    smoke_target_url: str = Field(description="an https URL that answers the smoke test's POST with 2xx")
    staging_smoke_key_secret: str = f"{config.SERVICE}/smoke-api-key/staging"
    production_smoke_key_secret: str = f"{config.SERVICE}/smoke-api-key/production"

    @field_validator("account", "staging_account", "connection_arn", "repository", "smoke_target_url")
    @classmethod
    def _shaped(cls, value: str, info: ValidationInfo) -> str:
        pattern, shape = _SHAPES[str(info.field_name)]
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not {shape}")
        return value

    @model_validator(mode="after")
    def _separate_accounts(self) -> PipelineSettings:
        if self.account == self.staging_account:
            raise ValueError(
                "staging_account must differ from account (resource names are fixed per account)"
            )
        return self


class AuthSettings(BaseModel):
    """Bearer tokens: which OIDC issuer the authorizer trusts and which claims name tenant, role and tags.

    No issuer (the default): the primary region's stack creates a Cognito user pool (with its resource
    server for OAuth clients and a domain for the token endpoint) and every region's authorizer trusts it.
    An issuer URL (with its audience; the JWKS URL defaults to issuer + /.well-known/jwks.json): any OIDC
    provider instead, and no user pool is made.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str | None = Field(default=None, pattern=r"^https://\S+$")
    audience: tuple[str, ...] = ()
    jwks_url: str | None = Field(default=None, pattern=r"^https://\S+$")
    tenant_claim: str = Field(default="custom:tenant", min_length=1)
    role_claim: str = Field(default="cognito:groups", min_length=1)
    tags_claim: str = Field(default="custom:job_tags", min_length=1)
    # The Cognito domain's prefix (unique per region across AWS); default: jobsched-<account id>.
    cognito_domain_prefix: str | None = Field(default=None, pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

    @model_validator(mode="after")
    def _audience_with_issuer(self) -> AuthSettings:
        if self.issuer is not None and not self.audience:
            raise ValueError("an issuer needs its audience (the client id its users' tokens name in aud)")
        return self

    @property
    def uses_cognito(self) -> bool:
        return self.issuer is None


@dataclass(frozen=True)
class GlobalDomain:
    """The one name clients use in every region, and the Route 53 public hosted zone that holds it."""

    domain_name: str
    hosted_zone_id: str
    hosted_zone_name: str


class InfraConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    regions: tuple[str, ...] = Field(default=config.REGIONS, min_length=1)
    primary_region: str = config.PRIMARY_REGION
    tiers: dict[config.Tier, TierSettings] = Field(default_factory=_default_tiers)
    operations: OperationsSettings = OperationsSettings()
    auth: AuthSettings = AuthSettings()
    domain_name: str | None = None
    hosted_zone_id: str | None = None
    hosted_zone_name: str | None = None
    pipeline: PipelineSettings | None = None

    @field_validator("domain_name", "hosted_zone_name")
    @classmethod
    def _hostname(cls, value: str | None) -> str | None:
        if value is None:
            return None
        name = value.strip().lower().rstrip(".")
        if not _HOSTNAME.fullmatch(name):
            raise ValueError(f"{value!r} is not a DNS name like api.example.com")
        return name

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        zone_id = value.strip().removeprefix("/hostedzone/")
        if not _HOSTED_ZONE_ID.fullmatch(zone_id):
            raise ValueError(f"{value!r} is not a Route 53 hosted zone id like Z0123456789ABC")
        return zone_id

    @field_validator("pipeline", mode="before")
    @classmethod
    def _pipeline_json(cls, value: object) -> object:
        # `cdk deploy -c pipeline='{"connection_arn": ...}'` hands the object over as one JSON string.
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ValueError("pipeline must be a JSON object") from exc
        return value

    @field_validator("regions", mode="before")
    @classmethod
    def _split_regions(cls, value: object) -> object:
        # `cdk synth -c regions=us-east-1,eu-west-1` hands the value over as one string.
        return comma_separated(value)

    @model_validator(mode="after")
    def _check_regions(self) -> InfraConfig:
        if len(set(self.regions)) != len(self.regions):
            raise ValueError(f"regions must be unique, got {list(self.regions)}")
        if self.primary_region not in self.regions:
            raise ValueError(f"primary_region {self.primary_region!r} is not one of {list(self.regions)}")
        if self.pipeline is not None and self.pipeline.staging_region not in self.regions:
            raise ValueError(f"pipeline.staging_region is not one of {list(self.regions)}")
        missing_tiers = set(config.Tier) - set(self.tiers)
        if missing_tiers:
            raise ValueError(f"tiers is missing {sorted(missing_tiers)}")
        given = {key: getattr(self, key) for key in DOMAIN_KEYS}
        if any(given.values()) and not all(given.values()):
            missing = ", ".join(key for key, value in given.items() if not value)
            raise ValueError(f"{', '.join(DOMAIN_KEYS)} go together; missing {missing}")
        if self.domain_name and self.hosted_zone_name:
            zone = self.hosted_zone_name
            if self.domain_name != zone and not self.domain_name.endswith(f".{zone}"):
                raise ValueError(f"domain_name {self.domain_name!r} is not inside hosted_zone_name {zone!r}")
        return self

    @property
    def global_domain(self) -> GlobalDomain | None:
        """The global name when the context gives one; None deploys regional endpoints only."""
        if not (self.domain_name and self.hosted_zone_id and self.hosted_zone_name):
            return None
        return GlobalDomain(self.domain_name, self.hosted_zone_id, self.hosted_zone_name)

    @property
    def replica_regions(self) -> tuple[str, ...]:
        """Regions that hold a replica of the global tables (every region but the primary)."""
        return tuple(region for region in self.regions if region != self.primary_region)

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> InfraConfig:
        """Build from CDK context values; keys that are absent fall back to jobsched.config."""
        present = {key: context[key] for key in CONTEXT_KEYS if context.get(key) is not None}
        try:
            return cls.model_validate(present)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise InfraConfigError(f"invalid cdk.json context: {problems}") from exc
