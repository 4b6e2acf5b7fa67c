"""Telemetry shared by every function: one Logger, Tracer and Metrics, the spec's metric names, helpers.

Usage in a handler module:

    from jobsched.telemetry import instrument_api, record_job_created

    @instrument_api
    def handler(event, context): ...          # API proxy handlers: request metrics + correlation ids

    @instrument_handler
    def handler(event, context): ...          # everything else (authorizer, executor, stream consumers)

Inside, `bind(job_id=..., execution_id=...)` adds correlation ids to every later log line of the
invocation, and the record_* helpers emit the business metrics. Metrics are written as CloudWatch EMF
lines on stdout and flushed once at the end of each invocation, except the API request metrics: a container
aggregates those per status class and writes one document for up to 100 requests (ApiRequestMetrics;
docs/decisions.md, Cost). The per-route view is the API's access log (the operations dashboard queries it).

METRICS declares every metric written here with every value of each of its dimensions: what CloudWatch bills
is one custom metric per combination (custom_metric_series, priced by infra/cost); a test drives every
record_* path and fails on a name or dimension value the declaration does not hold.

What never goes into logs: API key values, webhook secrets, target bodies and request bodies. Nothing here
logs an event or a request body; log lines carry ids, routes, status codes and durations only.

Tracing: Lambda's active tracing traces the invocations X-Ray samples (its default rule: the first request
each second, then 5%). Where tracing is on, Powertools' Tracer adds a subsegment around each handler call,
the correlation ids as annotations (`bind`), and subsegments for AWS calls by patching botocore only. Where
it is off (POWERTOOLS_TRACE_DISABLED=true locally, or outside Lambda) no Tracer is made at all: making one
imports the X-Ray SDK, about a third of a handler's import time (docs/decisions.md).
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from jobsched import config
from jobsched.keyscheme import JobKey

# The spec's application metrics (scaling-strategy.md, "Monitoring and Observability"), one namespace.
JOBS_CREATED_TOTAL = "jobs_created_total"
JOBS_EXECUTED_TOTAL = "jobs_executed_total"
JOB_EXECUTION_DURATION = "job_execution_duration"
ACTIVE_JOBS_GAUGE = "active_jobs_gauge"
API_REQUEST_DURATION = "api_request_duration"
API_REQUESTS_TOTAL = "api_requests_total"
# Not in the spec: how often keys are refused (a spike means a leaked, revoked or guessed key).
AUTHORIZER_DECISIONS_TOTAL = "authorizer_decisions_total"
# Not in the spec: queue messages the executor dropped as not made by the service (forged or broken fires).
FIRES_REJECTED_TOTAL = "fires_rejected_total"
# Not in the spec: the dead man's switch (execution.heartbeat), one per region a minute when all is well.
HEARTBEAT_OK = "heartbeat_ok"
# Not in the spec: job changes schedule-sync failed to apply (each retried; its DLQ after the last try).
SCHEDULE_SYNC_FAILURES_TOTAL = "schedule_sync_failures_total"
# Not in the spec, from the job census: schedules the scheduler refused (state error), and executions
# still `running` after their lease (their executor died; the message comes back or goes to the DLQ).
SCHEDULES_IN_ERROR_GAUGE = "schedules_in_error_gauge"
STUCK_EXECUTIONS_GAUGE = "stuck_executions_gauge"
# Not in the spec: executions that failed their last attempt (no retry left).
EXECUTIONS_FAILED_FINAL = "executions_failed_final"

SERVICE_DIMENSION = "service"
STATUS_CLASS_DIMENSION = "status_class"
OUTCOME_DIMENSION = "outcome"
DECISION_DIMENSION = "decision"


class ExecutionOutcome(StrEnum):
    """How one execution ended; the low-cardinality `outcome` dimension of jobs_executed_total."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # The job was paused, deleted or already run for this scheduled time: nothing was called.
    SKIPPED = "skipped"


class AuthorizerDecision(StrEnum):
    # Only refusals are counted: an acceptance is every request, already the API stage's Count metric,
    # and one EMF line per request would be most of the authorizer's cost (docs/decisions.md, Cost).
    DENIED = "denied"


