"""The Schedule API function on moto: pause, resume, status; idempotence, roles and tenant isolation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jobsched.config import JOBS_TABLE
from jobsched.keyscheme import JobKey
from jobsched_local.scheduling_provision import provision_scheduling
from tests.integration.scheduling_support import Harness, client_for, job_service, principal, spec
from tests.support.apigw import api_caller

pytestmark = pytest.mark.usefixtures("aws")

Call = Callable[..., tuple[int, dict[str, str], Any]]


@pytest.fixture
def call() -> Call:
    provision_scheduling(["us-east-1"], client_for)
    from functions.schedule_api import handler as schedule_api

    return api_caller(schedule_api.handler)


@pytest.fixture
def job_id() -> str:
    return str(job_service().create(principal(), spec()).job["job_id"])


def test_pause_keeps_the_note_bumps_the_version_and_is_idempotent(call: Call, job_id: str) -> None:
    status, headers, job = call("DELETE", f"/api/v1/schedule/{job_id}", body={"note": "vendor outage"})
    assert status == 200
    assert (job["enabled"], job["status"], job["pause_note"], job["version"]) == (
        False,
        "paused",
        "vendor outage",
        2,
    )
    assert headers["etag"] == '"2"'
    assert job["schedule_state"] == "pending"
    assert job["next_runs"] == []

    again_status, again_headers, again = call("DELETE", f"/api/v1/schedule/{job_id}")
    assert (again_status, again["version"], again_headers["etag"]) == (200, 2, '"2"')


def test_resume_without_a_body_reactivates_and_is_idempotent(call: Call, job_id: str) -> None:
    call("DELETE", f"/api/v1/schedule/{job_id}")
    status, _, job = call("POST", f"/api/v1/schedule/{job_id}")
    assert status == 200
    assert (job["enabled"], job["status"], job["pause_note"], job["version"]) == (True, "active", None, 3)
    assert job["next_runs"]
    assert call("POST", f"/api/v1/schedule/{job_id}")[2]["version"] == 3


def test_another_tenants_job_is_not_found_on_both_routes(call: Call, job_id: str) -> None:
    for method in ("DELETE", "POST"):
        status, _, body = call(method, f"/api/v1/schedule/{job_id}", tenant="globex")
        assert (status, body["error"]["code"]) == (404, "not_found")


def test_viewers_may_read_the_status_but_not_pause_or_resume(call: Call, job_id: str) -> None:
    for method in ("DELETE", "POST"):
        status, _, body = call(method, f"/api/v1/schedule/{job_id}", role="viewer")
        assert (status, body["error"]["code"]) == (403, "forbidden")
    assert call("GET", "/api/v1/schedule/status", role="viewer")[0] == 200


def test_a_note_that_is_not_a_string_is_a_422_naming_the_field(call: Call, job_id: str) -> None:
    status, _, body = call("DELETE", f"/api/v1/schedule/{job_id}", body={"note": 5})
    assert status == 422
    assert body["error"]["details"][0]["field"] == "note"


def test_status_counts_this_tenants_jobs_per_region_shows_lag_and_next_fires(call: Call, job_id: str) -> None:
    paused = job_service().create(principal(), spec(expression="rate(5 minutes)")).job["job_id"]
    call("DELETE", f"/api/v1/schedule/{paused}")
    job_service().create(principal("globex"), spec())  # another tenant's job is not counted
    Harness().settle()

    status, _, body = call("GET", "/api/v1/schedule/status")
    assert status == 200
    region = body["regions"]["us-east-1"]
    assert region["jobs"] == 2
    assert region["by_status"] == {"active": 1, "paused": 1}
    assert region["by_schedule_state"] == {"synced": 2}
    assert body["sync"] == {"pending": 0, "oldest_pending_seconds": 0.0}
    assert [due["job_id"] for due in body["next_due"]] == [job_id]
    # Nothing service-wide: queue depths would show other tenants' activity.
    assert set(body) == {"tenant", "region", "generated_at", "regions", "sync", "next_due"}


def test_pause_stores_an_empty_preview_and_resume_a_fresh_one(call: Call, job_id: str) -> None:
    from jobsched.scheduling.adapters.job_schedule_store import DynamoJobScheduleStore

    def stored_runs() -> Any:
        job = DynamoJobScheduleStore(client_for("dynamodb", "us-east-1"), JOBS_TABLE).current(
            JobKey("acme", job_id)
        )
        assert job is not None
        return job.next_runs

    call("DELETE", f"/api/v1/schedule/{job_id}")
    assert stored_runs() == []
    _, _, resumed = call("POST", f"/api/v1/schedule/{job_id}")
    assert len(resumed["next_runs"]) == 5
    assert [run.isoformat().replace("+00:00", "Z") for run in stored_runs()] == resumed["next_runs"]


def test_a_pause_and_a_resume_record_who_made_them(call: Call, job_id: str) -> None:
    paused = call("DELETE", f"/api/v1/schedule/{job_id}", key_id="user:alice", kind="user")
    assert (paused[0], paused[2]["updated_by"]) == (200, "user:alice")
    resumed = call("POST", f"/api/v1/schedule/{job_id}", key_id="client:partner", kind="client")
    assert (resumed[0], resumed[2]["updated_by"]) == (200, "client:partner")
