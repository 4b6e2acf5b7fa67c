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


class InfraConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    regions: tuple[str, ...] = Field(default=config.REGIONS, min_length=1)
    primary_region: str = config.PRIMARY_REGION
    tiers: dict[config.Tier, TierSettings] = Field(default_factory=_default_tiers)

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
        present = {
            key: context[key]
            for key in (REGIONS_KEY, PRIMARY_REGION_KEY, TIERS_KEY)
            if context.get(key) is not None
        }
        try:
            return cls.model_validate(present)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise InfraConfigError(f"invalid cdk.json context: {problems}") from exc
