"""The webhook invoker: signed, on a loopback socket, SSRF at call time (AWS targets: test_aws_targets.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from jobsched.execution.fire import Trigger
from jobsched.execution.ports import Delivery
from jobsched.jobs.models import HttpTarget, Job
from jobsched.targets.adapters.invokers import HttpInvoker
from jobsched.targets.guard import TargetPolicy
from jobsched.targets.webhook import new_webhook_secret, verify

SECRET = new_webhook_secret()
DELIVERY = Delivery(
    tenant="acme",
    execution_id="exe_20261201T100000Z_abc",
    scheduled_at=datetime(2026, 12, 1, 10, tzinfo=UTC),
    attempt=2,
    trigger=Trigger.SCHEDULE,
)
Received = list[tuple[str, dict[str, str], bytes]]


@pytest.fixture
def server() -> Iterator[tuple[int, Received]]:
    received: Received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/elsewhere")
            else:
                self.send_response(200)
            self.end_headers()
            self.wfile.write(b"x" * 5000)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], received
    httpd.shutdown()
    httpd.server_close()


def allowing(target: HttpTarget) -> TargetPolicy:
    """The local runtime's policy with the test receiver's host:port allowed (as --allow-target does)."""
    parts = urlsplit(target.url)
    return TargetPolicy.of(allow_http=True, allowed=[f"{parts.hostname}:{parts.port}"])


def test_the_runtimes_own_port_is_refused_at_call_time_even_when_allowed(
    server: tuple[int, Received],
) -> None:
    port, received = server
    target = HttpTarget(url=f"http://127.0.0.1:{port}/hook", body="{}")
    policy = TargetPolicy.of(allow_http=True, allowed=[f"127.0.0.1:{port}"], reserved_ports=[port])
    outcome = HttpInvoker(policy).invoke(job_with(target), target, SECRET, DELIVERY)
    assert (outcome.succeeded, outcome.status_code) == (False, None)
    assert outcome.error is not None and "own ports" in outcome.error
    assert received == []


def job_with(target: Any) -> Job:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    return Job.model_validate(
        {
            "job_id": "job_1",
            "name": "n",
            "schedule": {"expression": "rate(5 minutes)"},
            "target": target.model_dump(),
            "region": "us-east-1",
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "created_by": "k",
            "updated_by": "k",
            "status": "active",
        }
    )


def test_the_webhook_is_signed_and_the_body_sent_verbatim(server: tuple[int, Received]) -> None:
    port, received = server
    target = HttpTarget(url=f"http://127.0.0.1:{port}/hook", body='{"b": [1, 2]}', headers={"X-Team": "a"})
    outcome = HttpInvoker(allowing(target)).invoke(job_with(target), target, SECRET, DELIVERY)

    assert outcome.succeeded and outcome.status_code == 200
    assert outcome.response_excerpt is not None and len(outcome.response_excerpt) == 1024
    [(path, headers, body)] = received
    assert (path, body) == ("/hook", b'{"b": [1, 2]}')
    assert verify(SECRET, headers, body)
    assert headers["webhook-id"] == DELIVERY.execution_id
    assert (headers["x-jobsched-job-id"], headers["x-jobsched-attempt"]) == ("job_1", "2")
    assert headers["x-jobsched-scheduled-time"] == "2026-12-01T10:00:00Z"
    assert headers["x-team"] == "a"


def test_redirects_are_not_followed(server: tuple[int, Received]) -> None:
    port, received = server
    target = HttpTarget(url=f"http://127.0.0.1:{port}/redirect", body="{}")
    outcome = HttpInvoker(allowing(target)).invoke(job_with(target), target, SECRET, DELIVERY)
    assert (outcome.succeeded, outcome.status_code) == (False, 302)
    assert [path for path, _, _ in received] == ["/redirect"]


def test_a_loopback_target_is_refused_at_call_time_where_not_allowed(server: tuple[int, Received]) -> None:
    port, received = server
    target = HttpTarget(url=f"https://localhost:{port}/hook", body="{}")
    outcome = HttpInvoker(TargetPolicy(allow_http=False)).invoke(job_with(target), target, SECRET, DELIVERY)
    assert not outcome.succeeded and outcome.error is not None and "loopback" in outcome.error
    assert received == []


def test_an_unreachable_target_is_a_recorded_failure() -> None:
    target = HttpTarget(url="http://127.0.0.1:9/", body="{}", timeout_seconds=1)
    outcome = HttpInvoker(allowing(target)).invoke(job_with(target), target, SECRET, DELIVERY)
    assert not outcome.succeeded and outcome.status_code is None and outcome.error


def test_a_target_stored_before_a_rule_existed_loads_but_is_refused_at_call_time(
    server: tuple[int, Received],
) -> None:
    port, received = server
    legacy = {"X-Team": "a\x00b", "Webhook-Signature": "v1,forged"}
    stored = job_with(HttpTarget(url=f"http://127.0.0.1:{port}/hook", body="{}", headers=legacy))
    assert isinstance(stored.target, HttpTarget)
    outcome = HttpInvoker(allowing(stored.target)).invoke(stored, stored.target, SECRET, DELIVERY)
    assert (outcome.succeeded, outcome.status_code) == (False, None)
    assert outcome.error is not None and "Webhook-Signature" in outcome.error and "X-Team" in outcome.error
    assert received == []
