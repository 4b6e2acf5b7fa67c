"""The functions' environment, declared once: what every function reads at cold start (jobsched.settings),
what only some functions read, and where each value comes from.

The regional stack (infra/constructs/function_factory.py) and the local runtime
(local/jobsched_local/lambda_functions.py) both build their functions' variables from here; the infra tests
compare every synthesized function's Environment with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from jobsched import __version__, config
from jobsched.settings import Settings, TelemetrySettings

DEFAULT_MAX_JOBS_PER_TENANT: int = Settings.model_fields["max_jobs_per_tenant"].default
DEFAULT_METRICS_FLUSH_SECONDS: int = TelemetrySettings.model_fields["metrics_flush_seconds"].default

# The variables only some functions read, per function (functions/<name>), and what each one holds. The stack
# sets them from its resources; a function not listed here reads none. The local runtime leaves them unset
# where the handler's default is the local value (the queue's name) or builds the setting itself
# (schedule-sync's SchedulingSettings).
FUNCTION_VARIABLES: Mapping[str, Mapping[str, str]] = {
    "executor": {
        "EXECUTION_QUEUE_NAME": "the execution queue's name",
        # Set by the heartbeat construct (infra/constructs/heartbeat.py), which owns the token.
        "HEARTBEAT_FIRE_TOKEN": "the fire token of the region's heartbeat schedule (the dead man's switch)",
        "HEARTBEAT_PROBE_URL": "the heartbeat's target: the region's own API health route",
    },
    "deep_health": {"EXECUTION_QUEUE_URL": "the execution queue's URL"},
    "archiver": {"ARCHIVE_READ_UNITS_PER_SECOND": "read units a second one archive segment's scan consumes"},
    # Bearer tokens (infra/constructs/key_authorizer.py): the claims, and either the SSM parameter with the
    # stack's own Cognito issuer or another OIDC issuer named in cdk.json.
    "authorizer": {
        "TOKEN_TENANT_CLAIM": "the claim naming the caller's tenant",
        "TOKEN_ROLE_CLAIM": "the claim naming the caller's role(s)",
        "TOKEN_TAGS_CLAIM": "the claim naming the caller's job-tag scope",
        "TOKEN_SETTINGS_PARAMETER": "the SSM parameter with the Cognito issuer, audience and JWKS URL",
        "TOKEN_SETTINGS_REGION": "the region of that parameter (the primary region)",
        "TOKEN_ISSUER": "another OIDC issuer's URL",
        "TOKEN_AUDIENCE": "the audiences its users' tokens may name",
        "TOKEN_JWKS_URL": "where its signing keys are",
    },
    "identity_api": {
        "OAUTH_CLIENTS": "where OAuth clients made over the API live (cognito)",
        "TOKEN_SETTINGS_PARAMETER": "the SSM parameter with the Cognito issuer, audience and JWKS URL",
        "TOKEN_SETTINGS_REGION": "the region of that parameter (the primary region)",
    },
    "schedule_sync": {
        "SCHEDULE_GROUP_NAME": "the EventBridge Scheduler group of the jobs' schedules",
        "SCHEDULER_ROLE_ARN": "the role EventBridge Scheduler assumes to send fires",
        "EXECUTION_QUEUE_ARN": "where the schedules send fires",
        "SCHEDULER_DLQ_ARN": "where EventBridge Scheduler puts fires it could not deliver",
    },
}


# Declared variables that only one configuration sets (the stack's Cognito issuer, or another OIDC issuer).
CONDITIONAL_VARIABLES = frozenset(
    {
        "TOKEN_SETTINGS_PARAMETER",
        "TOKEN_SETTINGS_REGION",
        "TOKEN_ISSUER",
        "TOKEN_AUDIENCE",
        "TOKEN_JWKS_URL",
        "OAUTH_CLIENTS",
    }
)


@dataclass(frozen=True)
class FunctionEnvironment:
    """The variables every function of the service gets (AWS_REGION is set by Lambda itself)."""

    regions: tuple[str, ...]
    # The account whose `jobsched*` resources no job may target (jobsched.targets.access); in the stack, a
    # token resolved at deploy time.
    service_account_id: str
    # Deployed stacks call public https targets only; the local runtime's targets are plain http.
    allow_http_targets: bool
    # Deployed functions log WARNING and above with a sample of invocations at INFO (docs/decisions.md, Cost);
    # the local runtime leaves Powertools' default (INFO).
    log_level: str | None = None
    log_sample_rate: str | None = None
    # Deployed API functions write their request metrics once a minute per status class
    # (docs/decisions.md, Cost); the local runtime sets 0, every invocation's at its end.
    metrics_flush_seconds: int = DEFAULT_METRICS_FLUSH_SECONDS

    def variables(self) -> dict[str, str]:
        return {
            "JOBSCHED_REGIONS": ",".join(self.regions),
            "JOBS_TABLE_NAME": config.JOBS_TABLE,
            "EXECUTIONS_TABLE_NAME": config.EXECUTIONS_TABLE,
            "SERVICE_VERSION": __version__,
            "MAX_JOBS_PER_TENANT": str(DEFAULT_MAX_JOBS_PER_TENANT),
            "ALLOW_HTTP_TARGETS": "true" if self.allow_http_targets else "false",
            "POWERTOOLS_SERVICE_NAME": config.SERVICE,
            "POWERTOOLS_METRICS_NAMESPACE": config.METRICS_NAMESPACE,
            "METRICS_FLUSH_SECONDS": str(self.metrics_flush_seconds),
            "SERVICE_ACCOUNT_ID": self.service_account_id,
            # The service uses no pydantic plugin; without this, pydantic reads every installed package's
            # entry points at the first model class, on every cold start (docs/benchmarks.md, Cold start).
            "PYDANTIC_DISABLE_PLUGINS": "__all__",
        } | self._logging()

    def _logging(self) -> dict[str, str]:
        logging: dict[str, str] = {}
        if self.log_level is not None:
            logging["POWERTOOLS_LOG_LEVEL"] = self.log_level
        if self.log_sample_rate is not None:
            logging["POWERTOOLS_LOGGER_SAMPLE_RATE"] = self.log_sample_rate
        return logging


def local_only_variables(
    region: str, allow_targets: Iterable[str] = (), reserved_ports: Iterable[int] = ()
) -> dict[str, str]:
    """What the local runtime adds: the region Lambda would set, target allowances, Powertools off-AWS."""
    return {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        # Private and loopback targets stay refused, as deployed, except the host:port pairs the developer
        # allows (--allow-target); the runtime's own ports are never targets, so a job cannot reach the
        # AWS endpoint (every tenant's items) or the API behind the gateway's back.
        "ALLOW_TARGETS": ",".join(allow_targets),
        "RESERVED_TARGET_PORTS": ",".join(str(port) for port in reserved_ports),
        "POWERTOOLS_TRACE_DISABLED": "true",
        # Powertools filters every record whose logger name contains the service name off the root
        # handlers, which would silence the runtime's own "jobsched_local.*" logs (tracebacks included).
        "POWERTOOLS_LOG_DEDUPLICATION_DISABLED": "true",
    }


def check_function_variables(function: str, variables: Mapping[str, str]) -> None:
    """Refuse to set on a function other variables than FUNCTION_VARIABLES declares for it. A declared
    variable may come later from the construct that owns its value (the infra test checks each is set)."""
    declared = set(FUNCTION_VARIABLES.get(function, {}))
    if not set(variables) <= declared:
        raise ValueError(
            f"functions/{function} takes only {sorted(declared)} besides the common variables, "
            f"not {sorted(set(variables) - declared)}"
        )
