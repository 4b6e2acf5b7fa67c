"""Job API: GET/POST /api/v1/jobs and GET/PUT/DELETE /api/v1/jobs/{job_id}. Thin: parse, call, shape."""

from __future__ import annotations

import gc

gc.disable()  # on again at the end: docs/decisions.md, "No garbage collection while a function starts"

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query

from jobsched.api.http_api import (
    JSON_CONTENT_TYPE,
    create_resolver,
    principal_of,
    request_guard,
    with_empty_json_body,
)
from jobsched.api.job_models import JobList, JobView, WebhookSecret
from jobsched.api.models import NoFields, parse_tag_filter, responses
from jobsched.aws.clients import deferred_client
from jobsched.jobs.adapters.job_store import DynamoJobStore
from jobsched.jobs.models import JobSpec, JobStatus
from jobsched.jobs.ports import JobFilters
from jobsched.jobs.service import JobService
from jobsched.settings import load_settings
from jobsched.targets.adapters.access_store import DynamoTargetAccessStore
from jobsched.targets.adapters.dns import resolve_host
from jobsched.telemetry import instrument_api, record_job_created

SETTINGS = load_settings()
JOBS = JobService(
    DynamoJobStore(deferred_client("dynamodb"), SETTINGS.jobs_table),
    SETTINGS,
    resolver=resolve_host,
    access=DynamoTargetAccessStore(deferred_client("dynamodb"), SETTINGS.jobs_table),
)
app = create_resolver()

JOBS_PATH = "/api/v1/jobs"


def _job_response(status: int, job: dict[str, Any], **headers: str) -> Response[JobView]:
    # The body is a JobView already in its JSON form (dumped once here, not again by the resolver).
    return Response[Any](
        status_code=status,
        content_type=JSON_CONTENT_TYPE,
        body=job,
        headers={"ETag": f'"{job["version"]}"', **headers},
    )


@app.post(
    JOBS_PATH,
    summary="Create a job",
    description="The 201 body is the job plus `webhook_secret` (whsec_<base64>), the job's webhook signing "
    "secret: shown in this answer (and its idempotent replays) only, never by GET or list; rotate it with "
    "POST /api/v1/jobs/{job_id}/webhook-secret.",
    responses=responses(
        201, "The job created, with its webhook_secret", JobView, 400, 403, 409, 413, 415, 422
    ),
)
def create_job(
    spec: Annotated[JobSpec, Body()],
    idempotency_key: Annotated[str | None, Header(alias="idempotency-key")] = None,
) -> Response[dict[str, Any]]:
    created = JOBS.create(principal_of(app), spec, idempotency_key)
    location = f"{JOBS_PATH}/{created.job['job_id']}"
    extra = {"Location": location}
    if created.replayed:
        extra["Idempotent-Replayed"] = "true"
    else:
        record_job_created()
    return Response(
        status_code=201,
        content_type=JSON_CONTENT_TYPE,
        body=created.job,
        headers={"ETag": f'"{created.job["version"]}"', **extra},
    )


@app.get(JOBS_PATH, summary="List jobs", responses=responses(200, "A page of jobs", JobList, 400, 422))
def list_jobs(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
    status: Annotated[JobStatus | None, Query()] = None,
    enabled: Annotated[bool | None, Query()] = None,
    tag: Annotated[str | None, Query(description="key:value", max_length=400)] = None,
    name_prefix: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
) -> JobList:
    filters = JobFilters(status=status, enabled=enabled, tag=parse_tag_filter(tag), name_prefix=name_prefix)
    page = JOBS.list(principal_of(app), limit=limit, next_token=next_token, filters=filters)
    return JobList(items=page.items, next_token=page.next_token)


@app.get(JOBS_PATH + "/<job_id>", summary="Read a job", responses=responses(200, "The job", JobView, 404))
def get_job(job_id: str) -> Response[JobView]:
    job = JOBS.get(principal_of(app), job_id)
    return _job_response(200, job.model_dump(mode="json"))


@app.put(
    JOBS_PATH + "/<job_id>",
    summary="Replace a job's fields",
    responses=responses(200, "The job as replaced", JobView, 400, 403, 404, 412, 413, 415, 422),
)
def replace_job(
    job_id: str,
    spec: Annotated[JobSpec, Body()],
    if_match: Annotated[str | None, Header(alias="if-match")] = None,
) -> Response[JobView]:
    job = JOBS.replace(principal_of(app), job_id, spec, if_match)
    return _job_response(200, job.model_dump(mode="json"))


@app.post(
    JOBS_PATH + "/<job_id>/webhook-secret",
    summary="Rotate the job's webhook signing secret (operator, admin)",
    responses=responses(200, "The new secret, shown only here", WebhookSecret, 403, 404),
)
def rotate_webhook_secret(job_id: str, _body: Annotated[NoFields | None, Body()] = None) -> WebhookSecret:
    secret = JOBS.rotate_webhook_secret(principal_of(app), job_id)
    return WebhookSecret(job_id=job_id, webhook_secret=secret)


@app.delete(
    JOBS_PATH + "/<job_id>",
    summary="Delete a job",
    responses=responses(204, "Deleted", None, 403, 404, 412),
)
def delete_job(
    job_id: str,
    if_match: Annotated[str | None, Header(alias="if-match")] = None,
    _body: Annotated[NoFields | None, Body()] = None,
) -> Response[None]:
    JOBS.delete(principal_of(app), job_id, if_match)
    return Response(status_code=204, body=None)


@instrument_api
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if str(event.get("path", "")).endswith("/webhook-secret"):
        event = with_empty_json_body(event)
    return request_guard(app, event, context)


# Started: what the start made lives as long as the function, so the collector leaves it alone.
gc.freeze()
gc.enable()
