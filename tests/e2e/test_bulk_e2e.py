"""Bulk pause and resume over HTTP against the local runtime: a large operation goes on in the background
(the bulk queue polled into the bulk worker, as on AWS) and its progress is read back by its tenant only."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Reply, RuntimeProcess, call

INLINE_LIMIT = 5  # the runtime's BULK_INLINE_LIMIT: more matching jobs than this run in the background
JOBS = 12
POLL_LIMIT_SECONDS = 120  # how long to wait for an operation to complete (a bound, not an assertion)
BULK = "/api/v1/schedule/bulk"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeProcess]:
    process = RuntimeProcess(
        tmp_path_factory.mktemp("bulk-runtime") / "state", env={"BULK_INLINE_LIMIT": str(INLINE_LIMIT)}
    )
    process.start()
    yield process
    process.stop()


def job(name: str, team: str) -> dict[str, Any]:
    return {
        "name": name,
        "tags": {"team": team},
        "schedule": {"expression": "rate(1 hour)"},
        "target": {"type": "http", "url": "https://hooks.example.com/report"},
    }


def completed(port: int, key: str, location: str) -> dict[str, Any]:
    deadline = time.monotonic() + POLL_LIMIT_SECONDS
    while time.monotonic() < deadline:
        read = call(port, "GET", location, key=key)
        assert read.status == 200, read.body
        if read.body["status"] != "running":
            return dict(read.body)
        time.sleep(0.5)
    pytest.fail(f"bulk operation {location} still running after {POLL_LIMIT_SECONDS} s")


def states(port: int, key: str, ids: list[str]) -> set[tuple[bool, str]]:
    found = set()
    for job_id in ids:
        read = call(port, "GET", f"/api/v1/jobs/{job_id}", key=key)
        found.add((read.body["enabled"], read.body["status"]))
    return found


def background(reply: Reply) -> str:
    assert reply.status == 202, reply.body
    assert reply.body["status"] == "running"
    location = reply.headers["location"]
    assert location == f"{BULK}/{reply.body['operation_id']}"
    return location


def test_bulk_pause_and_resume_of_many_jobs_in_the_background(runtime: RuntimeProcess) -> None:
    _, acme = runtime.create_key("e2e-bulk-acme", "premium", "admin")
    _, globex = runtime.create_key("e2e-bulk-globex", "premium", "admin")
    port = runtime.port
    billing = [
        call(port, "POST", "/api/v1/jobs", key=acme, body=job(f"nightly-{n}", "billing")).body["job_id"]
        for n in range(JOBS)
    ]
    search = call(port, "POST", "/api/v1/jobs", key=acme, body=job("nightly-search", "search")).body["job_id"]
    body = {"action": "pause", "tag": "team:billing", "note": "migration"}

    location = background(call(port, "POST", BULK, key=acme, body=body))
    done = completed(port, acme, location)

    assert (done["status"], done["matched"], done["changed"], done["failed"]) == ("completed", JOBS, JOBS, 0)
    assert states(port, acme, billing) == {(False, "paused")}
    assert states(port, acme, [search]) == {(True, "active")}
    # Another tenant cannot read it: the same answer as an id that does not exist.
    assert call(port, "GET", location, key=globex).status == 404

    again = completed(port, acme, background(call(port, "POST", BULK, key=acme, body=body)))
    assert (again["changed"], again["unchanged"]) == (0, JOBS)

    resumed = call(port, "POST", BULK, key=acme, body={"action": "resume", "name_prefix": "nightly-"})
    finished = completed(port, acme, background(resumed))
    assert (finished["matched"], finished["changed"], finished["unchanged"]) == (JOBS + 1, JOBS, 1)
    assert states(port, acme, [*billing, search]) == {(True, "active")}


def test_a_few_jobs_are_done_within_the_request_and_bad_fields_are_named(runtime: RuntimeProcess) -> None:
    _, acme = runtime.create_key("e2e-bulk-few", "premium", "admin")
    port = runtime.port
    ids = [
        call(port, "POST", "/api/v1/jobs", key=acme, body=job(f"hourly-{n}", "ops")).body["job_id"]
        for n in range(2)
    ]

    done = call(port, "POST", BULK, key=acme, body={"action": "pause", "tag": "team:ops"})

    assert done.status == 200
    assert (done.body["status"], done.body["changed"]) == ("completed", 2)
    assert states(port, acme, ids) == {(False, "paused")}
    bad = call(port, "POST", BULK, key=acme, body={"action": "pause", "tag": "no-colon"})
    assert bad.status == 422
    assert bad.body["error"]["details"][0]["field"] == "tag"