# The values of the status_class dimension. The API answers no 1xx or 3xx: a status outside 200-499 counts
# with the server errors (status_class), so the dimension never takes a value priced nowhere.
STATUS_CLASSES = ("2xx", "4xx", "5xx")


@dataclass(frozen=True)
class MetricDeclaration:
    """One metric the service writes: its name and, per dimension, every value the code can give it."""

    name: str
    dimensions: Mapping[str, tuple[str, ...]]

    @property
    def series(self) -> int:
        """CloudWatch custom metrics (billed per metric-month) it can make: one per combination of values."""
        return math.prod(len(values) for values in self.dimensions.values())


_SERVICE_ONLY: Mapping[str, tuple[str, ...]] = {SERVICE_DIMENSION: (config.SERVICE,)}

# Every metric of every record_* helper and of instrument_api. The cost model counts every declared value
# for a whole month, a rare one (a 5xx, a denied key) too: an upper bound, as CloudWatch prorates a metric
# by the hours it is sent in. Powertools adds no dimension of its own here: its only one, function_name,
# is on the ColdStart metric, which nothing asks for (log_metrics' capture_cold_start_metric).
METRICS: tuple[MetricDeclaration, ...] = (
    MetricDeclaration(JOBS_CREATED_TOTAL, _SERVICE_ONLY),
    MetricDeclaration(
        JOBS_EXECUTED_TOTAL,
        {**_SERVICE_ONLY, OUTCOME_DIMENSION: tuple(outcome.value for outcome in ExecutionOutcome)},
    ),
    MetricDeclaration(JOB_EXECUTION_DURATION, _SERVICE_ONLY),
    MetricDeclaration(ACTIVE_JOBS_GAUGE, _SERVICE_ONLY),
    MetricDeclaration(API_REQUEST_DURATION, {**_SERVICE_ONLY, STATUS_CLASS_DIMENSION: STATUS_CLASSES}),
    MetricDeclaration(API_REQUESTS_TOTAL, {**_SERVICE_ONLY, STATUS_CLASS_DIMENSION: STATUS_CLASSES}),
    MetricDeclaration(
        AUTHORIZER_DECISIONS_TOTAL,
        {**_SERVICE_ONLY, DECISION_DIMENSION: tuple(decision.value for decision in AuthorizerDecision)},
    ),
    MetricDeclaration(FIRES_REJECTED_TOTAL, _SERVICE_ONLY),
    MetricDeclaration(HEARTBEAT_OK, _SERVICE_ONLY),
    MetricDeclaration(SCHEDULE_SYNC_FAILURES_TOTAL, _SERVICE_ONLY),
    MetricDeclaration(SCHEDULES_IN_ERROR_GAUGE, _SERVICE_ONLY),
    MetricDeclaration(STUCK_EXECUTIONS_GAUGE, _SERVICE_ONLY),
    MetricDeclaration(EXECUTIONS_FAILED_FINAL, _SERVICE_ONLY),
)


def custom_metric_series() -> int:
    """The custom metrics one region can hold: the sum over METRICS of their value combinations."""
    return sum(metric.series for metric in METRICS)


def _make_tracer() -> Any:
    """Powertools' Tracer where tracing is on (its own rule: in Lambda and not disabled), else None."""
    flag = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower()
    disabled = flag in ("true", "1", "yes", "on")
    if disabled or not os.environ.get("LAMBDA_TASK_ROOT"):
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(service=config.SERVICE, patch_modules=("botocore",))


logger = Logger(service=config.SERVICE)
tracer = _make_tracer()
metrics = Metrics(namespace=config.METRICS_NAMESPACE, service=config.SERVICE)

Handler = TypeVar("Handler", bound=Callable[[dict[str, Any], Any], Any])

_CORRELATION_KEYS = ("request_id", "lambda_request_id", "tenant", "key_id", "job_id", "execution_id")


