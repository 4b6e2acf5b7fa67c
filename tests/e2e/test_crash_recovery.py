"""kill -9 of the runtime during a burst of creates: everything it acknowledged is there after a restart."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.e2e.conftest import RuntimeProcess, call

KILL_AFTER_CREATES = 25


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
