"""Cross-tenant sweep: every route of the REST API x another tenant's job and execution ids x every role.

The routes come from the route table (jobsched.api.routes, which the regional stack is built from), so a new
route is swept without touching this file. Each request goes through the function the route names, as the
gateway would send it. An id-bearing route answers 404 (a viewer's write 403: the role is checked first),
no answer contains anything of the other tenant, and the other tenant's items and queue are unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from jobsched import config
from jobsched.api.routes import ANY, ROUTES, Route
from jobsched.config import Role
from jobsched.execution.adapters.execution_store import DynamoExecutionStore
from jobsched.execution.fire import FireMessage
from jobsched.execution.models import ExecutionStatus, Outcome
from jobsched.execution.ports import Claim
from jobsched.keys.adapters.audit_log import DynamoAuditLog
from jobsched.keys.adapters.client_store import DynamoClientStore
from jobsched.keys.adapters.key_service import make_key_service
from jobsched.keys.admin import TenantAdmin
from jobsched.keys.clients import ClientService, LocalClientRegistry
from jobsched_local.provision import ensure_api
from tests.integration.scheduling_support import client_for, provision_scheduling
from tests.support.apigw import rest_event

pytestmark = pytest.mark.usefixtures("aws")

VICTIM = "victim-corp"
ATTACKER = "intruder"
ROLES = ("admin", "operator", "viewer")
# Strings only the victim's data holds: none may appear in any answer to the attacker.
MARKERS = (VICTIM, "victim-secret-name", "victim-hook.example.com", "victim-tag-value", "victim-payload")
Invoke = Callable[..., tuple[int, Any, str]]


@pytest.fixture
def invoke() -> Invoke:
    provision_scheduling(["us-east-1"], client_for)
    boto3.client("sqs").create_queue(QueueName=config.EXECUTION_QUEUE)
    from functions.deep_health import handler as deep_health
    from functions.executions_api import handler as executions_api
    from functions.health import handler as health
    from functions.identity_api import handler as identity_api
    from functions.job_api import handler as job_api
    from functions.schedule_api import handler as schedule_api

    for region in config.REGIONS:
        ensure_api(boto3.client("apigateway", region_name=region))
    dynamodb = boto3.client("dynamodb")
    # The local runtime's wiring: OAuth clients of the local issuer.
    identity_api.ADMIN = TenantAdmin(
        make_key_service(client_for, config.PRIMARY_REGION, config.REGIONS),
        ClientService(DynamoClientStore(dynamodb, config.JOBS_TABLE), LocalClientRegistry()),
        DynamoAuditLog(dynamodb, config.JOBS_TABLE),
    )

    functions = {
        "job_api": job_api.handler,
        "executions_api": executions_api.handler,
        "schedule_api": schedule_api.handler,
        "identity_api": identity_api.handler,
        "health": health.handler,
        "deep_health": deep_health.handler,
    }

    def call(function: str, method: str, path: str, **kwargs: Any) -> tuple[int, Any, str]:
        event = rest_event(method, path, **kwargs)
        if kwargs.get("body") is None:
            event["headers"].pop("Content-Type")
            event["multiValueHeaders"].pop("Content-Type")
        response = functions[function](event, None)
        raw = response.get("body") or ""
        return response["statusCode"], json.loads(raw) if raw else None, raw

    return call


def job_body(name: str, host: str, tag: str, payload: str) -> dict[str, Any]:
    return {
        "name": name,
        "tags": {"owner": tag},
        "schedule": {"expression": "rate(1 hour)"},
        "target": {"url": f"https://{host}/hook", "body": json.dumps({"p": payload})},
    }


@pytest.fixture
def victim(invoke: Invoke) -> Iterator[dict[str, str]]:
    status, job, _ = invoke(
        "job_api",
        "POST",
        "/api/v1/jobs",
        tenant=VICTIM,
        body=job_body("victim-secret-name", "victim-hook.example.com", "victim-tag-value", "victim-payload"),
    )
    assert status == 201, job
    execution_id = "exe_victim_failed"
    at = datetime(2026, 11, 30, 10, tzinfo=UTC)
    store = DynamoExecutionStore(boto3.client("dynamodb"), config.EXECUTIONS_TABLE)
    message = FireMessage(
        tenant=VICTIM, job_id=job["job_id"], job_version=1, scheduled_time=at, execution_id=execution_id
    )
    store.claim(Claim(message.job, message, execution_id, 1, 1, at, at))
    failed = Outcome(succeeded=False, duration_ms=5, status_code=500, error="victim-payload failed")
    store.finish(
        message.job,
        execution_id,
        1,
        status=ExecutionStatus.FAILED,
        finished_at=at,
        outcome=failed,
        skip_reason=None,
    )
    _, key, _ = invoke("identity_api", "POST", "/api/v1/keys", tenant=VICTIM, body={"role": "viewer"})
    _, client, _ = invoke(
        "identity_api", "POST", "/api/v1/clients", tenant=VICTIM, body={"scopes": ["jobs.read"]}
    )
    _, operation, _ = invoke(
        "schedule_api", "POST", "/api/v1/schedule/bulk", tenant=VICTIM, body={"action": "pause", "tag": "x:y"}
    )
    yield {
        "job_id": job["job_id"],
        "execution_id": execution_id,
        "key_id": key["key_id"],
        "client_id": client["client_id"],
        "operation_id": operation["operation_id"],
    }


def victim_state() -> tuple[list[Any], list[Any], int]:
    """Every item of the victim in both tables, and the execution queue's depth."""
    dynamodb = boto3.client("dynamodb")
    items = []
    for table in (config.JOBS_TABLE, config.EXECUTIONS_TABLE):
        scanned = dynamodb.scan(TableName=table)["Items"]
        items.append(sorted((i for i in scanned if VICTIM in json.dumps(i)), key=json.dumps))
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=config.EXECUTION_QUEUE)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return items[0], items[1], int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def concrete(route: Route, ids: dict[str, str]) -> tuple[str, str]:
    method = "DELETE" if route.method == ANY else route.method
    path = route.resource
    for name in ("job_id", "execution_id", "key_id", "client_id", "operation_id"):
        path = path.replace("{" + name + "}", ids[name])
    return method, path.replace("{proxy+}", f"jobs/{ids['job_id']}/anything")


