"""The job: what a caller defines (JobSpec) and what the service keeps and returns (Job)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from enum import StrEnum
from itertools import islice
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    GetCoreSchemaHandler,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import core_schema

from jobsched.empty import empty_dict, empty_list
from jobsched.jobs.states import JobStatus as JobStatus
from jobsched.jobs.states import NotificationEvent as NotificationEvent
from jobsched.jobs.states import ScheduleState as ScheduleState
from jobsched.patterns import Pattern
from jobsched.scheduling.catch_up import CatchUp
from jobsched.scheduling.exclusions import (
    MAX_EXCLUSIONS,
    ExclusionRange,
    allowed_fires,
    excluded_until,
    parse_exclusions,
)
from jobsched.scheduling.expressions import (
    Expression,
    ExpressionError,
    ScheduleKind,
    at_time_utc,
    fire_times,
    next_fire_times,
    parse_expression,
    parse_timezone,
)
from jobsched.targets.guard import url_problem

MAX_TARGET_BODY_BYTES = 64 * 1024
TEMPLATE_DESCRIPTION = (
    "fill {{scheduled_time}}, {{execution_id}}, {{attempt}}, {{job_id}} in the payload at each call "
    "(JSON-escaped)"
)
MAX_TAGS = 50
MAX_CHAINED_JOBS = 10
ChainedJobId = Annotated[str, Field(pattern=r"^job_[0-9a-z]{26}$", description="a job id (job_<ulid>)")]
PREVIEW_COUNT = 5

TagKey = Annotated[str, Field(min_length=1, max_length=128)]
TagValue = Annotated[str, Field(max_length=256)]
HeaderName = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")]
# No control characters but tab: CR/LF/NUL in a value would split or truncate the request to the target.
HeaderValue = Annotated[str, Field(max_length=4096, pattern=r"^[^\r\n]*$")]
# Control characters but tab: CR/LF/NUL in a value would split or truncate the request to the target.
_CONTROL_IN_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Headers the service sets itself (framing, routing, the Standard Webhooks signature): a job may not.
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "proxy-connection",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)


class Strict(BaseModel):
    """Unknown fields are refused, so a server field sent by a caller can never be stored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class OverlapPolicy(StrEnum):
    ALLOW = "allow"
    FORBID = "forbid"


# Validation context of a job read back from the table: rules newer than the item do not stop it loading.
STORED = {"stored": True}
MAX_EXPRESSION_LENGTH = 256


def _expression_of(text: str, info: ValidationInfo) -> Expression:
    stored = bool(info.context and info.context.get("stored"))
    try:
        return parse_expression(text, stored=stored)
    except ExpressionError as exc:
        raise ValueError(str(exc)) from None


def _carried_or_parsed(value: Any, parse: core_schema.ValidatorFunctionWrapHandler) -> Expression:
    return value if isinstance(value, Expression) else parse(value)


class _ExpressionText:
    """An expression as the API and the table hold it (a string), parsed once into an ``Expression``.

    The model holds the parsed value, and a model given one (a Schedule passed on from the request's
    model) keeps it without parsing again; every dump (responses, stored items) writes the same text back.
    """

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        text = core_schema.with_info_after_validator_function(
            _expression_of, core_schema.str_schema(max_length=MAX_EXPRESSION_LENGTH)
        )
        return core_schema.no_info_wrap_validator_function(
            _carried_or_parsed,
            text,
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, return_schema=core_schema.str_schema(max_length=MAX_EXPRESSION_LENGTH)
            ),
        )


ScheduleExpression = Annotated[Expression, _ExpressionText]


