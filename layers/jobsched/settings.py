"""Function configuration: environment variables parsed once, at cold start, into a validated model."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jobsched import __version__, config
from jobsched.patterns import Pattern
from jobsched.targets.guard import TargetPolicy, parse_host_port


class SettingsError(RuntimeError):
    """Raised at cold start when the environment does not describe a usable configuration."""


SettingsModel = TypeVar("SettingsModel", bound=BaseModel)


def comma_separated(value: object) -> object:
    """A list given as one comma-separated string (an environment variable, a `-c` context value) as a
    tuple of its non-empty parts; any other value as it is, for the model to validate."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def settings_from_env(
    model: type[SettingsModel], mapping: Mapping[str, str | None], what: str
) -> SettingsModel:
    """Validate the variables that are set into ``model``; one message naming every bad variable."""
    try:
        return model.model_validate({k: v for k, v in mapping.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"invalid {what} configuration: {problems}") from exc


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    region: str = Field(min_length=1)
    regions: tuple[str, ...] = config.REGIONS
    jobs_table: str = config.JOBS_TABLE
    executions_table: str = config.EXECUTIONS_TABLE
    version: str = __version__
    max_jobs_per_tenant: int = Field(default=10_000, ge=1)
    allow_http_targets: bool = False
    # host:port pairs a job may call although they are loopback/private (the local runtime's --allow-target)
    allow_targets: tuple[str, ...] = ()
    # ports never callable on any host: the local runtime's own API, AWS endpoint and emulator ports
    reserved_target_ports: tuple[int, ...] = ()
    # The service's own account (AWS targets there named like the service are refused); None: any account.
    service_account_id: Annotated[str, Pattern(r"^\d{12}$")] | None = None
    # Where execution history older than the table's 30 days is: a folder (the local runtime), else the
    # bucket of the history's region (config.archive_bucket_name).
    archive_dir: str | None = Field(default=None, min_length=1)
    # Bearer tokens (the authorizer only): the OIDC issuer, the audiences a user's token may name, where the
    # issuer's signing keys are, and which claims carry tenant, role(s) and job tags. No issuer: keys only.
    token_issuer: str | None = Field(default=None, pattern=r"^https?://\S+$")
    token_audience: tuple[str, ...] = ()
    token_jwks_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    token_tenant_claim: str = Field(default="custom:tenant", min_length=1)
    token_role_claim: str = Field(default="cognito:groups", min_length=1)
    token_tags_claim: str = Field(default="custom:job_tags", min_length=1)
    # Without an issuer: the SSM parameter (and its region) holding {"issuer", "audience", "jwks_url"}.
    token_settings_parameter: str | None = None
    token_settings_region: str | None = None
    # Where OAuth clients made over the API live: Cognito app clients of that user pool (deployed), the
    # local issuer's (the local runtime), or nowhere (client routes answer 404).
    oauth_clients: Literal["none", "local", "cognito"] = "none"
    # A bulk pause/resume matching more jobs than this goes on in the background (the Schedule API only).
    bulk_inline_limit: int = Field(default=config.BULK_INLINE_LIMIT, ge=1, le=1000)
    # Read units a second an archive segment's scan consumes on average (the archiver only).
    archive_read_units_per_second: float = Field(
        default=config.ARCHIVE_READ_UNITS_PER_SECOND, gt=0, le=10_000
    )

    @field_validator("regions", "allow_targets", "reserved_target_ports", "token_audience", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        return comma_separated(value)

    @field_validator("allow_targets")
    @classmethod
    def _host_ports(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            parse_host_port(entry)  # ValueError names the bad entry
        return value

    def target_policy(self) -> TargetPolicy:
        return TargetPolicy.of(
            allow_http=self.allow_http_targets,
            allowed=self.allow_targets,
            reserved_ports=self.reserved_target_ports,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        mapping = {
            "region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
            "regions": env.get("JOBSCHED_REGIONS"),
            "jobs_table": env.get("JOBS_TABLE_NAME"),
            "executions_table": env.get("EXECUTIONS_TABLE_NAME"),
            "version": env.get("SERVICE_VERSION"),
            "max_jobs_per_tenant": env.get("MAX_JOBS_PER_TENANT"),
            "allow_http_targets": env.get("ALLOW_HTTP_TARGETS"),
            "allow_targets": env.get("ALLOW_TARGETS"),
            "reserved_target_ports": env.get("RESERVED_TARGET_PORTS"),
            "service_account_id": env.get("SERVICE_ACCOUNT_ID"),
            "archive_dir": env.get("EXECUTION_ARCHIVE_DIR"),
            "token_issuer": env.get("TOKEN_ISSUER") or None,
            "token_audience": env.get("TOKEN_AUDIENCE"),
            "token_jwks_url": env.get("TOKEN_JWKS_URL") or None,
            "token_tenant_claim": env.get("TOKEN_TENANT_CLAIM"),
            "token_role_claim": env.get("TOKEN_ROLE_CLAIM"),
            "token_tags_claim": env.get("TOKEN_TAGS_CLAIM"),
            "token_settings_parameter": env.get("TOKEN_SETTINGS_PARAMETER") or None,
            "token_settings_region": env.get("TOKEN_SETTINGS_REGION") or None,
            "oauth_clients": env.get("OAUTH_CLIENTS") or None,
            "bulk_inline_limit": env.get("BULK_INLINE_LIMIT") or None,
            "archive_read_units_per_second": env.get("ARCHIVE_READ_UNITS_PER_SECOND") or None,
        }
        return settings_from_env(cls, mapping, "function")


@lru_cache(maxsize=1)
def load_settings() -> Settings:
    return Settings.from_env(os.environ)


class TelemetrySettings(BaseModel):
    """The telemetry module's setting, apart from Settings: telemetry serves every function, the deep health
    check included, which answers 503 when Settings cannot be loaded; its metrics must not depend on them."""

    model_config = ConfigDict(frozen=True)

    # How long a container aggregates the API request metrics of one status class before it writes
    # their EMF document (jobsched.telemetry.ApiRequestMetrics); 0 writes them at the end of every invocation.
    metrics_flush_seconds: int = Field(default=60, ge=0, le=300)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TelemetrySettings:
        mapping = {"metrics_flush_seconds": env.get("METRICS_FLUSH_SECONDS") or None}
        return settings_from_env(cls, mapping, "telemetry")


@lru_cache(maxsize=1)
def load_telemetry_settings() -> TelemetrySettings:
    return TelemetrySettings.from_env(os.environ)