def request_body(route: Route, method: str) -> dict[str, Any] | None:
    if (method, route.resource) in (("POST", "/api/v1/jobs"), ("PUT", "/api/v1/jobs/{job_id}")):
        return job_body("attacker job", "attacker.example.com", "mine", "mine")
    if route.resource.endswith("/retry"):
        return {"execution_id": "exe_victim_failed"}
    if route.resource.endswith("/backfill"):
        return {"from": "2020-01-01T00:00:00Z", "to": "2020-01-01T01:00:00Z"}
    if (method, route.resource) == ("POST", "/api/v1/keys"):
        return {"role": "admin"}
    if (method, route.resource) == ("POST", "/api/v1/clients"):
        return {"scopes": ["jobs.write"]}
    if (method, route.resource) == ("POST", "/api/v1/schedule/bulk"):
        return {"action": "pause", "name_prefix": "victim"}  # the victim's job's name starts so
    return None


def expected_status(route: Route, method: str, role: str) -> int:
    """What the route's function answers the attacker: the route table's roles are checked first."""
    if not route.key_required:
        return 200
    if Role(role) not in route.roles:
        return 403
    if "{" in route.resource:  # another tenant's job, key or client (or a path of none): not found
        return 404
    if route.resource.endswith("/bulk"):
        return 200  # a bulk pause of the caller's own jobs: none match, done within the request
    return 200 if method == "GET" else 201  # the caller's own collection: list, create, status


def test_routes_are_all_swept() -> None:
    # Every function the API routes to, and routes of every shape (ids, no ids, the catch-all).
    assert {route.function for route in ROUTES} == {
        "health",
        "deep_health",
        "job_api",
        "executions_api",
        "schedule_api",
        "identity_api",
    }
    assert any("{execution_id}" in route.resource for route in ROUTES)
    assert any(route.method == ANY for route in ROUTES)


@pytest.mark.parametrize("role", ROLES)
def test_no_route_reaches_another_tenants_job_or_execution(
    invoke: Invoke, victim: dict[str, str], role: str
) -> None:
    before = victim_state()
    assert before[0] and before[1], "the victim's job and execution are in the tables"
    answers = []
    for route in ROUTES:
        method, path = concrete(route, victim)
        status, body, raw = invoke(
            route.function, method, path, tenant=ATTACKER, role=role, body=request_body(route, method)
        )
        answers.append((method, path, status))
        assert status == expected_status(route, method, role), (method, path, role, status, body)
        leaked = [marker for marker in MARKERS if marker in raw]
        assert leaked == [], (method, path, role, leaked)
        if status >= 400:
            assert set(body["error"]) >= {"code", "message"}, body
    after = victim_state()
    # The attacker's own create/run may add attacker items and messages; the victim's are untouched.
    assert (after[0], after[1]) == (before[0], before[1])
    assert after[2] == before[2], "a message was queued: a run or retry of the victim's job"
    assert len(answers) == len(ROUTES)