class Schedule(Strict):
    expression: ScheduleExpression = Field(
        description="cron(m h dom mon dow yr), rate(N minutes|hours|days) or at(YYYY-MM-DDThh:mm:ss)",
        examples=["cron(0 18 ? * MON-FRI *)", "rate(5 minutes)", "at(2030-12-01T10:00:00)"],
    )
    timezone: str = Field(
        default="UTC", max_length=64, description="IANA time zone the expression is read in"
    )
    start_at: datetime | None = Field(default=None, description="ISO 8601; without an offset, in `timezone`")
    end_at: datetime | None = Field(default=None, description="ISO 8601; without an offset, in `timezone`")
    flexible_window_minutes: int = Field(default=0, ge=0, le=1440, description="0 = fire on time")
    exclusions: list[date | ExclusionRange] = Field(
        default_factory=empty_list,
        max_length=MAX_EXCLUSIONS,
        description='days in `timezone` it does not fire: "YYYY-MM-DD" or {"from": date, "to": date}',
        examples=[["2026-12-25", {"from": "2026-12-28", "to": "2026-12-31"}]],
    )

    @field_validator("exclusions", mode="before")
    @classmethod
    def _valid_exclusions(cls, value: object) -> object:
        return parse_exclusions(value)

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            parse_timezone(value)
        except ExpressionError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Schedule:
        zone = parse_timezone(self.timezone)
        if self.start_at is not None:
            self.start_at = _as_utc(self.start_at, zone, "start_at")
        if self.end_at is not None:
            self.end_at = _as_utc(self.end_at, zone, "end_at")
        if self.start_at and self.end_at and self.end_at <= self.start_at:
            raise ValueError("end_at must be after start_at")
        return self

    def first_fire_problem(self, now: datetime) -> tuple[str, str] | None:
        """(field, why) when this schedule can never fire from ``now`` on, or None.

        An end_at already past, an at() in the past, or an expression with no fire left in its window
        (``cron(0 0 31 2 ? *)``, a cron whose years are over) is refused up front instead of being
        accepted into a schedule that never runs.
        """
        if self.end_at is not None and self.end_at <= now:
            return "schedule.end_at", f"{self.end_at.isoformat()} is in the past"
        expression = self.expression
        if expression.kind is ScheduleKind.AT:
            try:
                fires_at = at_time_utc(expression, parse_timezone(self.timezone))
            except ExpressionError as exc:
                return "schedule.expression", str(exc)
            if fires_at <= now:
                return "schedule.expression", f"{self.expression} in {self.timezone} is in the past"
        if not self.preview(after=now, anchor=now, count=1):
            window = " before end_at" if self.end_at is not None else ""
            return "schedule.expression", f"{self.expression} has no fire time after now{window}"
        return None

    @property
    def counts_from_creation(self) -> bool:
        """A rate() without start_at counts from the job's creation, so its preview needs created_at."""
        return self.start_at is None and self.expression.kind is ScheduleKind.RATE

    def excludes(self, instant: datetime) -> bool:
        """True if ``instant`` falls on an excluded day (in the schedule's time zone)."""
        return bool(self.exclusions) and (
            excluded_until(self.exclusions, instant, parse_timezone(self.timezone)) is not None
        )

    def preview(self, after: datetime, anchor: datetime, count: int = PREVIEW_COUNT) -> list[datetime]:
        if self.exclusions:
            expression, zone = self.expression, parse_timezone(self.timezone)

            def restart(since: datetime) -> Iterator[datetime]:
                return fire_times(
                    expression, zone, since, anchor=anchor, start_at=self.start_at, end_at=self.end_at
                )

            return list(islice(allowed_fires(restart(after), restart, self.exclusions, zone), count))
        return next_fire_times(
            self.expression,
            parse_timezone(self.timezone),
            after,
            count,
            anchor=anchor,
            start_at=self.start_at,
            end_at=self.end_at,
        )


class HttpTarget(Strict):
    type: Literal["http"] = "http"
    url: str = Field(min_length=1, max_length=2048, description="https:// URL the job calls")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[HeaderName, HeaderValue] = Field(default_factory=empty_dict, max_length=50)
    body: str | None = Field(default=None, description="sent verbatim; at most 64 KB")
    timeout_seconds: int = Field(default=30, ge=1, le=900)
    template: bool = Field(default=False, description=TEMPLATE_DESCRIPTION)

    @field_validator("url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be an absolute http(s) URL with a host")
        return value

    def problems(self) -> list[tuple[str, str]]:
        """(field, why) for what a create or replace refuses, and a call refuses again.

        Checked here rather than by the model's validators, so that a job stored before a rule existed
        still loads (and answers GET, and can be replaced or deleted) instead of failing every read.
        """
        found: list[tuple[str, str]] = []
        problem = url_problem(self.url)
        if problem is not None:
            found.append(("target.url", problem))
        reserved = sorted(name for name in self.headers if name.lower() in RESERVED_HEADERS)
        if reserved:
            found.append(("target.headers", f"{', '.join(reserved)}: set by the service, may not be given"))
        lowered = [name.lower() for name in self.headers]
        if len(set(lowered)) != len(lowered):
            found.append(("target.headers", "header names must be unique regardless of case"))
        for name, value in self.headers.items():
            if _CONTROL_IN_VALUE.search(value):
                found.append((f"target.headers.{name}", "must not contain control characters (CR, LF, NUL)"))
        return found

    @field_validator("body")
    @classmethod
    def _bounded_body(cls, value: str | None) -> str | None:
        if value is not None and len(value.encode("utf-8")) > MAX_TARGET_BODY_BYTES:
            raise ValueError(f"body must be at most {MAX_TARGET_BODY_BYTES} bytes")
        return value


