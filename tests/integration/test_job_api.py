"""The Job API function end to end on moto: every route, every error path, and tenant isolation."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from jobsched.api.auth import Principal
from jobsched.config import JOBS_TABLE, Role, Tier
from jobsched.errors import LimitExceeded
from jobsched.jobs.adapters.job_store import DynamoJobStore
from jobsched.jobs.models import JobSpec
from jobsched.jobs.service import JobService
from jobsched.settings import Settings
from jobsched.targets.adapters.dns import resolve_host
from tests.support.apigw import headers_of, rest_event

pytestmark = pytest.mark.usefixtures("aws")

Call = Callable[..., tuple[int, dict[str, str], Any]]
_NOW = datetime(2026, 12, 1, tzinfo=UTC)


def spec(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "nightly report",
        "tags": {"team": "billing"},
        "schedule": {"expression": "cron(0 18 ? * MON-FRI *)", "timezone": "Asia/Tokyo"},
        "target": {"type": "http", "url": "https://hooks.example.com/report", "body": '{"kind": "report"}'},
    }
    base.update(overrides)
    return base


@pytest.fixture
def call() -> Call:
    from functions.job_api import handler as job_api

    def invoke(method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, str], Any]:
        response = job_api.handler(rest_event(method, path, **kwargs), None)
        body = response.get("body")
        return response["statusCode"], headers_of(response), json.loads(body) if body else None

    return invoke


def create(call: Call, tenant: str = "acme", **overrides: Any) -> dict[str, Any]:
    status, _, body = call("POST", "/api/v1/jobs", tenant=tenant, body=spec(**overrides))
    assert status == 201, body
    return body


def test_create_returns_the_job_with_location_etag_and_preview(call: Call) -> None:
    status, headers, job = call("POST", "/api/v1/jobs", body=spec(), key_id="key_creator")
    assert status == 201
    assert headers["location"] == f"/api/v1/jobs/{job['job_id']}"
    assert headers["etag"] == '"1"'
    assert job["job_id"].startswith("job_") and job["version"] == 1
    assert (job["status"], job["schedule_state"], job["region"]) == ("active", "pending", "us-east-1")
    assert job["created_by"] == "key_creator"
    assert job["target"]["body"] == '{"kind": "report"}'
    assert len(job["next_runs"]) == 5
    assert all(run.endswith("T09:00:00Z") for run in job["next_runs"])
    assert "tenant" not in job

    status, headers, again = call("GET", f"/api/v1/jobs/{job['job_id']}")
    assert status == 200 and headers["etag"] == '"1"'
    assert again["name"] == "nightly report" and again["job_id"] == job["job_id"]


def test_the_item_is_stored_under_its_tenant(call: Call) -> None:
    job = create(call, tenant="acme")
    item = boto3.client("dynamodb").get_item(
        TableName=JOBS_TABLE, Key={"pk": {"S": "TENANT#acme"}, "sk": {"S": f"JOB#{job['job_id']}"}}
    )["Item"]
    assert item["tenant"]["S"] == "acme"
    assert item["name"]["S"] == "nightly report"


def test_replace_bumps_the_version_and_honours_if_match(call: Call) -> None:
    job = create(call)
    path = f"/api/v1/jobs/{job['job_id']}"
    status, headers, replaced = call(
        "PUT", path, body=spec(name="renamed", priority=1), headers={"If-Match": '"1"'}
    )
    assert status == 200 and headers["etag"] == '"2"'
    assert (replaced["name"], replaced["priority"], replaced["version"]) == ("renamed", 1, 2)
    assert replaced["created_at"] == job["created_at"] and replaced["updated_at"] >= job["updated_at"]

    status, _, error = call("PUT", path, body=spec(name="lost update"), headers={"If-Match": '"1"'})
    assert status == 412 and error["error"]["code"] == "precondition_failed"
    assert call("GET", path)[2]["name"] == "renamed"

    status, _, unconditional = call("PUT", path, body=spec(name="third", enabled=False))
    assert status == 200 and unconditional["version"] == 3 and unconditional["status"] == "paused"
    assert unconditional["next_runs"] == []


def test_server_fields_in_a_body_are_refused_and_never_stored(call: Call) -> None:
    job = create(call)
    path = f"/api/v1/jobs/{job['job_id']}"
    for field, value in [("tenant", "evil"), ("job_id", "job_x"), ("version", 99), ("created_by", "me")]:
        status, _, error = call("PUT", path, body={**spec(), field: value})
        assert status == 422
        assert error["error"]["details"][0]["field"] == field
    assert call("GET", path)[2]["version"] == 1


def test_delete_then_everything_is_404(call: Call) -> None:
    job = create(call)
    path = f"/api/v1/jobs/{job['job_id']}"
    assert call("DELETE", path)[0] == 204
    for method, kwargs in [("DELETE", {}), ("GET", {}), ("PUT", {"body": spec()})]:
        status, _, error = call(method, path, **kwargs)
        assert status == 404 and error["error"]["code"] == "not_found"


def test_delete_with_a_stale_if_match_keeps_the_job(call: Call) -> None:
    job = create(call)
    path = f"/api/v1/jobs/{job['job_id']}"
    call("PUT", path, body=spec(name="v2"))
    assert call("DELETE", path, headers={"If-Match": '"1"'})[0] == 412
    assert call("GET", path)[0] == 200
    assert call("DELETE", path, headers={"If-Match": '"2"'})[0] == 204


def test_another_tenant_gets_404_on_every_route_and_an_empty_list(call: Call) -> None:
    job = create(call, tenant="acme")
    path = f"/api/v1/jobs/{job['job_id']}"
    for method, kwargs in [("GET", {}), ("PUT", {"body": spec(name="hijack")}), ("DELETE", {})]:
        status, _, error = call(method, path, tenant="globex", **kwargs)
        assert status == 404, (method, error)
    status, _, page = call("GET", "/api/v1/jobs", tenant="globex")
    assert status == 200 and page == {"items": [], "next_token": None}
    owner_view = call("GET", path, tenant="acme")[2]
    assert owner_view["name"] == "nightly report" and owner_view["version"] == 1


def test_a_viewer_reads_but_cannot_write(call: Call) -> None:
    job = create(call)
    path = f"/api/v1/jobs/{job['job_id']}"
    assert call("GET", path, role="viewer")[0] == 200
    assert call("GET", "/api/v1/jobs", role="viewer")[0] == 200
    for method, target, kwargs in [
        ("POST", "/api/v1/jobs", {"body": spec()}),
        ("PUT", path, {"body": spec()}),
        ("DELETE", path, {}),
    ]:
        status, _, error = call(method, target, role="viewer", **kwargs)
        assert status == 403 and error["error"]["code"] == "forbidden"
    assert call("GET", path)[2]["version"] == 1


def test_paging_250_jobs_returns_each_exactly_once(call: Call) -> None:
    created = {create(call, name=f"job {i:03}")["job_id"] for i in range(250)}
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        query = {"limit": "100", **({"next_token": token} if token else {})}
        status, _, page = call("GET", "/api/v1/jobs", query=query)
        assert status == 200 and len(page["items"]) <= 100
        seen.extend(item["job_id"] for item in page["items"])
        pages += 1
        token = page["next_token"]
        if token is None:
            break
    assert len(seen) == 250 and set(seen) == created
    assert seen == sorted(seen)  # creation order
    assert pages in (3, 4)


def test_list_filters(call: Call) -> None:
    create(call, name="alpha one", tags={"team": "billing"})
    create(call, name="alpha two", tags={"team": "search"}, enabled=False)
    create(call, name="beta", tags={"team": "billing"})

    def names(**query: str) -> list[str]:
        status, _, page = call("GET", "/api/v1/jobs", query={"limit": "100", **query})
        assert status == 200
        return sorted(item["name"] for item in page["items"])

    assert names(name_prefix="alpha") == ["alpha one", "alpha two"]
    assert names(tag="team:billing") == ["alpha one", "beta"]
    assert names(enabled="false") == ["alpha two"]
    assert names(status="paused") == ["alpha two"]
    assert names(status="active", tag="team:billing", name_prefix="b") == ["beta"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"status": "sleeping"}, "status"),
        ({"tag": "no-colon"}, "tag"),
    ],
)
def test_bad_list_queries_name_the_parameter(call: Call, query: dict[str, str], field: str) -> None:
    status, _, error = call("GET", "/api/v1/jobs", query=query)
    assert status == 422
    assert error["error"]["details"][0]["field"] == field


def test_a_forged_page_token_is_a_400(call: Call) -> None:
    status, _, error = call("GET", "/api/v1/jobs", query={"next_token": "eyJhZnRlciI6IkFQSUtFWSMxIn0"})
    assert status == 400 and error["error"]["details"][0]["field"] == "next_token"


def test_same_idempotency_key_and_body_returns_the_first_job(call: Call) -> None:
    headers = {"Idempotency-Key": "create-report-1"}
    status, first_headers, first = call("POST", "/api/v1/jobs", body=spec(), headers=headers)
    status_again, again_headers, again = call("POST", "/api/v1/jobs", body=spec(), headers=headers)
    assert (status, status_again) == (201, 201)
    assert again == first and again_headers["location"] == first_headers["location"]
    assert again_headers.get("idempotent-replayed") == "true"
    assert len(call("GET", "/api/v1/jobs")[2]["items"]) == 1

    status, _, error = call("POST", "/api/v1/jobs", body=spec(name="other"), headers=headers)
    assert status == 409 and "Idempotency-Key" in error["error"]["message"]

    status, _, other_tenant = call("POST", "/api/v1/jobs", tenant="globex", body=spec(), headers=headers)
    assert status == 201 and other_tenant["job_id"] != first["job_id"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"schedule": {"expression": "cron(0 18 * * * *)"}}, "schedule.expression"),
        ({"schedule": {"expression": "rate(30 seconds)"}}, "schedule.expression"),
        ({"schedule": {"expression": "rate(1 minutes)"}}, "schedule.expression"),
        ({"schedule": {"expression": "rate(5 minute)"}}, "schedule.expression"),
        ({"schedule": {"expression": "at(2020-01-01T00:00:00)"}}, "schedule.expression"),
        ({"schedule": {"expression": "rate(1 hour)", "timezone": "Atlantis/Capital"}}, "schedule.timezone"),
        (
            {
                "schedule": {
                    "expression": "rate(1 hour)",
                    "start_at": "2030-01-02T00:00:00Z",
                    "end_at": "2030-01-01T00:00:00Z",
                }
            },
            "schedule",
        ),
        ({"target": {"url": "not a url"}}, "target.url"),
        ({"region": "mars-north-1"}, "region"),
        ({"priority": 10**40}, "priority"),
        ({"name": None}, "name"),
    ],
)
def test_invalid_jobs_get_422_naming_the_field(call: Call, overrides: dict[str, Any], field: str) -> None:
    status, _, error = call("POST", "/api/v1/jobs", body=spec(**overrides))
    assert status == 422, error
    assert field in [detail["field"] for detail in error["error"]["details"]]
    assert call("GET", "/api/v1/jobs")[2]["items"] == []


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"raw_body": "{not json"}, 400),
        ({"raw_body": "[1, 2, 3]"}, 422),
        ({"raw_body": "null"}, 422),
        ({"raw_body": json.dumps(spec()), "headers": {"Content-Type": "text/plain"}}, 415),
        ({"raw_body": json.dumps({**spec(), "description": "x" * 300_000})}, 413),
    ],
)
def test_malformed_bodies_get_a_4xx_envelope(call: Call, kwargs: dict[str, Any], status: int) -> None:
    got, headers, error = call("POST", "/api/v1/jobs", **kwargs)
    assert got == status
    assert headers["content-type"] == "application/json"
    assert set(error["error"]) >= {"code", "message", "details"}


def test_non_utf8_bytes_are_a_400() -> None:
    from functions.job_api import handler as job_api

    event = rest_event("POST", "/api/v1/jobs", raw_body=base64.b64encode(b"\xc3\x28{}").decode())
    event["isBase64Encoded"] = True
    response = job_api.handler(event, None)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["details"][0]["field"] == "body"


def test_unknown_route_is_a_json_404(call: Call) -> None:
    status, _, error = call("GET", "/api/v1/nothing-here")
    assert status == 404 and error["error"]["code"] == "not_found"


def test_without_authorizer_context_the_function_refuses(call: Call) -> None:
    from functions.job_api import handler as job_api

    event = rest_event("GET", "/api/v1/jobs")
    event["requestContext"]["authorizer"] = None
    response = job_api.handler(event, None)
    assert response["statusCode"] == 401


def test_the_job_limit_per_tenant_is_enforced_and_freed_by_delete() -> None:
    settings = Settings(region="us-east-1", max_jobs_per_tenant=2)
    service = JobService(
        DynamoJobStore(boto3.client("dynamodb"), JOBS_TABLE), settings, resolver=resolve_host
    )
    principal = Principal(tenant="acme", role=Role.ADMIN, tier=Tier.BASIC, key_id="key_1")
    job_spec = JobSpec.model_validate(spec())
    first = service.create(principal, job_spec)
    service.create(principal, job_spec)
    with pytest.raises(LimitExceeded, match="2 jobs"):
        service.create(principal, job_spec)
    other = Principal(tenant="globex", role=Role.ADMIN, tier=Tier.BASIC, key_id="key_2")
    service.create(other, job_spec)  # the limit is per tenant
    service.delete(principal, first.job["job_id"])
    assert service.create(principal, job_spec).job["job_id"]


OWN_QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/jobsched-executions"


def _access() -> Any:
    from jobsched.targets.adapters.access_store import DynamoTargetAccessStore

    return DynamoTargetAccessStore(boto3.client("dynamodb"), JOBS_TABLE)


@pytest.mark.parametrize(
    ("target", "field", "why"),
    [
        # The service's own execution queue, even allow-listed: the door forged fires came through.
        ({"type": "sqs", "queue_url": OWN_QUEUE_URL, "body": "{}"}, "target.queue_url", "scheduler's own"),
        (
            {"type": "lambda", "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:jobsched-x"},
            "target.function_arn",
            "scheduler's own",
        ),
        (
            {"type": "sns", "topic_arn": "arn:aws:sns:us-east-1:123456789012:not-granted"},
            "target.topic_arn",
            "allow-list",
        ),
        (
            {
                "type": "stepfunctions",
                "state_machine_arn": "arn:aws:states:us-east-1:444455556666:stateMachine:m",
            },
            "target.state_machine_arn",
            "allow-list",
        ),
        (
            {
                "type": "eventbridge",
                "event_bus_arn": "arn:aws:events:us-east-1:123456789012:event-bus/jobsched",
            },
            "target.event_bus_arn",
            "scheduler's own",
        ),
    ],
)
def test_an_aws_target_the_tenant_was_not_given_is_refused_at_create_and_update(
    call: Call, target: dict[str, Any], field: str, why: str
) -> None:
    _access().allow("acme", "arn:aws:sqs:us-east-1:123456789012:jobsched-executions", _NOW)
    status, _, body = call("POST", "/api/v1/jobs", body=spec(target=target))
    assert status == 422, body
    [detail] = body["error"]["details"]
    assert detail["field"] == field and why in detail["message"]

    job = create(call)
    status, _, body = call("PUT", f"/api/v1/jobs/{job['job_id']}", body=spec(target=target))
    assert status == 422 and body["error"]["details"][0]["field"] == field


def test_aws_targets_open_by_allow_list_or_in_the_tenants_role_account(call: Call) -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:their-topic"
    machine = "arn:aws:states:eu-west-1:111122223333:stateMachine:theirs"
    _access().allow("acme", topic, _NOW)
    _access().set_role("acme", "arn:aws:iam::111122223333:role/jobsched-target", _NOW)

    assert create(call, target={"type": "sns", "topic_arn": topic})["target"]["topic_arn"] == topic
    made = create(call, target={"type": "stepfunctions", "state_machine_arn": machine, "input": '{"a": 1}'})
    assert made["target"] == {
        "type": "stepfunctions",
        "state_machine_arn": machine,
        "input": '{"a": 1}',
        "timeout_seconds": 30,
        "template": False,
    }
    # Another tenant has neither: the same targets are refused for it.
    status, _, _ = call(
        "POST", "/api/v1/jobs", tenant="globex", body=spec(target={"type": "sns", "topic_arn": topic})
    )
    assert status == 422


@pytest.mark.parametrize(
    ("target", "field"),
    [
        (
            {"type": "lambda", "function_arn": "arn:aws:lambda:us-east-1:123:function:f"},
            "target.function_arn",
        ),
        (
            {
                "type": "lambda",
                "function_arn": f"arn:aws:lambda:us-east-1:{'1' * 12}:function:f",
                "payload": "[1]",
            },
            "target.payload",
        ),
        (
            {"type": "sns", "topic_arn": "arn:aws:sns:us-east-1:123456789012:t", "subject": "a\nb"},
            "target.subject",
        ),
        ({"type": "sns", "topic_arn": "arn:aws:sqs:us-east-1:123456789012:t"}, "target.topic_arn"),
        (
            {
                "type": "stepfunctions",
                "state_machine_arn": "arn:aws:states:us-east-1:123456789012:stateMachine:m",
                "input": "not json",
            },
            "target.input",
        ),
        ({"type": "stepfunctions", "state_machine_arn": "m"}, "target.state_machine_arn"),
    ],
)
def test_a_malformed_aws_target_is_a_422_naming_the_field(
    call: Call, target: dict[str, Any], field: str
) -> None:
    status, _, body = call("POST", "/api/v1/jobs", body=spec(target=target))
    assert status == 422, body
    assert [detail["field"] for detail in body["error"]["details"]] == [field]


def _stored_item(tenant: str, job_id: str) -> dict[str, Any]:
    from jobsched.aws.dynamodb import from_item, to_item

    response = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName=JOBS_TABLE, Key=to_item({"pk": f"TENANT#{tenant}", "sk": f"JOB#{job_id}"})
    )
    return from_item(response["Item"])


def test_the_preview_is_stored_with_the_job_and_reads_return_it(call: Call) -> None:
    job = create(call)
    assert _stored_item("acme", job["job_id"])["next_runs"] == job["next_runs"]
    _, _, page = call("GET", "/api/v1/jobs", tenant="acme")
    _, _, read = call("GET", f"/api/v1/jobs/{job['job_id']}", tenant="acme")
    assert page["items"][0]["next_runs"] == read["next_runs"] == job["next_runs"]


def test_replace_stores_the_new_preview(call: Call) -> None:
    job = create(call)
    new = spec(schedule={"expression": "cron(30 6 * * ? *)", "timezone": "UTC"})
    status, _, replaced = call("PUT", f"/api/v1/jobs/{job['job_id']}", tenant="acme", body=new)
    assert status == 200
    assert (
        all(run.endswith("T06:30:00Z") for run in replaced["next_runs"]) and len(replaced["next_runs"]) == 5
    )
    assert _stored_item("acme", job["job_id"])["next_runs"] == replaced["next_runs"]


def test_replacing_with_a_rate_counted_from_creation_drops_the_stored_preview_and_reads_compute_it(
    call: Call,
) -> None:
    job = create(call)
    new = spec(schedule={"expression": "rate(7 minutes)"})
    _, _, replaced = call("PUT", f"/api/v1/jobs/{job['job_id']}", tenant="acme", body=new)
    assert "next_runs" not in _stored_item("acme", job["job_id"])
    _, _, read = call("GET", f"/api/v1/jobs/{job['job_id']}", tenant="acme")
    assert len(read["next_runs"]) == 5 and read["next_runs"] == replaced["next_runs"]


def test_a_replace_records_who_made_it_and_keeps_who_created_the_job(call: Call) -> None:
    job = create(call)
    path = f"/api/v1/jobs/{job['job_id']}"
    status, _, replaced = call("PUT", path, body=spec(name="renamed"), key_id="client:partner", kind="client")
    assert status == 200
    assert (replaced["created_by"], replaced["updated_by"]) == (job["created_by"], "client:partner")
    assert call("GET", path)[2]["updated_by"] == "client:partner"
