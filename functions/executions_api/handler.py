"""Execution API: a job's history, retry, and run-now. Thin: parse, call, shape."""

from __future__ import annotations

import gc

gc.disable()  # on again at the end: docs/decisions.md, "No garbage collection while a function starts"

from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from jobsched.api.execution_models import (
    BackfillQueued,
    BackfillRequest,
    ExecutionList,
    ExecutionQueued,
    RetryRequest,
)
from jobsched.api.http_api import (
    JSON_CONTENT_TYPE,
    create_resolver,
    principal_of,
    request_guard,
    with_empty_json_body,
)
from jobsched.api.models import NoFields, responses
from jobsched.aws.clients import deferred_client
from jobsched.config import EXECUTION_QUEUE
from jobsched.execution.adapters.archive_store import archive_store
from jobsched.execution.adapters.execution_store import (
    DynamoExecutionStore,
    decode_execution_token,
    encode_execution_token,
)
from jobsched.execution.adapters.fire_queue import SqsFireQueue
from jobsched.execution.adapters.job_lookup import DynamoJobLookup
from jobsched.execution.archive import ArchivedHistory, ExecutionArchive
from jobsched.execution.models import Execution, ExecutionStatus
from jobsched.execution.service import ExecutionService, Queued
from jobsched.settings import load_settings
from jobsched.telemetry import instrument_api

SETTINGS = load_settings()


@cache
def history_in(region: str) -> ArchivedHistory:
    """A job's history is in its home region: that region's executions table, then its archive."""
    return ArchivedHistory(
        DynamoExecutionStore(deferred_client("dynamodb", region), SETTINGS.executions_table),
        ExecutionArchive(
            archive_store(SETTINGS, region, deferred_client("s3", region), deferred_client("sts"))
        ),
        encode_token=encode_execution_token,
        decode_token=decode_execution_token,
    )


@cache
def queue_in(region: str) -> SqsFireQueue:
    """Run-now and retry go to the home region's queue, so the execution is recorded where it lives."""
    return SqsFireQueue(deferred_client("sqs", region), EXECUTION_QUEUE)


EXECUTIONS = ExecutionService(
    DynamoJobLookup(deferred_client("dynamodb"), SETTINGS.jobs_table), history_in, queue_in
)
app = create_resolver()

EXECUTIONS_PATH = "/api/v1/executions/<job_id>"


def _accepted(queued: Queued) -> Response[ExecutionQueued]:
    body = ExecutionQueued(
        job_id=queued.job_id,
        execution_id=queued.execution_id,
        trigger=queued.trigger,
        retry_of=queued.retry_of,
    )
    location = f"/api/v1/executions/{queued.job_id}/{queued.execution_id}"
    # The body in its JSON form (dumped once here, not again by the resolver).
    return Response[Any](
        status_code=202,
        content_type=JSON_CONTENT_TYPE,
        body=body.model_dump(mode="json"),
        headers={"Location": location},
    )


@app.get(
    EXECUTIONS_PATH,
    summary="List a job's executions, newest first",
    responses=responses(200, "A page of executions", ExecutionList, 400, 404, 422),
)
def list_executions(
    job_id: str,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
    status: Annotated[ExecutionStatus | None, Query()] = None,
) -> ExecutionList:
    page = EXECUTIONS.list(principal_of(app), job_id, limit=limit, next_token=next_token, status=status)
    return ExecutionList(items=page.items, next_token=page.next_token)


@app.get(
    EXECUTIONS_PATH + "/<execution_id>",
    summary="Read one execution",
    responses=responses(200, "The execution", Execution, 404),
)
def get_execution(job_id: str, execution_id: str) -> Execution:
    return EXECUTIONS.get(principal_of(app), job_id, execution_id)


@app.post(
    EXECUTIONS_PATH + "/retry",
    summary="Retry the latest failed execution, or the one named",
    responses=responses(202, "The retry is queued", ExecutionQueued, 400, 403, 404, 409, 415, 422),
)
def retry_execution(job_id: str, request: Annotated[RetryRequest, Body()]) -> Response[ExecutionQueued]:
    return _accepted(EXECUTIONS.retry(principal_of(app), job_id, request.execution_id))


@app.post(
    "/api/v1/jobs/<job_id>/run",
    summary="Run a job now",
    responses=responses(202, "The run is queued", ExecutionQueued, 400, 403, 404, 415, 422),
)
def run_job(job_id: str, _body: Annotated[NoFields | None, Body()] = None) -> Response[ExecutionQueued]:
    return _accepted(EXECUTIONS.run_now(principal_of(app), job_id))


@app.post(
    "/api/v1/jobs/<job_id>/backfill",
    summary="Queue every fire the schedule would have made in a past range",
    description="Each fire keeps the execution id of its (job, scheduled time) and runs at most once: a "
    "time that already has an execution is not run again, so repeating a backfill adds nothing. At most "
    "1,000 fires a call (more: 422 on `to`). The executions show trigger `backfill`.",
    responses=responses(202, "The fires are queued", BackfillQueued, 400, 403, 404, 409, 415, 422),
)
def backfill_job(job_id: str, request: Annotated[BackfillRequest, Body()]) -> Response[dict[str, Any]]:
    done = EXECUTIONS.backfill(principal_of(app), job_id, request.start, request.end)
    body = BackfillQueued(
        job_id=done.job_id, fires=len(done.scheduled_times), scheduled_times=done.scheduled_times
    )
    return Response(status_code=202, content_type=JSON_CONTENT_TYPE, body=body.model_dump(mode="json"))


@instrument_api
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if str(event.get("httpMethod", "")).upper() == "POST":
        event = with_empty_json_body(event)
    return request_guard(app, event, context)


# Started: what the start made lives as long as the function, so the collector leaves it alone.
gc.freeze()
gc.enable()