class EventBridgeTarget(Strict):
    """PutEvents of one event to a bus (which AWS targets a tenant may use: docs/execution.md)."""

    type: Literal["eventbridge"]
    event_bus_arn: Annotated[
        str,
        Field(max_length=1600),
        Pattern(r"^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus/[A-Za-z0-9._/-]+$"),
    ]
    source: str = Field(default="jobsched", min_length=1, max_length=256)
    detail_type: str = Field(default="Scheduled Job", min_length=1, max_length=128)
    detail: str = Field(default="{}", description="a JSON object, sent as the event's Detail")
    timeout_seconds: int = Field(default=30, ge=1, le=900)
    template: bool = Field(default=False, description=TEMPLATE_DESCRIPTION)

    @field_validator("detail")
    @classmethod
    def _json_object(cls, value: str) -> str:
        return _json_object_text(value, "detail")


class SqsTarget(Strict):
    """SendMessage of the body to a queue."""

    type: Literal["sqs"]
    queue_url: Annotated[
        str,
        Field(max_length=1024),
        Pattern(r"^https://sqs\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/\d{12}/[A-Za-z0-9_-]+(\.fifo)?$"),
    ]
    body: str = Field(default="{}", min_length=1, description="the message body, sent verbatim")
    message_group_id: str | None = Field(default=None, max_length=128, description="FIFO queues only")
    timeout_seconds: int = Field(default=30, ge=1, le=900)
    template: bool = Field(default=False, description=TEMPLATE_DESCRIPTION)

    @field_validator("body")
    @classmethod
    def _bounded_body(cls, value: str) -> str:
        if len(value.encode("utf-8")) > MAX_TARGET_BODY_BYTES:
            raise ValueError(f"body must be at most {MAX_TARGET_BODY_BYTES} bytes")
        return value


def _json_object_text(value: str, name: str) -> str:
    import json

    try:
        parsed = json.loads(value)
    except ValueError:
        raise ValueError(f"{name} must be a JSON object") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"{name} must be a JSON object")
    if len(value.encode("utf-8")) > MAX_TARGET_BODY_BYTES:
        raise ValueError(f"{name} must be at most {MAX_TARGET_BODY_BYTES} bytes")
    return value


class LambdaTarget(Strict):
    """An asynchronous Invoke (InvocationType Event) of a function with a JSON payload."""

    type: Literal["lambda"]
    function_arn: Annotated[
        str,
        Field(max_length=256),
        Pattern(
            r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?$"
        ),
    ] = Field(description="the function's ARN, optionally with a version or alias")
    payload: str = Field(default="{}", description="a JSON object, sent as the invocation's payload")
    timeout_seconds: int = Field(default=30, ge=1, le=900)
    template: bool = Field(default=False, description=TEMPLATE_DESCRIPTION)

    @field_validator("payload")
    @classmethod
    def _json_object(cls, value: str) -> str:
        return _json_object_text(value, "payload")


