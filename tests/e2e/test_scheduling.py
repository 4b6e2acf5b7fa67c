"""Scheduling in the local runtime as a new user sees it: schedules through the AWS endpoint, pause,
resume, delete, tenant isolation, the status page, and an at() job that fires once."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest

from jobsched import config
from tests.e2e.conftest import RuntimeProcess, call

pytestmark = pytest.mark.e2e
WAIT_LIMIT_SECONDS = 30  # a bound on how long to wait for background work, not an assertion on speed
T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], what: str) -> T:
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}")


@pytest.fixture(scope="module")
def runtime(clocked_runtime: RuntimeProcess) -> RuntimeProcess:
    """This module's runtime runs on a test clock: an at() job fires when the test advances it."""
    return clocked_runtime


def scheduler(runtime: RuntimeProcess, region: str = "us-east-1") -> Any:
    return runtime.aws_client("scheduler", region)


def of_job(runtime: RuntimeProcess, job_id: str) -> list[dict[str, Any]]:
    """The summaries (name, state) of the job's schedules, as `aws scheduler list-schedules` shows them."""
    listed = scheduler(runtime).list_schedules(GroupName=config.SCHEDULE_GROUP)["Schedules"]
    return [s for s in listed if s["Name"].endswith(job_id)]


def create_job(runtime: RuntimeProcess, key: str, expression: str, timezone: str) -> dict[str, Any]:
    body = {
        "name": "e2e schedule",
        "schedule": {"expression": expression, "timezone": timezone},
        # The receiver port the runtime allows, with nothing listening: fires are recorded failures.
        "target": {"url": f"http://127.0.0.1:{runtime.receiver_port}/unused"},
    }
    reply = call(runtime.port, "POST", "/api/v1/jobs", key=key, body=body)
    assert reply.status == 201, reply.body
    job: dict[str, Any] = reply.body
    return job


def _demo_key(runtime: RuntimeProcess) -> str:
    import re

    lines = [line for line in runtime.output().splitlines() if "Demo API key" in line]
    match = re.search(r"jsk_[A-Za-z0-9_-]+", lines[-1])
    assert match
    return match.group(0)


def test_a_job_gets_one_schedule_that_pause_resume_and_delete_follow(runtime: RuntimeProcess) -> None:
    key = _demo_key(runtime)
    job = create_job(runtime, key, "cron(0 18 ? * MON-FRI *)", "Asia/Tokyo")
    job_id = job["job_id"]

    (summary,) = wait_for(lambda: of_job(runtime, job_id), "the job's schedule")
    schedule = scheduler(runtime).get_schedule(Name=summary["Name"], GroupName=config.SCHEDULE_GROUP)
    assert (schedule["ScheduleExpression"], schedule["ScheduleExpressionTimezone"]) == (
        "cron(0 18 ? * MON-FRI *)",
        "Asia/Tokyo",
    )
    wait_for(
        lambda: (
            call(runtime.port, "GET", f"/api/v1/jobs/{job_id}", key=key).body["schedule_state"] == "synced"
        ),
        "schedule_state synced",
    )

    assert (
        call(runtime.port, "DELETE", f"/api/v1/schedule/{job_id}", key=key, body={"note": "e2e"}).status
        == 200
    )
    wait_for(lambda: [s["State"] for s in of_job(runtime, job_id)] == ["DISABLED"], "a disabled schedule")
    assert call(runtime.port, "POST", f"/api/v1/schedule/{job_id}", key=key).status == 200
    wait_for(lambda: [s["State"] for s in of_job(runtime, job_id)] == ["ENABLED"], "an enabled schedule")

    assert call(runtime.port, "DELETE", f"/api/v1/jobs/{job_id}", key=key).status == 204
    wait_for(lambda: of_job(runtime, job_id) == [] or None, "the schedule's deletion")


def test_another_tenant_gets_404_on_both_schedule_routes(runtime: RuntimeProcess) -> None:
    job = create_job(runtime, _demo_key(runtime), "rate(1 hour)", "UTC")
    _, other = runtime.create_key("globex", "premium", role="operator")
    for method in ("DELETE", "POST"):
        assert call(runtime.port, method, f"/api/v1/schedule/{job['job_id']}", key=other).status == 404


def test_status_answers_json(runtime: RuntimeProcess) -> None:
    reply = call(runtime.port, "GET", "/api/v1/schedule/status", key=_demo_key(runtime))
    assert reply.status == 200
    assert set(reply.body) == {"tenant", "region", "generated_at", "regions", "sync", "next_due"}


def test_an_at_job_fires_once_and_its_schedule_deletes_itself(runtime: RuntimeProcess) -> None:
    key = _demo_key(runtime)
    when = (runtime.now() + timedelta(seconds=10)).replace(microsecond=0)
    job_id = create_job(runtime, key, f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})", "UTC")["job_id"]
    wait_for(lambda: of_job(runtime, job_id), "the at() schedule")
    runtime.advance_to(when + timedelta(seconds=1))

    # The clock deletes an at() schedule (ActionAfterCompletion=DELETE) only right after sending its fire.
    wait_for(
        lambda: of_job(runtime, job_id) == [] or None, "the fire, after which the schedule deletes itself"
    )

    def executions() -> list[dict[str, Any]] | None:
        reply = call(runtime.port, "GET", f"/api/v1/executions/{job_id}", key=key)
        return reply.body["items"] if reply.status == 200 and reply.body["items"] else None

    (execution,) = wait_for(executions, "the executor to record the fire")  # one fire, one execution
    assert datetime.fromisoformat(execution["scheduled_at"]) == when
