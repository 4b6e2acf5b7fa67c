"""The Execution API and the job's webhook secret on moto: history, run-now, retry, rotation, tenancy."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from jobsched import config
from jobsched.execution.adapters.execution_store import DynamoExecutionStore
from jobsched.execution.adapters.job_reader import DynamoJobReader
from jobsched.execution.fire import FireMessage
from jobsched.execution.models import ExecutionStatus, Outcome
from jobsched.execution.ports import Claim
from jobsched.keyscheme import JobKey
from jobsched.targets.webhook import secret_key
from tests.support.apigw import rest_event

pytestmark = pytest.mark.usefixtures("aws")
Call = Callable[..., tuple[int, Any]]


@pytest.fixture
def call() -> Call:
    boto3.client("sqs").create_queue(QueueName=config.EXECUTION_QUEUE)
    from functions.executions_api import handler as executions_api
    from functions.job_api import handler as job_api

    def invoke(method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        function = executions_api if "/executions" in path or path.endswith("/run") else job_api
        response = function.handler(rest_event(method, path, **kwargs), None)
        body = response.get("body")
        return response["statusCode"], json.loads(body) if body else None

    return invoke


def create(call: Call, tenant: str = "acme") -> dict[str, Any]:
    status, job = call(
        "POST",
        "/api/v1/jobs",
        tenant=tenant,
        body={
            "name": "hook",
            "schedule": {"expression": "rate(5 minutes)"},
            "target": {"url": "https://hooks.example.com/x", "body": "{}"},
        },
    )
    assert status == 201, job
    return job


def queued() -> list[FireMessage]:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=config.EXECUTION_QUEUE)["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [FireMessage.model_validate_json(m["Body"]) for m in messages]


def record(job_id: str, execution_id: str, status: ExecutionStatus, at: datetime) -> None:
    store = DynamoExecutionStore(boto3.client("dynamodb"), config.EXECUTIONS_TABLE)
    message = FireMessage(
        tenant="acme", job_id=job_id, job_version=1, scheduled_time=at, execution_id=execution_id
    )
    store.claim(Claim(message.job, message, execution_id, 1, 1, at, at))
    outcome = Outcome(succeeded=status is ExecutionStatus.SUCCEEDED, duration_ms=5, status_code=500)
    store.finish(
        message.job, execution_id, 1, status=status, finished_at=at, outcome=outcome, skip_reason=None
    )


def test_the_secret_is_shown_once_stored_and_never_read_back(call: Call) -> None:
    job = create(call)
    assert job["webhook_secret"].startswith("whsec_") and len(secret_key(job["webhook_secret"])) == 32
    status, again = call("GET", f"/api/v1/jobs/{job['job_id']}")
    assert status == 200 and "webhook_secret" not in again
    _, listing = call("GET", "/api/v1/jobs")
    assert all("webhook_secret" not in item for item in listing["items"])
    loaded = DynamoJobReader(boto3.client("dynamodb"), config.JOBS_TABLE).load(JobKey("acme", job["job_id"]))
    assert loaded is not None and loaded.webhook_secret == job["webhook_secret"]


def test_admins_rotate_the_secret_and_operators_and_viewers_may_not(call: Call) -> None:
    job = create(call)
    path = f"/api/v1/jobs/{job['job_id']}/webhook-secret"
    for role in ("viewer", "operator"):
        status, body = call("POST", path, role=role, raw_body="")
        assert status == 403, body
    status, body = call("POST", path, role="admin", raw_body="")
    assert status == 200, body
    assert body["webhook_secret"] != job["webhook_secret"]
    loaded = DynamoJobReader(boto3.client("dynamodb"), config.JOBS_TABLE).load(JobKey("acme", job["job_id"]))
    assert loaded is not None and loaded.webhook_secret == body["webhook_secret"]
    assert loaded.job.version == 1
    assert call("POST", path, tenant="other", raw_body="")[0] == 404


def test_a_private_target_is_refused_at_create(call: Call) -> None:
    status, body = call(
        "POST",
        "/api/v1/jobs",
        body={
            "name": "metadata",
            "schedule": {"expression": "rate(5 minutes)"},
            "target": {"url": "https://169.254.169.254/latest/meta-data/"},
        },
    )
    assert status == 422
    assert body["error"]["details"][0]["field"] == "target.url"


def test_run_now_queues_a_manual_execution(call: Call) -> None:
    job = create(call)
    status, body = call("POST", f"/api/v1/jobs/{job['job_id']}/run", raw_body="")
    assert status == 202, body
    assert body["trigger"] == "manual" and body["execution_id"].startswith("exe_")
    [message] = queued()
    assert (message.execution_id, message.trigger.value, message.job_version) == (
        body["execution_id"],
        "manual",
        1,
    )
    assert message.fire_token == stored_token(job["job_id"])  # copied from the job item
    assert call("POST", f"/api/v1/jobs/{job['job_id']}/run", role="viewer", raw_body="")[0] == 403


def stored_token(job_id: str) -> str:
    item = boto3.client("dynamodb").get_item(
        TableName=config.JOBS_TABLE, Key={"pk": {"S": "TENANT#acme"}, "sk": {"S": f"JOB#{job_id}"}}
    )["Item"]
    token = item["fire_token"]["S"]
    assert len(token) == 43
    return token


def test_no_answer_ever_shows_the_fire_token(call: Call) -> None:
    job = create(call)
    token = stored_token(job["job_id"])
    answers = [
        job,
        call("GET", f"/api/v1/jobs/{job['job_id']}")[1],
        call("GET", "/api/v1/jobs")[1],
        call("POST", f"/api/v1/jobs/{job['job_id']}/run", raw_body="")[1],
        call("GET", f"/api/v1/executions/{job['job_id']}")[1],
    ]
    assert all(
        token not in json.dumps(answer) and "fire_token" not in json.dumps(answer) for answer in answers
    )


def test_a_job_from_before_fire_tokens_gets_409_on_run_now_and_its_token_with_the_next_save(
    call: Call,
) -> None:
    job = create(call)
    key = {"pk": {"S": "TENANT#acme"}, "sk": {"S": f"JOB#{job['job_id']}"}}
    boto3.client("dynamodb").update_item(
        TableName=config.JOBS_TABLE, Key=key, UpdateExpression="REMOVE fire_token"
    )

    status, body = call("POST", f"/api/v1/jobs/{job['job_id']}/run", raw_body="")
    assert status == 409 and "fire tokens" in body["error"]["message"]
    assert queued() == []

    spec = {k: job[k] for k in ("name", "schedule", "target")}
    assert call("PUT", f"/api/v1/jobs/{job['job_id']}", body=spec)[0] == 200
    token = stored_token(job["job_id"])
    assert call("PUT", f"/api/v1/jobs/{job['job_id']}", body=spec)[0] == 200
    assert stored_token(job["job_id"]) == token  # a later save never replaces it
    assert call("POST", f"/api/v1/jobs/{job['job_id']}/run", raw_body="")[0] == 202


def test_history_is_newest_first_paged_and_filtered(call: Call) -> None:
    job = create(call)
    job_id = job["job_id"]
    for minute, status in (
        (0, ExecutionStatus.SUCCEEDED),
        (5, ExecutionStatus.FAILED),
        (10, ExecutionStatus.SUCCEEDED),
    ):
        at = datetime(2026, 12, 1, 10, minute, tzinfo=UTC)
        record(job_id, f"exe_202612011{minute:03d}00Z_x", status, at)
    status, page = call("GET", f"/api/v1/executions/{job_id}", query={"limit": "2"}, role="viewer")
    assert status == 200
    assert [item["scheduled_at"][11:16] for item in page["items"]] == ["10:10", "10:05"]
    _, rest = call(
        "GET", f"/api/v1/executions/{job_id}", query={"limit": "2", "next_token": page["next_token"]}
    )
    assert [item["scheduled_at"][11:16] for item in rest["items"]] == ["10:00"]
    _, failed = call("GET", f"/api/v1/executions/{job_id}", query={"status": "failed"})
    assert [item["status"] for item in failed["items"]] == ["failed"]
    status, one = call("GET", f"/api/v1/executions/{job_id}/{failed['items'][0]['execution_id']}")
    assert status == 200 and one["status_code"] == 500
    assert "lease_until" not in one and "tenant" not in one


def test_retry_queues_the_latest_failed_or_the_named_one_and_409s_without(call: Call) -> None:
    job = create(call)
    job_id = job["job_id"]
    path = f"/api/v1/executions/{job_id}/retry"
    assert call("POST", path, raw_body="")[0] == 409
    record(job_id, "exe_20261201T100000Z_a", ExecutionStatus.FAILED, datetime(2026, 12, 1, 10, tzinfo=UTC))
    record(
        job_id, "exe_20261201T100500Z_b", ExecutionStatus.SUCCEEDED, datetime(2026, 12, 1, 10, 5, tzinfo=UTC)
    )
    status, body = call("POST", path, raw_body="")
    assert status == 202 and body["retry_of"] == "exe_20261201T100000Z_a" and body["trigger"] == "retry"
    assert call("POST", path, body={"execution_id": "exe_20261201T100500Z_b"})[0] == 409
    assert call("POST", path, body={"execution_id": "exe_20261201T100000Z_a"}, role="viewer")[0] == 403
    [first] = queued()
    assert first.retry_of == "exe_20261201T100000Z_a" and first.execution_id != first.retry_of


def test_another_tenant_gets_404_on_every_execution_route(call: Call) -> None:
    job = create(call)
    job_id = job["job_id"]
    record(job_id, "exe_20261201T100000Z_a", ExecutionStatus.FAILED, datetime(2026, 12, 1, 10, tzinfo=UTC))
    for method, path in (
        ("GET", f"/api/v1/executions/{job_id}"),
        ("GET", f"/api/v1/executions/{job_id}/exe_20261201T100000Z_a"),
        ("POST", f"/api/v1/executions/{job_id}/retry"),
        ("POST", f"/api/v1/jobs/{job_id}/run"),
    ):
        status, body = call(method, path, tenant="intruder", raw_body="" if method == "POST" else None)
        assert status == 404, (path, body)
    assert queued() == []


def test_the_job_lookup_reads_a_jobs_home_and_tags_and_404s_a_missing_one(call: Call) -> None:
    from jobsched.errors import NotFound
    from jobsched.execution.adapters.job_lookup import DynamoJobLookup

    status, job = call(
        "POST",
        "/api/v1/jobs",
        body={
            "name": "tagged",
            "tags": {"team": "red"},
            "schedule": {"expression": "rate(5 minutes)"},
            "target": {"url": "https://hooks.example.com/x"},
        },
    )
    assert status == 201, job
    lookup = DynamoJobLookup(boto3.client("dynamodb"), config.JOBS_TABLE)
    region, tags = lookup.home(JobKey("acme", job["job_id"]))
    assert region == job["region"] and dict(tags) == {"team": "red"}
    assert lookup.get(JobKey("acme", job["job_id"])).tags == {"team": "red"}
    with pytest.raises(NotFound, match="job job_missing not found"):
        lookup.home(JobKey("acme", "job_missing"))
