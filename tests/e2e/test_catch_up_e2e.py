"""Through `jobsched local`: backfill of a past range, and the fires a pause missed caught up on resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobsched import config
from tests.e2e.conftest import RuntimeProcess, call
from tests.e2e.test_execution_e2e import Receiver, create_job, demo_key, history, receiver, wait_for
from tests.e2e.test_fire_security_e2e import queue_is_empty

pytestmark = pytest.mark.e2e
__all__ = ["receiver"]  # the fixture, imported to be used here


@pytest.fixture(scope="module")
def runtime(clocked_runtime: RuntimeProcess) -> RuntimeProcess:
    """This module's runtime runs on a test clock: time passes when the test advances it."""
    return clocked_runtime


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def by_trigger(runtime: RuntimeProcess, key: str, job_id: str, trigger: str) -> list[dict[str, object]]:
    return [item for item in history(runtime, key, job_id) if item["trigger"] == trigger]


def test_a_backfill_runs_each_past_fire_once_and_repeating_it_adds_nothing(
    runtime: RuntimeProcess, receiver: Receiver
) -> None:
    key = demo_key(runtime)
    job = create_job(runtime, key, receiver, "cron(0 * * * ? *)")
    top_of_hour = runtime.now().replace(minute=0, second=0, microsecond=0)
    expected = [top_of_hour - timedelta(hours=h) for h in (3, 2, 1)]
    body = {"from": iso(expected[0]), "to": iso(expected[-1] + timedelta(minutes=30))}
    path = f"/api/v1/jobs/{job['job_id']}/backfill"

    reply = call(runtime.port, "POST", path, key=key, body=body)
    assert reply.status == 202, reply.body
    assert reply.body["fires"] == 3
    assert reply.body["scheduled_times"] == [iso(t) for t in expected]

    def backfilled() -> list[dict[str, object]] | None:
        items = by_trigger(runtime, key, job["job_id"], "backfill")
        return items if len(items) == 3 and all(i["status"] == "succeeded" for i in items) else None

    records = wait_for(backfilled, "three backfilled executions")
    assert sorted(str(r["scheduled_at"]) for r in records) == [iso(t) for t in expected]
    assert len(receiver.deliveries) == 3
    assert sorted(d.headers["x-jobsched-scheduled-time"] for d in receiver.deliveries) == [
        iso(t) for t in expected
    ]

    again = call(runtime.port, "POST", path, key=key, body=body)
    assert (again.status, again.body["fires"]) == (202, 3)
    wait_for(lambda: queue_is_empty(runtime, config.EXECUTION_QUEUE), "the repeated backfill to be processed")
    assert len(by_trigger(runtime, key, job["job_id"], "backfill")) == 3
    assert len(receiver.deliveries) == 3


def test_a_backfill_that_cannot_be_is_a_422_naming_the_field(
    runtime: RuntimeProcess, receiver: Receiver
) -> None:
    key = demo_key(runtime)
    job = create_job(runtime, key, receiver, "cron(* * * * ? *)")  # every minute: 2 days hold 2,880
    path = f"/api/v1/jobs/{job['job_id']}/backfill"
    now = runtime.now()
    cases = [
        ({"from": iso(now - timedelta(days=2)), "to": iso(now - timedelta(hours=1))}, "to"),
        ({"from": iso(now - timedelta(hours=1)), "to": iso(now + timedelta(hours=1))}, "to"),
        ({"from": iso(now - timedelta(hours=1))}, "to"),
        ({"from": "yesterday", "to": iso(now)}, "from"),
        ({"from": iso(now - timedelta(hours=1)), "to": iso(now), "dry_run": True}, "dry_run"),
    ]
    for body, field in cases:
        reply = call(runtime.port, "POST", path, key=key, body=body)
        assert reply.status == 422, (body, reply.body)
        assert field in [d["field"] for d in reply.body["error"]["details"]], (body, reply.body)
    past = {"from": iso(now - timedelta(hours=1)), "to": iso(now - timedelta(minutes=50))}
    _, viewer = runtime.create_key("readers", "basic", role="viewer")
    assert call(runtime.port, "POST", path, key=viewer, body=past).status == 403
    _, other = runtime.create_key("intruders", "basic", role="admin")
    assert call(runtime.port, "POST", path, key=other, body=past).status == 404


def test_an_invalid_catch_up_is_a_422_and_a_valid_one_is_kept(
    runtime: RuntimeProcess, receiver: Receiver
) -> None:
    key = demo_key(runtime)
    body = {
        "name": "n",
        "schedule": {"expression": "rate(1 day)"},
        "target": {"url": f"http://127.0.0.1:{receiver.port}/hook"},
        "catch_up": {"policy": "always", "window": "P30D"},
    }
    reply = call(runtime.port, "POST", "/api/v1/jobs", key=key, body=body)
    assert reply.status == 422
    assert sorted(d["field"] for d in reply.body["error"]["details"]) == [
        "catch_up.policy",
        "catch_up.window",
    ]
    job = create_job(runtime, key, receiver, "rate(1 day)", catch_up={"policy": "all", "window": "P2D"})
    assert job["catch_up"] == {"policy": "all", "window": "P2D"}


def test_resuming_runs_the_fire_the_pause_missed(runtime: RuntimeProcess, receiver: Receiver) -> None:
    key = demo_key(runtime)
    job = create_job(
        runtime,
        key,
        receiver,
        "cron(* * * * ? *)",
        enabled=False,
        catch_up={"policy": "all", "window": "PT1H"},
    )
    created = datetime.fromisoformat(job["created_at"].replace("Z", "+00:00"))
    missed = created.replace(second=0, microsecond=0) + timedelta(minutes=1)
    # A minute boundary passes while the job is paused: the runtime's clock is moved past it.
    runtime.advance_to(missed + timedelta(seconds=1))
    reply = call(runtime.port, "POST", f"/api/v1/schedule/{job['job_id']}", key=key)
    assert reply.status == 200, reply.body

    def caught_up() -> list[dict[str, object]] | None:
        items = by_trigger(runtime, key, job["job_id"], "catch_up")
        return items if items and all(i["status"] == "succeeded" for i in items) else None

    [record] = wait_for(caught_up, "the missed fire to run")
    assert record["scheduled_at"] == iso(missed)
    assert iso(missed) in [d.headers["x-jobsched-scheduled-time"] for d in receiver.deliveries]
