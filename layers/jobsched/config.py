"""Names, regions and tier tables: the one place both the infrastructure and the runtime read them from.

cdk.json carries the same regions and tiers as context; tests/infra checks that the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

SERVICE = "jobsched"
PRIMARY_REGION = "us-east-1"
REGIONS: tuple[str, ...] = ("us-east-1", "eu-west-1", "ap-south-1")

JOBS_TABLE = "jobsched-jobs"
EXECUTIONS_TABLE = "jobsched-executions"
GSI1 = "gsi1"
TTL_ATTRIBUTE = "expires_at"

EXECUTION_QUEUE = "jobsched-executions"
# Execution history older than the table keeps: one bucket per region (history stays in its home region).
ARCHIVE_BUCKET_PREFIX = "jobsched-archive"
EXECUTION_DLQ = "jobsched-executions-dlq"
SCHEDULE_GROUP = "jobsched"
# Fires EventBridge Scheduler could not deliver after its retries; stream records schedule-sync gave up on.
SCHEDULER_DLQ = "jobsched-scheduler-dlq"
SCHEDULE_SYNC_DLQ = "jobsched-schedule-sync-dlq"
NOTIFICATION_TOPIC = "jobsched-notifications"  # failure/recovery e-mails, one topic per region
# Bulk pause/resume beyond the inline limit: one message per page of a tenant's jobs, for the bulk worker.
BULK_QUEUE = "jobsched-bulk"
BULK_DLQ = "jobsched-bulk-dlq"
BULK_WORKER_TIMEOUT_SECONDS = 60
BULK_VISIBILITY_SECONDS = 6 * BULK_WORKER_TIMEOUT_SECONDS
BULK_MAX_RECEIVES = 5
BULK_INLINE_LIMIT = 100  # default: matching jobs a bulk pause/resume does within the request
# An archive run's scan segments (jobsched.execution.archive), one message each, scanned by the archiver.
ARCHIVE_QUEUE = "jobsched-archive"
ARCHIVE_DLQ = "jobsched-archiver-dlq"  # also where a failed planning run's event goes
ARCHIVER_TIMEOUT_SECONDS = 900
ARCHIVE_VISIBILITY_SECONDS = 6 * ARCHIVER_TIMEOUT_SECONDS  # AWS's advice for an SQS event source
ARCHIVE_MAX_RECEIVES = 3
# Read units a second one segment's scan consumes on average: the default of the archiver's setting
# ARCHIVE_READ_UNITS_PER_SECOND (jobsched.settings), which the stack sets from this.
ARCHIVE_READ_UNITS_PER_SECOND = 25.0
# A target may take up to 900 s (Lambda's own limit), so the executor may too; SQS hides a message for
# 6x the function timeout, as AWS advises for SQS event sources, before another consumer may see it.
EXECUTOR_TIMEOUT_SECONDS = 900
EXECUTION_VISIBILITY_SECONDS = 6 * EXECUTOR_TIMEOUT_SECONDS
EXECUTION_MAX_RECEIVES = 5

API_STAGE = "prod"
API_KEY_HEADER = "x-api-key"
# Where the primary region's stack writes the Cognito issuer, audience and JWKS URL the authorizers trust.
TOKEN_SETTINGS_PARAMETER = "/jobsched/auth/token-settings"  # noqa: S105 (a parameter name)
METRICS_NAMESPACE = "JobScheduler"


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


class Tier(StrEnum):
    BASIC = "basic"
    STANDARD = "standard"
    PREMIUM = "premium"


@dataclass(frozen=True)
class TierLimits:
    """A spec tier (requests per hour) mapped onto what API Gateway usage plans can express.

    Usage plan quotas count by day, week or month, so the hourly figure becomes a steady rate
    (hourly / 3600), a burst bucket of ten seconds at that rate ("2x for 10 s", read as a bucket),
    and a daily quota of 24 hours at the hourly figure.
    """

    requests_per_hour: int
    rate_per_second: float
    burst: int
    daily_quota: int


TIERS: dict[Tier, TierLimits] = {
    Tier.BASIC: TierLimits(requests_per_hour=1_000, rate_per_second=0.28, burst=3, daily_quota=24_000),
    Tier.STANDARD: TierLimits(requests_per_hour=10_000, rate_per_second=2.8, burst=28, daily_quota=240_000),
    Tier.PREMIUM: TierLimits(
        requests_per_hour=100_000, rate_per_second=28.0, burst=278, daily_quota=2_400_000
    ),
}

# Stage-wide throttle across all keys: the spec's 300 req/s peak with headroom.
STAGE_RATE_PER_SECOND = 500.0
STAGE_BURST = 1_000

# The local gateway caches an API key's allow for this long. Deployed, API Gateway caches nothing: a cached
# REQUEST authorizer needs every identity source, and callers send x-api-key or Authorization.
AUTHORIZER_CACHE_SECONDS = 300

# The edge's per-client-IP limit (the spec's 100 requests/s per IP). WAF counts a rate-based rule over a
# window, so the limit is written as requests per window; the local gateway's per-IP token bucket refills
# at the same rate and holds one window's worth, so both let the same traffic through.
PER_IP_RATE_PER_SECOND = 100
PER_IP_WINDOW_SECONDS = 60
PER_IP_LIMIT_PER_WINDOW = PER_IP_RATE_PER_SECOND * PER_IP_WINDOW_SECONDS
# What a client over the per-IP limit is told to wait: one window, after which WAF has forgotten the burst.
PER_IP_RETRY_AFTER_SECONDS = PER_IP_WINDOW_SECONDS

# Responses at least this large are gzip-compressed for clients that accept it (API Gateway's
# minimumCompressionSize; the local gateway does the same).
COMPRESSION_MIN_BYTES = 1024

# The deep health route Route 53's health checks call (no API key); GET /health stays the cheap liveness
# probe.
DEEP_HEALTH_PATH = "/health/deep"
# GET /health/deep caches its verdict this long, so health checkers cost almost nothing; each dependency
# check gets this long to connect and this long to answer, once (no retries).
DEEP_HEALTH_CACHE_SECONDS = 5.0
DEEP_HEALTH_TIMEOUT_SECONDS = 1.0


def usage_plan_name(tier: Tier | str) -> str:
    return f"{SERVICE}-{Tier(tier).value}"


def api_key_name(key_id: str) -> str:
    """The name an API key carries in every region's API Gateway, so it can be found by our own id."""
    return f"{SERVICE}-{key_id}"


def archive_bucket_name(account: str, region: str) -> str:
    """The execution archive's bucket in a region (names are global: account and region make it ours)."""
    return f"{ARCHIVE_BUCKET_PREFIX}-{account}-{region}"


def rest_api_name() -> str:
    return f"{SERVICE}-api"
