"""Executions in the local runtime against a loopback receiver that verifies Standard Webhooks signatures."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from jobsched import config
from jobsched.targets.webhook import verify
from jobsched_local.execution_recovery import RETRY_GRACE
from jobsched_local.schedule_clock import CATCH_UP_WINDOW
from tests.e2e.conftest import KEY_PATTERN, RuntimeProcess, call

pytestmark = pytest.mark.e2e
WAIT_LIMIT_SECONDS = 90  # a bound on waiting for the runtime, not an assertion about speed
QUEUE_COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)
# Past this much runtime time after a fire no copy of it can come: the longest of the execution queue's
# visibility timeout (a message not deleted comes back), the executor's lease (recovery resends an
# attempt whose lease passed), the retry grace and the clock's catch-up window (fires sent again).
REDELIVERY_HORIZON = max(
    timedelta(seconds=config.EXECUTION_VISIBILITY_SECONDS),
    timedelta(seconds=config.EXECUTOR_TIMEOUT_SECONDS),
    RETRY_GRACE,
    CATCH_UP_WINDOW,
) + timedelta(minutes=1)


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP receiver on 127.0.0.1; answers with the statuses queued in `script`, then 200."""

    port: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    script: list[int] = field(default_factory=list)


@pytest.fixture(scope="module")
def runtime(clocked_runtime: RuntimeProcess) -> RuntimeProcess:
    """This module's runtime runs on a test clock: scheduled fires come when the test advances it."""
    return clocked_runtime