def status_class(status: int) -> str:
    """200 -> '2xx', 404 -> '4xx'; anything else (5xx, and the 1xx and 3xx the API never answers) '5xx'."""
    if 200 <= status <= 299:
        return "2xx"
    return "4xx" if 400 <= status <= 499 else "5xx"


def route_of(event: Mapping[str, Any]) -> str:
    """'POST /api/v1/jobs/{job_id}': the API Gateway resource template, never the concrete path (the
    "request handled" log line's route, which groups with the access log's method and resourcePath)."""
    method = str(event.get("httpMethod") or "UNKNOWN").upper()
    context = event.get("requestContext") or {}
    resource = event.get("resource") or context.get("resourcePath") or "unknown"
    return f"{method} {resource}"


def bind(**ids: str | None) -> None:
    """Add correlation ids (tenant, job_id, execution_id, ...) to every later log line and the trace."""
    present = {name: value for name, value in ids.items() if value}
    logger.append_keys(**present)
    if tracer is not None:
        for name, value in present.items():
            tracer.put_annotation(key=name, value=value)


def _bind_invocation(event: Mapping[str, Any], context: Any) -> None:
    logger.remove_keys(list(_CORRELATION_KEYS))
    request_context = event.get("requestContext") or {}
    authorizer = request_context.get("authorizer") or {}
    path_parameters = event.get("pathParameters") or {}
    request_id = request_context.get("requestId")
    logger.set_correlation_id(request_id)
    bind(
        request_id=request_id,
        lambda_request_id=getattr(context, "aws_request_id", None),
        tenant=authorizer.get("tenant"),
        key_id=authorizer.get("key_id"),
        job_id=path_parameters.get("job_id"),
    )


def _flush_metrics() -> None:
    # An invocation that recorded nothing writes nothing (Powertools would warn about an empty set).
    if metrics.metric_set:
        metrics.flush_metrics()


def instrument_handler(handler: Handler) -> Handler:
    """Correlation ids in the logs, a traced handler, and the invocation's metrics flushed at the end."""

    @functools.wraps(handler)
    def wrapper(event: dict[str, Any], context: Any) -> Any:
        _bind_invocation(event, context)
        try:
            return _traced(handler)(event, context)
        finally:
            _flush_metrics()

    return wrapper  # type: ignore[return-value]


def instrument_api(handler: Handler) -> Handler:
    """instrument_handler plus api_request_duration and api_requests_total by status class, and one
    "request handled" log line naming the route.

    An exception escaping the handler counts as a 5xx (API Gateway answers 502 for it).
    """

    @functools.wraps(handler)
    def wrapper(event: dict[str, Any], context: Any) -> Any:
        _bind_invocation(event, context)
        started = time.perf_counter()
        status = 500
        try:
            response = _traced(handler)(event, context)
            status = int(response.get("statusCode", 500)) if isinstance(response, Mapping) else 500
            return response
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
            record_api_request(status, duration_ms)
            logger.info(
                "request handled",
                extra={"route": route_of(event), "status": status, "duration_ms": round(duration_ms, 1)},
            )
            api_request_metrics.flush_due()
            _flush_metrics()

    return wrapper  # type: ignore[return-value]


def _traced(handler: Handler) -> Handler:
    if tracer is None:
        return handler
    captured: Handler = tracer.capture_method(capture_response=False)(handler)
    return captured


def _dimensioned(name: str, unit: MetricUnit, value: float, **dimensions: str) -> None:
    """One EMF line for a metric whose dimensions differ from the invocation's shared set."""
    with single_metric(
        name=name,
        unit=unit,
        value=value,
        namespace=config.METRICS_NAMESPACE,
        default_dimensions={SERVICE_DIMENSION: config.SERVICE, **dimensions},
    ):
        pass


# The EMF specification's limit on the values of one metric in one document ("Target members").
MAX_VALUES_PER_DOCUMENT = 100


def _epoch_ms() -> int:
    return time.time_ns() // 1_000_000


def _write_line(line: str) -> None:
    print(line)  # EMF documents go to stdout, where Lambda sends them to CloudWatch Logs


