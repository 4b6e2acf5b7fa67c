"""Schedule API: pause (DELETE) and resume (POST) /api/v1/schedule/{job_id}; GET /api/v1/schedule/status."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from jobsched.api.http_api import JSON_CONTENT_TYPE, create_resolver, principal_of, request_guard
from jobsched.api.models import NoFields, responses
from jobsched.aws.clients import deferred_client
from jobsched.config import EXECUTION_QUEUE
from jobsched.execution.adapters.fire_queue import SqsFireQueue
from jobsched.jobs.models import JobView
from jobsched.scheduling.adapters.job_schedule_store import DynamoJobScheduleStore
from jobsched.scheduling.control import PauseRequest, ScheduleControl, ScheduleStatus
from jobsched.settings import load_settings
from jobsched.telemetry import instrument_api

SETTINGS = load_settings()
CONTROL = ScheduleControl(
    DynamoJobScheduleStore(deferred_client("dynamodb"), SETTINGS.jobs_table),
    SETTINGS.region,
    catch_up_queue=SqsFireQueue(deferred_client("sqs"), EXECUTION_QUEUE),  # fires a pause missed
)
app = create_resolver()

SCHEDULE_PATH = "/api/v1/schedule"


def _job_response(job: JobView) -> Response[JobView]:
    # The body is the JobView in its JSON form (dumped once here, not again by the resolver).
    return Response[Any](
        status_code=200,
        content_type=JSON_CONTENT_TYPE,
        body=job.model_dump(mode="json"),
        headers={"ETag": job.etag},
    )


@app.get(
    SCHEDULE_PATH + "/status",
    summary="Scheduling status of this tenant's jobs",
    responses=responses(
        200,
        "This tenant's jobs by status and schedule state per region, sync lag, next fires",
        ScheduleStatus,
    ),
)
def schedule_status() -> ScheduleStatus:
    return CONTROL.status(principal_of(app))


@app.delete(
    SCHEDULE_PATH + "/<job_id>",
    summary="Pause a job (its schedule is disabled); idempotent",
    responses=responses(200, "The job, paused", JobView, 403, 404, 409, 422),
)
def pause_job(job_id: str, request: Annotated[PauseRequest | None, Body()] = None) -> Response[JobView]:
    note = request.note if request is not None else None
    return _job_response(CONTROL.pause(principal_of(app), job_id, note))


@app.post(
    SCHEDULE_PATH + "/<job_id>",
    summary="Resume a paused job (its schedule is enabled again); idempotent",
    responses=responses(200, "The job, active", JobView, 403, 404, 409, 422),
)
def resume_job(job_id: str, _body: Annotated[NoFields | None, Body()] = None) -> Response[JobView]:
    return _job_response(CONTROL.resume(principal_of(app), job_id))


@instrument_api
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return request_guard(app, event, context)
