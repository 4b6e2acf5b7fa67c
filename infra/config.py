"""Deployment configuration: cdk.json's context parsed into one validated model.

Defaults come from jobsched.config, so a context key that is left out deploys what the runtime expects;
tests/infra checks that cdk.json and jobsched.config do not drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from jobsched import config

REGIONS_KEY = "regions"
PRIMARY_REGION_KEY = "primary_region"
TIERS_KEY = "tiers"
OPERATIONS_KEY = "operations"
CONTEXT_KEYS = (REGIONS_KEY, PRIMARY_REGION_KEY, TIERS_KEY, OPERATIONS_KEY)


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
    """Who an SNS topic notifies: e-mail addresses and HTTPS endpoints (PagerDuty, a Slack relay)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    emails: tuple[str, ...] = ()
    https_endpoints: tuple[str, ...] = ()

    @field_validator("emails")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if "@" not in address or " " in address:
                raise ValueError(f"{address!r} is not an e-mail address")
        return value

    @field_validator("https_endpoints")
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


class BudgetSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    monthly_limit_usd: float = Field(default=5_000, gt=0)
    alert_threshold_percent: float = Field(default=80, gt=0, le=1_000)


class DeploymentSettings(BaseModel):
    """Canary releases: this share of traffic on the new version for this long, then all of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    canary_percent: int = Field(default=10, ge=1, le=99)
    canary_interval_minutes: int = Field(default=10, ge=1, le=2_880)


class OperationsSettings(BaseModel):
    """Alarm notifications, the monthly budget and canary deployments (deploy-time settings only)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    notifications: Notifications = Notifications()
    budget: BudgetSettings = BudgetSettings()
    deployment: DeploymentSettings = DeploymentSettings()


class InfraConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    regions: tuple[str, ...] = Field(default=config.REGIONS, min_length=1)
    primary_region: str = config.PRIMARY_REGION
    tiers: dict[config.Tier, TierSettings] = Field(default_factory=_default_tiers)
    operations: OperationsSettings = OperationsSettings()

    @field_validator("regions", mode="before")
    @classmethod
    def _split_regions(cls, value: object) -> object:
        # `cdk synth -c regions=us-east-1,eu-west-1` hands the value over as one string.
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _check_regions(self) -> InfraConfig:
        if len(set(self.regions)) != len(self.regions):
            raise ValueError(f"regions must be unique, got {list(self.regions)}")
        if self.primary_region not in self.regions:
            raise ValueError(f"primary_region {self.primary_region!r} is not one of {list(self.regions)}")
        missing_tiers = set(config.Tier) - set(self.tiers)
        if missing_tiers:
            raise ValueError(f"tiers is missing {sorted(missing_tiers)}")
        return self

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