def api_request_document(status_cls: str, durations_ms: list[float], timestamp_ms: int) -> dict[str, Any]:
    """The EMF document of one status class's set: the requests' count and their durations.

    api_requests_total is one value, the count; api_request_duration is the array of the durations, from
    which CloudWatch computes the percentiles as if each had been a document of its own.
    """
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": config.METRICS_NAMESPACE,
                    "Dimensions": [[SERVICE_DIMENSION, STATUS_CLASS_DIMENSION]],
                    "Metrics": [
                        {"Name": API_REQUESTS_TOTAL, "Unit": MetricUnit.Count.value},
                        {"Name": API_REQUEST_DURATION, "Unit": MetricUnit.Milliseconds.value},
                    ],
                }
            ],
        },
        SERVICE_DIMENSION: config.SERVICE,
        STATUS_CLASS_DIMENSION: status_cls,
        API_REQUESTS_TOTAL: len(durations_ms),
        API_REQUEST_DURATION: durations_ms,
    }


@dataclass
class _RequestSet:
    started: float  # the clock's reading at the set's first request
    durations_ms: list[float] = field(default_factory=list)


class ApiRequestMetrics:
    """api_requests_total and api_request_duration of one container, aggregated per status class.

    One EMF document per request was most of the API functions' log bytes; one per set carries up to 100
    requests (docs/decisions.md, Cost). At the end of each invocation (flush_due) a set is written when it
    is `flush_seconds` old or holds 100 values; its document's timestamp is when it is written. What an
    idle container holds when Lambda reclaims it (at most one interval of requests) is never written.

    `flush_seconds` None reads METRICS_FLUSH_SECONDS (jobsched.settings) at the first flush_due; `now` is a
    monotonic clock in seconds, `epoch_ms` the timestamp of a document, `write` where a document's line goes.
    """

    def __init__(
        self,
        flush_seconds: float | None = None,
        *,
        now: Callable[[], float] = time.monotonic,
        epoch_ms: Callable[[], int] = _epoch_ms,
        write: Callable[[str], None] = _write_line,
    ) -> None:
        self._flush_seconds = flush_seconds
        self._now = now
        self._epoch_ms = epoch_ms
        self._write = write
        self._sets: dict[str, _RequestSet] = {}

    @property
    def flush_seconds(self) -> float:
        if self._flush_seconds is None:
            # Imported here: jobsched.settings imports pydantic, which not every user of telemetry needs.
            from jobsched.settings import load_telemetry_settings

            self._flush_seconds = load_telemetry_settings().metrics_flush_seconds
        return self._flush_seconds

    def add(self, status: int, duration_ms: float) -> None:
        key = status_class(status)
        pending = self._sets.get(key)
        if pending is not None and len(pending.durations_ms) >= MAX_VALUES_PER_DOCUMENT:
            self._flush(key)
            pending = None
        if pending is None:
            pending = self._sets[key] = _RequestSet(started=self._now())
        # A tenth of a millisecond is finer than the latency panels read, and keeps each value ~5 bytes.
        pending.durations_ms.append(round(duration_ms, 1))

    def flush_due(self) -> None:
        """Write every set that is old enough or full (at the end of each API invocation)."""
        now = self._now()
        interval = self.flush_seconds
        for key, pending in list(self._sets.items()):
            if now - pending.started >= interval or len(pending.durations_ms) >= MAX_VALUES_PER_DOCUMENT:
                self._flush(key)

    def _flush(self, key: str) -> None:
        pending = self._sets.pop(key)
        document = api_request_document(key, pending.durations_ms, self._epoch_ms())
        self._write(json.dumps(document, separators=(",", ":")))


api_request_metrics = ApiRequestMetrics()


def record_api_request(status: int, duration_ms: float) -> None:
    """Count one request and its duration in this container's set for its status class; the set's
    document is written by instrument_api at the end of an invocation, once it is due."""
    api_request_metrics.add(status, duration_ms)


def record_job_created() -> None:
    """One job was created (not an idempotent replay of an earlier create)."""
    metrics.add_metric(name=JOBS_CREATED_TOTAL, unit=MetricUnit.Count, value=1)


