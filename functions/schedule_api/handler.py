"""Schedule API: pause (DELETE) and resume (POST) /api/v1/schedule/{job_id}; GET /api/v1/schedule/status;
bulk pause/resume (POST /api/v1/schedule/bulk) and its progress (GET /api/v1/schedule/bulk/{operation_id})."""

from __future__ import annotations

import gc

gc.disable()  # on again at the end: docs/decisions.md, "No garbage collection while a function starts"

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from jobsched.api.http_api import JSON_CONTENT_TYPE, create_resolver, principal_of, request_guard
from jobsched.api.job_models import JobView
from jobsched.api.models import NoFields, responses
from jobsched.aws.clients import deferred_client
from jobsched.config import BULK_QUEUE, EXECUTION_QUEUE
from jobsched.execution.adapters.fire_queue import SqsFireQueue
from jobsched.scheduling.adapters.bulk_store import DynamoBulkOperationStore, SqsBulkQueue
from jobsched.scheduling.adapters.job_schedule_store import DynamoJobScheduleStore
from jobsched.scheduling.bulk import BulkControl, BulkOperation, BulkRequest, BulkStatus
from jobsched.scheduling.control import PauseRequest, ScheduleControl, ScheduleStatus
from jobsched.settings import load_settings
from jobsched.telemetry import instrument_api

SETTINGS = load_settings()
JOBS = DynamoJobScheduleStore(deferred_client("dynamodb"), SETTINGS.jobs_table)
CONTROL = ScheduleControl(
    JOBS,
    SETTINGS.region,
    catch_up_queue=SqsFireQueue(deferred_client("sqs"), EXECUTION_QUEUE),  # fires a pause missed
)
BULK = BulkControl(
    CONTROL,
    JOBS,
    DynamoBulkOperationStore(deferred_client("dynamodb"), SETTINGS.jobs_table),
    SqsBulkQueue(deferred_client("sqs"), BULK_QUEUE),  # only operations beyond the inline limit use it
    inline_limit=SETTINGS.bulk_inline_limit,
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


BULK_RESPONSES = responses(
    200, "Done within the request: the completed operation", BulkOperation, 403, 422
) | responses(202, "Many jobs match: the operation goes on in the background (see Location)", BulkOperation)
BULK_RESPONSES[202]["headers"] = {
    "Location": {"description": "the operation, to poll with GET", "schema": {"type": "string"}}
}


# Before the /<job_id> routes: the resolver tries routes in the order they are declared.
@app.post(
    SCHEDULE_PATH + "/bulk",
    summary="Pause or resume every job that carries a tag and/or whose name starts with a prefix",
    responses=BULK_RESPONSES,
)
def bulk_change(request: Annotated[BulkRequest, Body()]) -> Response[BulkOperation]:
    operation = BULK.start(principal_of(app), request)
    if operation.status is BulkStatus.RUNNING:
        location = f"{SCHEDULE_PATH}/bulk/{operation.operation_id}"
        return _operation_response(operation, 202, {"Location": location})
    return _operation_response(operation, 200, {})


@app.get(
    SCHEDULE_PATH + "/bulk/<operation_id>",
    summary="A bulk pause or resume of this tenant: its status and counters so far",
    responses=responses(200, "The operation", BulkOperation, 404),
)
def bulk_operation(operation_id: str) -> Response[BulkOperation]:
    return _operation_response(BULK.get(principal_of(app), operation_id), 200, {})


def _operation_response(
    operation: BulkOperation, status: int, headers: dict[str, str]
) -> Response[BulkOperation]:
    return Response[Any](
        status_code=status,
        content_type=JSON_CONTENT_TYPE,
        body=operation.model_dump(mode="json"),
        headers=headers,
    )


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


# Started: what the start made lives as long as the function, so the collector leaves it alone.
gc.freeze()
gc.enable()
