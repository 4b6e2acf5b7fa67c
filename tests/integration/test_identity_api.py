"""The Identity API on moto: a tenant admin's own keys and clients, other tenants' are 404, and an audit."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest

from jobsched import config
from jobsched.keys.adapters.audit_log import DynamoAuditLog
from jobsched.keys.adapters.client_store import DynamoClientStore
from jobsched.keys.adapters.key_service import make_key_service
from jobsched.keys.admin import TenantAdmin
from jobsched.keys.clients import ClientService, LocalClientRegistry, check_client_secret
from jobsched.keys.models import KeyStatus
from jobsched_local.provision import ensure_api
from tests.support.apigw import rest_event

Call = Callable[..., tuple[int, Any]]


def clients(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)


@pytest.fixture
def module(aws: None) -> ModuleType:
    for region in config.REGIONS:
        ensure_api(clients("apigateway", region))
    from functions.identity_api import handler

    dynamodb = clients("dynamodb", config.PRIMARY_REGION)
    # The local runtime's wiring (OAUTH_CLIENTS=local): clients of the local issuer.
    handler.ADMIN = TenantAdmin(
        make_key_service(clients, config.PRIMARY_REGION, config.REGIONS),
        ClientService(DynamoClientStore(dynamodb, config.JOBS_TABLE), LocalClientRegistry()),
        DynamoAuditLog(dynamodb, config.JOBS_TABLE),
    )
    return handler


@pytest.fixture
def call(module: ModuleType) -> Call:
    def invoke(method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        response = module.handler(rest_event(method, path, **kwargs), None)
        body = response.get("body")
        return response["statusCode"], json.loads(body) if body else None

    return invoke


def test_an_admin_manages_its_tenants_keys_in_its_own_tier(call: Call) -> None:
    status, created = call(
        "POST", "/api/v1/keys", body={"role": "viewer", "tags": {"team": "billing"}}, key_id="key_admin"
    )
    assert status == 201
    assert created["value"].startswith("jsk_") and created["tier"] == "premium"  # the caller's tier
    assert (created["role"], created["tags"], created["status"]) == ("viewer", {"team": "billing"}, "active")

    status, listed = call("GET", "/api/v1/keys")
    assert status == 200 and [k["key_id"] for k in listed["items"]] == [created["key_id"]]
    assert "value" not in listed["items"][0]

    # Another tenant's admin neither sees nor revokes it.
    assert call("GET", "/api/v1/keys", tenant="globex")[1]["items"] == []
    assert call("DELETE", f"/api/v1/keys/{created['key_id']}", tenant="globex")[0] == 404

    assert call("DELETE", f"/api/v1/keys/{created['key_id']}", key_id=created["key_id"])[0] == 409
    assert call("DELETE", f"/api/v1/keys/{created['key_id']}")[0] == 204
    assert call("GET", "/api/v1/keys")[1]["items"][0]["status"] == "revoked"


def test_clients_are_made_with_a_secret_and_revoked(call: Call) -> None:
    status, created = call(
        "POST", "/api/v1/clients", body={"scopes": ["jobs.read", "jobsched/executions.read"]}
    )
    assert (
        status == 201
        and created["scopes"] == ["jobs.read", "executions.read"]
        and created["role"] == "operator"
    )
    store = DynamoClientStore(clients("dynamodb", config.PRIMARY_REGION), config.JOBS_TABLE)
    assert check_client_secret(store, created["client_id"], created["client_secret"]) is not None
    assert call("GET", "/api/v1/clients")[1]["items"][0]["client_id"] == created["client_id"]
    assert call("DELETE", f"/api/v1/clients/{created['client_id']}", tenant="globex")[0] == 404
    assert call("DELETE", f"/api/v1/clients/{created['client_id']}")[0] == 204
    record = store.get(created["client_id"])
    assert record is not None and record.status is KeyStatus.REVOKED


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scopes": ["admin"]}, "scopes"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["jobs.read"], "role": "root"}, "role"),
        ({"scopes": ["jobs.read"], "surprise": 1}, "surprise"),
    ],
)
def test_bad_client_requests_name_the_field(call: Call, body: dict[str, Any], field: str) -> None:
    status, error = call("POST", "/api/v1/clients", body=body)
    assert status == 422 and error["error"]["details"][0]["field"] == field


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_only_admins_manage_keys_clients_and_read_the_audit(call: Call, role: str) -> None:
    for method, path, body in (
        ("POST", "/api/v1/keys", {"role": "viewer"}),
        ("GET", "/api/v1/keys", None),
        ("POST", "/api/v1/clients", {"scopes": ["jobs.read"]}),
        ("GET", "/api/v1/audit", None),
    ):
        status, error = call(method, path, role=role, body=body)
        assert status == 403 and error["error"]["code"] == "forbidden"


def test_a_tag_scoped_admin_hands_out_only_credentials_within_its_tags(call: Call) -> None:
    scoped = {"tags": [("team", "billing")]}
    status, error = call("POST", "/api/v1/keys", body={"role": "viewer"}, **scoped)
    assert status == 403 and error["error"]["details"][0]["field"] == "tags"
    assert (
        call("POST", "/api/v1/keys", body={"role": "viewer", "tags": {"team": "billing"}}, **scoped)[0] == 201
    )


def test_the_audit_lists_who_did_what_newest_first_in_pages(call: Call) -> None:
    key = call("POST", "/api/v1/keys", body={"role": "operator"}, key_id="key_alice")[1]
    client = call("POST", "/api/v1/clients", body={"scopes": ["jobs.read"]}, key_id="user:bob", kind="user")[
        1
    ]
    call("DELETE", f"/api/v1/keys/{key['key_id']}", key_id="client:x")
    call("POST", "/api/v1/keys", body={"role": "viewer"}, tenant="globex")

    status, page = call("GET", "/api/v1/audit", query={"limit": "2"})
    assert status == 200
    assert [(r["action"], r["actor"], r["target"]) for r in page["items"]] == [
        ("key.revoked", "client:x", key["key_id"]),
        ("client.created", "user:bob", client["client_id"]),
    ]
    rest = call("GET", "/api/v1/audit", query={"limit": "2", "next_token": page["next_token"]})[1]
    assert [(r["action"], r["actor"]) for r in rest["items"]] == [("key.created", "key_alice")]
    assert rest["items"][0]["details"] == {"role": "operator", "tags": {}}
    assert call("GET", "/api/v1/audit", query={"next_token": "bogus"})[0] == 400


def test_a_jobs_deletion_and_secret_rotation_are_in_the_audit_with_who_did_them(call: Call) -> None:
    from functions.job_api import handler as job_api

    def job_call(method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        response = job_api.handler(rest_event(method, path, **kwargs), None)
        body = response.get("body")
        return response["statusCode"], json.loads(body) if body else None

    spec = {
        "name": "audited",
        "schedule": {"expression": "rate(1 day)"},
        "target": {"type": "http", "url": "https://hooks.example.com/audited"},
    }
    status, job = job_call("POST", "/api/v1/jobs", body=spec, key_id="key_creator", role="operator")
    assert status == 201, job
    path = f"/api/v1/jobs/{job['job_id']}"
    rotated = job_call("POST", path + "/webhook-secret", key_id="user:alice", kind="user", role="admin")
    assert rotated[0] == 200, rotated
    assert job_call("DELETE", path, key_id="client:partner", kind="client", role="operator")[0] == 204
    # A failed delete (already gone) leaves no record.
    assert job_call("DELETE", path, key_id="key_late", role="operator")[0] == 404

    status, page = call("GET", "/api/v1/audit")
    assert status == 200
    assert [(r["action"], r["actor"], r["target"]) for r in page["items"]] == [
        ("job.deleted", "client:partner", job["job_id"]),
        ("job.webhook_secret_rotated", "user:alice", job["job_id"]),
    ]
    # Another tenant's admin sees none of it.
    assert call("GET", "/api/v1/audit", tenant="globex")[1]["items"] == []
