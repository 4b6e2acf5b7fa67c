"""Through `jobsched local`: a fire on an excluded day is recorded as skipped; next_runs leave it out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import RuntimeProcess, call
from tests.e2e.test_execution_e2e import (
    Receiver,
    create_job,
    demo_key,
    history,
    receiver,
    schedules_of,
    wait_for,
)

pytestmark = pytest.mark.e2e
__all__ = ["receiver"]  # the fixture, imported to be used here


@pytest.fixture(scope="module")
def runtime(clocked_runtime: RuntimeProcess) -> RuntimeProcess:
    """This module's runtime runs on a test clock: a fire comes when the test advances it."""
    return clocked_runtime


def test_an_excluded_day_fires_nothing_and_its_fires_are_recorded_as_skipped(
    runtime: RuntimeProcess, receiver: Receiver
) -> None:
    key = demo_key(runtime)
    today = runtime.now().date()
    excluded = {"from": today.isoformat(), "to": (today + timedelta(days=1)).isoformat()}
    job = create_job(
        runtime,
        key,
        receiver,
        "cron(* * * * ? *)",
        schedule={"expression": "cron(* * * * ? *)", "exclusions": [excluded]},
    )
    assert job["schedule"]["exclusions"] == [excluded]
    first_allowed = datetime.combine(today + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
    assert job["next_runs"][0] == first_allowed.strftime("%Y-%m-%dT%H:%M:%SZ")

    def skipped() -> list[dict[str, object]] | None:
        items = [i for i in history(runtime, key, job["job_id"]) if i["status"] == "skipped"]
        return items or None

    # The schedule's next fire (the next minute boundary, on an excluded day) falls due.
    wait_for(lambda: schedules_of(runtime, job["job_id"]), "the job's schedule")
    runtime.advance_to(runtime.now().replace(second=0, microsecond=0) + timedelta(minutes=1, seconds=1))
    [record, *_] = wait_for(skipped, "the schedule's next fire")
    assert (record["trigger"], record["skip_reason"]) == ("schedule", "excluded_date")
    assert receiver.deliveries == []


def test_invalid_exclusions_are_a_422_naming_the_field(runtime: RuntimeProcess, receiver: Receiver) -> None:
    key = demo_key(runtime)
    body = {
        "name": "n",
        "schedule": {"expression": "rate(1 day)", "exclusions": ["2026-02-30"]},
        "target": {"url": f"http://127.0.0.1:{receiver.port}/hook"},
    }
    reply = call(runtime.port, "POST", "/api/v1/jobs", key=key, body=body)
    assert reply.status == 422
    assert [d["field"] for d in reply.body["error"]["details"]] == ["schedule.exclusions"]