class SnsTarget(Strict):
    """Publish of a message to a topic."""

    type: Literal["sns"]
    topic_arn: Annotated[
        str,
        Field(max_length=512),
        Pattern(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$"),
    ]
    message: str = Field(default="{}", min_length=1, description="the message, sent verbatim")
    subject: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[^\r\n]*$")
    message_group_id: str | None = Field(default=None, max_length=128, description="FIFO topics only")
    timeout_seconds: int = Field(default=30, ge=1, le=900)
    template: bool = Field(default=False, description=TEMPLATE_DESCRIPTION)

    @field_validator("message")
    @classmethod
    def _bounded_message(cls, value: str) -> str:
        if len(value.encode("utf-8")) > MAX_TARGET_BODY_BYTES:
            raise ValueError(f"message must be at most {MAX_TARGET_BODY_BYTES} bytes")
        return value


class StepFunctionsTarget(Strict):
    """StartExecution of a state machine; the execution's name is derived from the job's execution id."""

    type: Literal["stepfunctions"]
    state_machine_arn: Annotated[
        str,
        Field(max_length=256),
        Pattern(r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$"),
    ]
    input: str = Field(default="{}", description="a JSON object, the execution's input")
    timeout_seconds: int = Field(default=30, ge=1, le=900)
    template: bool = Field(default=False, description=TEMPLATE_DESCRIPTION)

    @field_validator("input")
    @classmethod
    def _json_object(cls, value: str) -> str:
        return _json_object_text(value, "input")


AwsTarget = EventBridgeTarget | SqsTarget | LambdaTarget | SnsTarget | StepFunctionsTarget


def _target_type(value: Any) -> str:
    raw = value.get("type", "http") if isinstance(value, dict) else getattr(value, "type", "http")
    return raw if isinstance(raw, str) else "invalid"


TARGET_TYPES = frozenset({"http", "eventbridge", "sqs", "lambda", "sns", "stepfunctions"})

# A union keyed on "type" (default "http"); each AWS target type joins it as one more tagged member.
Target = Annotated[
    Annotated[HttpTarget, Tag("http")]
    | Annotated[EventBridgeTarget, Tag("eventbridge")]
    | Annotated[SqsTarget, Tag("sqs")]
    | Annotated[LambdaTarget, Tag("lambda")]
    | Annotated[SnsTarget, Tag("sns")]
    | Annotated[StepFunctionsTarget, Tag("stepfunctions")],
    Discriminator(
        _target_type, custom_error_type="invalid_target_type", custom_error_message="unknown target type"
    ),
]


class RetryPolicy(Strict):
    max_attempts: int = Field(default=3, ge=1, le=10)
    backoff_seconds: int = Field(default=30, ge=1, le=3600)
    backoff_multiplier: float = Field(default=2.0, ge=1.0, le=10.0)


# Local part and a dotted domain of letters, digits and hyphens: what SNS e-mail subscriptions accept.
EMAIL_PATTERN = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


class Notifications(Strict):
    """Who hears of the job's failures and recoveries: once per transition, never per retry."""

    on: list[NotificationEvent] = Field(
        default_factory=lambda: [NotificationEvent.FAILURE, NotificationEvent.RECOVERY],
        min_length=1,
        max_length=2,
    )
    webhook: str | None = Field(
        default=None, max_length=2048, description="https URL; signed with the job's webhook secret"
    )
    email: Annotated[str, Field(max_length=254), Pattern(EMAIL_PATTERN)] | None = Field(
        default=None, description="via SNS"
    )

    @field_validator("on")
    @classmethod
    def _unique(cls, value: list[NotificationEvent]) -> list[NotificationEvent]:
        if len(set(value)) != len(value):
            raise ValueError("events must be unique")
        return value

    @field_validator("webhook")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        from urllib.parse import urlsplit

        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("webhook must be an absolute http(s) URL with a host")
        return value

    @model_validator(mode="after")
    def _a_channel(self) -> Notifications:
        if self.webhook is None and self.email is None:
            raise ValueError("give a webhook, an email, or both")
        return self


class JobSpec(Strict):
    """Everything a caller may set on a job (the body of POST and PUT)."""

    # Built on first use: only the Job API validates and writes specs (it builds this when it starts:
    # jobsched.jobs.service); every other function reads jobs as Job only.
    model_config = ConfigDict(defer_build=True)

    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=1024)
    tags: dict[TagKey, TagValue] = Field(default_factory=empty_dict, max_length=MAX_TAGS)
    priority: int = Field(default=5, ge=0, le=9)
    enabled: bool = True
    region: str | None = Field(default=None, description="home region; default: the serving region")
    schedule: Schedule
    target: Target
    retry_policy: RetryPolicy = Field(default_factory=RetryPolicy)
    overlap_policy: OverlapPolicy = OverlapPolicy.ALLOW
    catch_up: CatchUp = Field(default_factory=CatchUp, description="what becomes of fires the job missed")
    notifications: Notifications | None = Field(default=None, description="failure and recovery notices")
    on_success: list[ChainedJobId] = Field(
        default_factory=empty_list,
        max_length=MAX_CHAINED_JOBS,
        description="jobs of this tenant to run after each successful run of this one (no cycles)",
    )

    @field_validator("on_success")
    @classmethod
    def _unique_chain(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("job ids must be unique")
        return value


class LastExecution(BaseModel):
    """The newest finished execution, written onto the job by the executor (the version stays)."""

    model_config = ConfigDict(extra="ignore")

    execution_id: str
    status: str
    scheduled_at: datetime
    finished_at: datetime | None = None
    attempts: int = 1
    status_code: int | None = None


class Job(JobSpec):
    """A stored job: the caller's fields plus the server's."""

    model_config = ConfigDict(extra="ignore", defer_build=False)  # every function reading jobs needs it

    job_id: str
    region: str
    version: int = Field(ge=1)
    created_at: datetime
    updated_at: datetime
    created_by: str
    updated_by: str
    status: JobStatus
    schedule_state: ScheduleState = ScheduleState.PENDING
    schedule_error: str | None = None
    schedule_arn: str | None = None
    pause_note: str | None = Field(default=None, description="why the job was paused (DELETE /schedule)")
    last_execution: LastExecution | None = None
    # Read from the job item for the service's own fires; never serialized, so no response or log shows it.
    fire_token: str | None = Field(default=None, exclude=True, repr=False)
    # The preview kept with the item: computed when the schedule is written, so reads only copy it.
    # None: not stored (an item from before the preview was kept, or a replaced rate() job, see below).
    next_runs: list[datetime] | None = None

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    def upcoming_runs(self, now: datetime) -> list[datetime]:
        """The next fire times after ``now``: the stored preview while it is current, else computed.

        A preview computed at t0 lists the runs after t0; while its first run is still ahead of ``now``,
        no run fell between t0 and now, so it is exactly the preview at ``now``. Once a run has passed
        (the job fired since it was written), it is computed again.
        """
        if not self.enabled:
            return []
        stored = self.next_runs
        if stored is not None and (not stored or stored[0] > now):
            return stored
        return self.schedule.preview(after=now, anchor=self.created_at)


class JobView(Job):
    """A job as the API returns it: with the next fire times computed at read time."""

    # (From the caller's view: reads copy the preview stored with the job while it is current, see
    # Job.upcoming_runs. This docstring is the schema's description in the committed contract.)

    # Built on first use: only the Job and Schedule APIs return jobs (they build this when they start:
    # jobsched.api.job_models).
    model_config = ConfigDict(defer_build=True)

    next_run_at: datetime | None = None
    next_runs: list[datetime] = Field(default_factory=empty_list)

    @classmethod
    def of(cls, job: Job, now: datetime) -> JobView:
        runs = job.upcoming_runs(now)
        # Built without validating again: every field came from a validated Job (or was computed here).
        fields = {name: getattr(job, name) for name in Job.model_fields}
        fields.update(next_run_at=runs[0] if runs else None, next_runs=runs)
        return cls.model_construct(**fields)


def _as_utc(value: datetime, zone: ZoneInfo, name: str) -> datetime:
    try:
        return (value.replace(tzinfo=zone) if value.tzinfo is None else value).astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{name} is outside the years 1 to 9999 in UTC") from None


def new_job_id() -> str:
    """Unique and sortable by creation time (a ULID)."""
    from ulid import ULID  # only creating a job needs it (python-ulid reads its package metadata on import)

    return "job_" + str(ULID()).lower()


def status_for(enabled: bool) -> JobStatus:
    return JobStatus.ACTIVE if enabled else JobStatus.PAUSED


def stored_preview(
    schedule: Schedule, enabled: bool, now: datetime, created_at: datetime | None
) -> list[datetime] | None:
    """The preview to keep with a job being written: [] while it is paused (nothing is due); None when
    it cannot be computed without the job's creation time (a rate() without start_at being replaced)."""
    if not enabled:
        return []
    if created_at is None:
        if schedule.counts_from_creation:
            return None
        created_at = now  # not read by cron(), at() or a rate() with its own start_at
    return schedule.preview(after=now, anchor=created_at)


def runs_document(runs: list[datetime]) -> list[str]:
    """Fire times as the API writes them (ISO 8601, UTC, Z), for an item written field by field."""
    return [run.astimezone(UTC).isoformat().replace("+00:00", "Z") for run in runs]
