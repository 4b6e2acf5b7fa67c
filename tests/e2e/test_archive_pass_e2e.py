"""Through `jobsched local`: the runtime's archive pass stands in for the executions table's TTL. History
whose TTL passed while the runtime was stopped is archived at the next start, then leaves the table, and the
Executions API still returns it, flagged as archived."""

from __future__ import annotations

import pytest

from jobsched.execution.archive import decode
from jobsched.execution.models import TABLE_RETENTION
from jobsched_local.shifted_clock import write_offset
from tests.e2e.conftest import RuntimeProcess, call
from tests.e2e.test_execution_e2e import Receiver, demo_key, receiver, run_once, wait_for

pytestmark = pytest.mark.e2e
__all__ = ["receiver"]  # the fixture, imported to be used here


@pytest.fixture(scope="module")
def runtime(clocked_runtime: RuntimeProcess) -> RuntimeProcess:
    """This module's runtime runs on a test clock, so a restart can come a month later."""
    return clocked_runtime


def page(runtime: RuntimeProcess, key: str, job_id: str) -> list[tuple[str, bool]]:
    reply = call(runtime.port, "GET", f"/api/v1/executions/{job_id}", key=key)
    assert reply.status == 200, reply.body
    return [(item["execution_id"], item["archived"]) for item in reply.body["items"]]


def test_history_expired_while_stopped_is_archived_at_start(
    runtime: RuntimeProcess, receiver: Receiver
) -> None:
    key = demo_key(runtime)
    job, execution_id = run_once(runtime, key, receiver)
    # The pass ran at start with nothing due, and this execution's TTL is a month away: it stays put.
    assert page(runtime, key, job["job_id"]) == [(execution_id, False)]
    assert not list((runtime.state_dir / "archive").rglob("*.jsonl.gz"))

    assert runtime.stop() == 0
    assert runtime.clock_file is not None
    runtime.offset_seconds += (TABLE_RETENTION.total_seconds()) + 86_400
    write_offset(runtime.clock_file, runtime.offset_seconds)
    key = runtime.start()

    archived = wait_for(
        lambda: list((runtime.state_dir / "archive" / "executions").rglob("*.jsonl.gz")),
        "the start's archive pass to write the expired execution",
    )
    assert [record["execution_id"] for record in decode(archived[0].read_bytes())] == [execution_id]
    # (The daily schedule's fire due a moment before the restart may run too: it is not a month old.)
    wait_for(
        lambda: dict(page(runtime, key, job["job_id"])).get(execution_id) is True,
        "the execution to leave the table and be read from the archive",
    )
    one = call(runtime.port, "GET", f"/api/v1/executions/{job['job_id']}/{execution_id}", key=key)
    assert (one.status, one.body["archived"], one.body["status"]) == (200, True, "succeeded")
    # The runtime logs the pass once it has deleted what it archived: the line can follow the API's answer.
    wait_for(lambda: "archived 1 expired executions of 1 jobs" in runtime.output(), "the pass's log line")