@pytest.fixture
def receiver(runtime: RuntimeProcess) -> Iterator[Receiver]:
    """On the port the runtime allows as a target (a ThreadingHTTPServer reuses the address)."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            state.deliveries.append(Delivery({k.lower(): v for k, v in self.headers.items()}, body))
            status = state.script.pop(0) if state.script else 200
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"received")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", runtime.receiver_port), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}")


def demo_key(runtime: RuntimeProcess) -> str:
    line = [line for line in runtime.output().splitlines() if "Demo API key" in line][-1]
    match = KEY_PATTERN.search(line)
    assert match
    return match.group(0)


def create_job(
    runtime: RuntimeProcess, key: str, receiver: Receiver, expression: str, **extra: Any
) -> dict[str, Any]:
    body = {
        "name": "loopback hook",
        "schedule": {"expression": expression},
        "target": {"url": f"http://127.0.0.1:{receiver.port}/hook", "body": '{"hello": "world", "n": 1}'},
        **extra,
    }
    reply = call(runtime.port, "POST", "/api/v1/jobs", key=key, body=body)
    assert reply.status == 201, reply.body
    assert reply.body["webhook_secret"].startswith("whsec_")
    return dict(reply.body)


def history(runtime: RuntimeProcess, key: str, job_id: str) -> list[dict[str, Any]]:
    reply = call(runtime.port, "GET", f"/api/v1/executions/{job_id}", key=key)
    assert reply.status == 200, reply.body
    return list(reply.body["items"])


def finished(runtime: RuntimeProcess, key: str, job_id: str, count: int) -> list[dict[str, Any]] | None:
    items = history(runtime, key, job_id)
    done = [item for item in items if item["status"] != "running"]
    return items if len(done) >= count else None


def run_once(runtime: RuntimeProcess, key: str, receiver: Receiver) -> tuple[dict[str, Any], str]:
    """A new daily job, run now once and finished: (the job, its execution id)."""
    job = create_job(runtime, key, receiver, "rate(1 day)")
    run = call(runtime.port, "POST", f"/api/v1/jobs/{job['job_id']}/run", key=key)
    assert run.status == 202, run.body
    wait_for(lambda: finished(runtime, key, job["job_id"], 1), "the run-now to finish")
    return job, str(run.body["execution_id"])


def test_run_now_calls_the_receiver_once_signed_with_the_body_unchanged(
    runtime: RuntimeProcess, receiver: Receiver
) -> None:
    key = demo_key(runtime)
    job, execution_id = run_once(runtime, key, receiver)

    [record] = history(runtime, key, job["job_id"])
    assert (record["execution_id"], record["status"], record["trigger"]) == (
        execution_id,
        "succeeded",
        "manual",
    )
    assert record["status_code"] == 200 and record["response_excerpt"] == "received"
    [delivery] = receiver.deliveries
    assert delivery.body == b'{"hello": "world", "n": 1}'
    assert delivery.headers["webhook-id"] == execution_id
    assert delivery.headers["x-jobsched-job-id"] == job["job_id"]
    assert verify(job["webhook_secret"], delivery.headers, delivery.body)

    again = call(runtime.port, "POST", f"/api/v1/jobs/{job['job_id']}/run", key=key)
    wait_for(lambda: finished(runtime, key, job["job_id"], 2), "the second run-now")
    assert len(receiver.deliveries) == 2
    assert receiver.deliveries[1].headers["webhook-id"] == again.body["execution_id"] != execution_id
    jobs_view = call(runtime.port, "GET", f"/api/v1/jobs/{job['job_id']}", key=key).body
    assert jobs_view["last_execution"]["status"] == "succeeded" and jobs_view["version"] == 1


def test_two_failures_then_success_are_one_execution_of_three_attempts(
    runtime: RuntimeProcess, receiver: Receiver
) -> None:
    key = demo_key(runtime)
    receiver.script = [500, 503]
    job = create_job(
        runtime,
        key,
        receiver,
        "rate(1 day)",
        retry_policy={"max_attempts": 3, "backoff_seconds": 1, "backoff_multiplier": 1.0},
    )
    call(runtime.port, "POST", f"/api/v1/jobs/{job['job_id']}/run", key=key)
    [record] = wait_for(lambda: finished(runtime, key, job["job_id"], 1), "three attempts")
    assert (record["status"], record["attempts"], record["status_code"]) == ("succeeded", 3, 200)
    assert len(receiver.deliveries) == 3
    assert {d.headers["webhook-id"] for d in receiver.deliveries} == {record["execution_id"]}
    assert [d.headers["x-jobsched-attempt"] for d in receiver.deliveries] == ["1", "2", "3"]
    assert all(verify(job["webhook_secret"], d.headers, d.body) for d in receiver.deliveries)


def test_another_tenant_gets_404_on_history_retry_and_run(
    runtime: RuntimeProcess, receiver: Receiver
) -> None:
    key = demo_key(runtime)
    job = create_job(runtime, key, receiver, "rate(1 day)")
    _, other = runtime.create_key("intruder", "premium", role="admin")
    for method, path in (
        ("GET", f"/api/v1/executions/{job['job_id']}"),
        ("POST", f"/api/v1/executions/{job['job_id']}/retry"),
        ("POST", f"/api/v1/jobs/{job['job_id']}/run"),
    ):
        assert call(runtime.port, method, path, key=other).status == 404, path


def nothing_left_to_deliver(runtime: RuntimeProcess, key: str, job_id: str) -> bool:
    """No further delivery of the job can come: it is completed (its one-off schedule is gone) and the
    execution queue holds no message, visible, in flight or delayed."""
    job = call(runtime.port, "GET", f"/api/v1/jobs/{job_id}", key=key).body
    sqs = runtime.aws_client("sqs")
    url = sqs.get_queue_url(QueueName=config.EXECUTION_QUEUE)["QueueUrl"]
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=QUEUE_COUNTS)["Attributes"]
    return (
        job["status"] == "completed"
        and not schedules_of(runtime, job_id)
        and all(int(counts[name]) == 0 for name in QUEUE_COUNTS)
    )


def schedules_of(runtime: RuntimeProcess, job_id: str) -> list[dict[str, Any]]:
    """The job's schedules in the runtime's Scheduler, as `aws scheduler list-schedules` lists them."""
    listed = runtime.aws_client("scheduler").list_schedules(GroupName=config.SCHEDULE_GROUP)["Schedules"]
    return [schedule for schedule in listed if schedule["Name"].endswith(job_id)]


def test_an_at_schedule_fires_exactly_once(runtime: RuntimeProcess, receiver: Receiver) -> None:
    key = demo_key(runtime)
    due = (runtime.now() + timedelta(seconds=20)).replace(microsecond=0)
    job = create_job(runtime, key, receiver, f"at({due.strftime('%Y-%m-%dT%H:%M:%S')})")
    wait_for(lambda: schedules_of(runtime, job["job_id"]), "the at() schedule")
    runtime.advance_to(due + timedelta(seconds=1))
    [record] = wait_for(lambda: finished(runtime, key, job["job_id"], 1), "the at() fire")
    assert (record["status"], record["trigger"]) == ("succeeded", "schedule")
    assert datetime.fromisoformat(record["scheduled_at"]) == due
    # Count only once no further delivery can come: past every window in which a copy could still be
    # sent, with nothing left to send; an early count would miss a duplicate.
    runtime.advance(REDELIVERY_HORIZON.total_seconds())
    wait_for(lambda: nothing_left_to_deliver(runtime, key, job["job_id"]), "the job to complete")
    assert [item["execution_id"] for item in history(runtime, key, job["job_id"])] == [record["execution_id"]]
    [delivery] = receiver.deliveries
    assert delivery.body == b'{"hello": "world", "n": 1}'
    assert verify(job["webhook_secret"], delivery.headers, delivery.body)


def test_jobs_cannot_target_the_runtime_itself_or_loopback_it_does_not_allow(runtime: RuntimeProcess) -> None:
    key = demo_key(runtime)
    for url in (
        f"http://127.0.0.1:{runtime.aws_port}/",  # the AWS endpoint: every tenant's items
        f"http://localhost:{runtime.aws_port}/",
        f"http://127.0.0.1:{runtime.port}/api/v1/jobs",  # the API behind the gateway's back
        f"http://127.0.0.1:{runtime.receiver_port + 1}/",  # loopback, but not the allowed port
        "http://169.254.169.254/latest/meta-data/",
        "http://2130706433/",
    ):
        body = {"name": "inside", "schedule": {"expression": "rate(1 day)"}, "target": {"url": url}}
        reply = call(runtime.port, "POST", "/api/v1/jobs", key=key, body=body)
        assert reply.status == 422, (url, reply.body)
        assert [d["field"] for d in reply.body["error"]["details"]] == ["target.url"], url
