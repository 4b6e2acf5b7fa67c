"""The Job API as a new user drives it over HTTP against the local runtime, with two tenants' keys."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import RuntimeProcess, call


def job(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "tokyo report",
        "schedule": {"expression": "cron(0 18 ? * MON-FRI *)", "timezone": "Asia/Tokyo"},
        "target": {"type": "http", "url": "https://hooks.example.com/report", "body": '{"report": "daily"}'},
    }
    body.update(overrides)
    return body


def test_crud_with_two_tenants(runtime: RuntimeProcess) -> None:
    _, acme = runtime.create_key("e2e-acme", "premium", "admin")
    _, globex = runtime.create_key("e2e-globex", "premium", "admin")
    port = runtime.port

    created = call(port, "POST", "/api/v1/jobs", key=acme, body=job())
    assert created.status == 201
    job_id = created.body["job_id"]
    path = f"/api/v1/jobs/{job_id}"
    assert created.headers["location"] == path and created.headers["etag"] == '"1"'
    assert all(run.endswith("T09:00:00Z") for run in created.body["next_runs"])  # 18:00 Tokyo = 09:00 UTC

    read = call(port, "GET", path, key=acme)
    assert read.status == 200 and read.body["name"] == "tokyo report"

    replaced = call(port, "PUT", path, key=acme, body=job(name="renamed"), headers={"If-Match": '"1"'})
    assert replaced.status == 200 and replaced.body["version"] == 2
    stale = call(port, "PUT", path, key=acme, body=job(name="lost"), headers={"If-Match": '"1"'})
    assert stale.status == 412 and stale.body["error"]["code"] == "precondition_failed"

    for method, body in [("GET", None), ("PUT", job(name="hijack")), ("DELETE", None)]:
        assert call(port, method, path, key=globex, body=body).status == 404
    assert job_id not in {
        item["job_id"] for item in call(port, "GET", "/api/v1/jobs", key=globex).body["items"]
    }

    assert call(port, "GET", path, key=acme).body["name"] == "renamed"
    assert call(port, "DELETE", path, key=acme).status == 204
    assert call(port, "DELETE", path, key=acme).status == 404


def test_bad_input_is_a_4xx_naming_the_field_and_viewers_cannot_write(runtime: RuntimeProcess) -> None:
    _, admin = runtime.create_key("e2e-errors", "premium", "admin")
    _, viewer = runtime.create_key("e2e-errors", "premium", "viewer")
    port = runtime.port

    bad = call(
        port, "POST", "/api/v1/jobs", key=admin, body=job(schedule={"expression": "cron(0 25 * * ? *)"})
    )
    assert bad.status == 422 and bad.body["error"]["details"][0]["field"] == "schedule.expression"
    zone = job(schedule={"expression": "rate(1 hour)", "timezone": "Nowhere/Land"})
    assert call(port, "POST", "/api/v1/jobs", key=admin, body=zone).body["error"]["details"][0]["field"] == (
        "schedule.timezone"
    )
    assert call(port, "POST", "/api/v1/jobs", key=viewer, body=job()).status == 403
    assert call(port, "GET", "/api/v1/jobs", key=viewer).status == 200


def test_idempotency_key_returns_the_same_job(runtime: RuntimeProcess) -> None:
    _, key = runtime.create_key("e2e-idem", "premium", "operator")
    headers = {"Idempotency-Key": "report-1"}
    first = call(runtime.port, "POST", "/api/v1/jobs", key=key, body=job(), headers=headers)
    again = call(runtime.port, "POST", "/api/v1/jobs", key=key, body=job(), headers=headers)
    assert first.status == again.status == 201
    assert again.body["job_id"] == first.body["job_id"]
    other = call(runtime.port, "POST", "/api/v1/jobs", key=key, body=job(name="other"), headers=headers)
    assert other.status == 409


def test_paging_250_jobs_at_limit_100_returns_each_once(runtime: RuntimeProcess) -> None:
    _, key = runtime.create_key("e2e-paging", "premium", "admin")
    created = set()
    for i in range(250):
        reply = call(runtime.port, "POST", "/api/v1/jobs", key=key, body=job(name=f"job {i:03}"))
        assert reply.status == 201, reply.body
        created.add(reply.body["job_id"])
    seen: list[str] = []
    token = None
    while True:
        path = "/api/v1/jobs?limit=100" + (f"&next_token={token}" if token else "")
        page = call(runtime.port, "GET", path, key=key)
        assert page.status == 200
        seen.extend(item["job_id"] for item in page.body["items"])
        token = page.body["next_token"]
        if token is None:
            break
    assert len(seen) == 250 and set(seen) == created
