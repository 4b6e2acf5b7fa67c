"""kill -9 of the runtime during a burst of creates: everything it acknowledged is there after a restart."""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.e2e.conftest import RuntimeProcess, call

KILL_AFTER_CREATES = 25
ENDED = ("succeeded", "failed", "skipped")


def job(name: str) -> dict[str, object]:
    return {
        "name": name,
        "schedule": {"expression": "rate(1 hour)"},
        "target": {"url": "https://hooks.example.com/crash"},
    }


def create_until_refused(port: int, key: str, acknowledged: list[str], enough: threading.Event) -> None:
    """POST jobs back to back; keep the id of every 201. Stops once the runtime no longer answers."""
    for n in range(10_000):
        try:
            reply = call(port, "POST", "/api/v1/jobs", key=key, body=job(f"crash {n:05}"))
        except OSError:
            return  # the runtime is gone: nothing sent from here on was acknowledged
        if reply.status == 201:
            acknowledged.append(reply.body["job_id"])
        if len(acknowledged) >= KILL_AFTER_CREATES:
            enough.set()


def test_every_acknowledged_create_and_a_key_survive_kill_minus_9(tmp_path: Path) -> None:
    runtime = RuntimeProcess(tmp_path / "state")
    runtime.start()
    _, key = runtime.create_key("crash", "premium", role="admin")
    rate = call(runtime.port, "POST", "/api/v1/jobs", key=key, body=job("anchored"))
    assert rate.status == 201
    acknowledged: list[str] = []
    enough = threading.Event()
    writer = threading.Thread(target=create_until_refused, args=(runtime.port, key, acknowledged, enough))
    writer.start()
    enough.wait(timeout=300)

    runtime.kill()  # in the middle of the burst: the writer's next requests fail
    writer.join(timeout=120)

    assert len(acknowledged) >= KILL_AFTER_CREATES
    runtime.start()
    try:
        missing = [
            job_id
            for job_id in acknowledged
            if call(runtime.port, "GET", f"/api/v1/jobs/{job_id}", key=key).status != 200
        ]
        assert missing == []
        # A rate counts from the job's creation, before and after the restart alike.
        after = call(runtime.port, "GET", f"/api/v1/jobs/{rate.body['job_id']}", key=key)
        assert after.body["next_runs"] == rate.body["next_runs"]
        listed = call(runtime.port, "GET", "/api/v1/jobs?limit=100", key=key)
        assert listed.status == 200
        assert set(acknowledged) <= {item["job_id"] for item in listed.body["items"]} | set(
            acknowledged[100:]
        )
        assert "jobs' schedules" in runtime.output()  # the restart rebuilt them from the table
    finally:
        assert runtime.stop() == 0


class HoldingReceiver:
    """A webhook receiver on the runtime's allowed port that holds the first delivery until released."""

    def __init__(self, port: int) -> None:
        self.webhook_ids: Counter[str] = Counter()
        self.first_arrived = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.webhook_ids[self.headers["webhook-id"]] += 1
                if not receiver.first_arrived.is_set():
                    receiver.first_arrived.set()
                    receiver.release.wait(60)  # the run is in flight when the runtime is killed
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def ended(runtime: RuntimeProcess, key: str, job_id: str, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        reply = call(runtime.port, "GET", f"/api/v1/executions/{job_id}/{execution_id}", key=key)
        if (reply.status == 200 and reply.body["status"] in ENDED) or time.monotonic() > deadline:
            return {"status": reply.status, **(reply.body if isinstance(reply.body, dict) else {})}
        time.sleep(0.5)


def test_a_run_in_flight_and_a_queued_run_now_both_end_after_kill_minus_9(tmp_path: Path) -> None:
    runtime = RuntimeProcess(tmp_path / "state")
    runtime.start()
    receiver = HoldingReceiver(runtime.receiver_port)
    try:
        _, key = runtime.create_key("crash-runs", "premium", role="admin")
        body = {
            "name": "held",
            "schedule": {"expression": "rate(1 day)"},
            "target": {"url": f"http://127.0.0.1:{runtime.receiver_port}/hook"},
            "retry_policy": {"max_attempts": 1},
        }
        job_id = call(runtime.port, "POST", "/api/v1/jobs", key=key, body=body).body["job_id"]
        in_flight = call(runtime.port, "POST", f"/api/v1/jobs/{job_id}/run", key=key)
        assert in_flight.status == 202
        assert receiver.first_arrived.wait(120)  # the executor is inside the first run's call
        queued = call(runtime.port, "POST", f"/api/v1/jobs/{job_id}/run", key=key)
        assert queued.status == 202  # on the in-memory queue, behind the run in flight

        runtime.kill()
        receiver.release.set()
        runtime.start()

        first = ended(runtime, key, job_id, in_flight.body["execution_id"])
        second = ended(runtime, key, job_id, queued.body["execution_id"])
        assert (first["status"], second["status"]) == ("succeeded", "succeeded")
        assert second["attempts"] == 1
        # The queued run ran once; the run cut mid-call ran again after the restart (at least once, with
        # the same webhook-id, so the receiver can tell), not after its 900 s lease.
        assert receiver.webhook_ids[queued.body["execution_id"]] == 1
        assert receiver.webhook_ids[in_flight.body["execution_id"]] == 2
    finally:
        receiver.close()
        assert runtime.stop() == 0