def record_execution(outcome: ExecutionOutcome | str, duration_ms: float) -> None:
    """One execution ended: jobs_executed_total by outcome, and its duration (all outcomes together)."""
    try:
        known = ExecutionOutcome(outcome)
    except ValueError:
        logger.warning("unknown execution outcome counted as failed", extra={"outcome": str(outcome)})
        known = ExecutionOutcome.FAILED
    _dimensioned(JOBS_EXECUTED_TOTAL, MetricUnit.Count, 1, **{OUTCOME_DIMENSION: known.value})
    metrics.add_metric(name=JOB_EXECUTION_DURATION, unit=MetricUnit.Milliseconds, value=duration_ms)


def record_active_jobs(count: int) -> None:
    """How many jobs are active right now, from whoever knows the number (see docs/operations.md)."""
    metrics.add_metric(name=ACTIVE_JOBS_GAUGE, unit=MetricUnit.Count, value=count)


def record_authorizer_decision(decision: AuthorizerDecision) -> None:
    _dimensioned(AUTHORIZER_DECISIONS_TOTAL, MetricUnit.Count, 1, **{DECISION_DIMENSION: decision.value})


def record_final_failure() -> None:
    """An execution failed its last attempt. Service dimension only: tenant and job ids would make one
    metric per job (cost, cardinality); the execution history and last_execution say which job."""
    _dimensioned(EXECUTIONS_FAILED_FINAL, MetricUnit.Count, 1)


def record_fire_rejected(reason: str, **claims: str | None) -> None:
    """A message on the execution queue was not a fire the service made: one log line and one count.

    Only the reason and what the message claimed (tenant, job, trigger) are logged, never its token or
    body. The count has the service dimension only, so one alarm covers every reason.
    """
    logger.warning(
        "fire message rejected",
        extra={"reason": reason, **{f"claimed_{k}": v for k, v in claims.items() if v is not None}},
    )
    _dimensioned(FIRES_REJECTED_TOTAL, MetricUnit.Count, 1)


def record_heartbeat() -> None:
    """The region's heartbeat fire arrived and was recorded (dimension: service only, one alarm)."""
    _dimensioned(HEARTBEAT_OK, MetricUnit.Count, 1)


def record_heartbeat_unanswered(error: str) -> None:
    """The heartbeat's target (the region's own API health route) did not answer 200: not recorded, not
    counted, so HeartbeatMissing pages if it lasts; this line says why."""
    logger.warning("heartbeat target did not answer", extra={"error": error[:500]})


def record_schedule_sync_failure(job: JobKey, error: BaseException) -> None:
    """schedule-sync could not apply a change of this job: a log line naming the job, and one count.

    The error's type and message are logged (AWS error messages name resources, never secrets); the
    stream retries the record and gives up into the sync DLQ after its last attempt.
    """
    logger.warning(
        "schedule-sync failed",
        extra={"tenant": job.tenant, "job_id": job.job_id, "error": f"{type(error).__name__}: {error}"[:500]},
    )
    _dimensioned(SCHEDULE_SYNC_FAILURES_TOTAL, MetricUnit.Count, 1)


def record_schedule_rejected(job: JobKey, reason: str) -> None:
    """The scheduler refused this job's schedule: a log line naming the job (no retry; the job holds
    schedule_state=error and the reason, and the job census counts it in schedules_in_error_gauge)."""
    logger.warning(
        "schedule-sync: schedule rejected",
        extra={"tenant": job.tenant, "job_id": job.job_id, "error": reason[:500]},
    )


def record_job_census(active: int, schedules_in_error: int, stuck_executions: int) -> None:
    """The job census's gauges, one line each (the dashboards and alarms read their Maximum)."""
    metrics.add_metric(name=ACTIVE_JOBS_GAUGE, unit=MetricUnit.Count, value=active)
    metrics.add_metric(name=SCHEDULES_IN_ERROR_GAUGE, unit=MetricUnit.Count, value=schedules_in_error)
    metrics.add_metric(name=STUCK_EXECUTIONS_GAUGE, unit=MetricUnit.Count, value=stuck_executions)
