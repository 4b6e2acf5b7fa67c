"""A failover drill against the running local runtime, and gzip on the wire, seen by operators and clients.

Mark the serving region unhealthy with the CLI, watch its deep health turn 503 naming the drill, evacuate
its jobs with `jobsched jobs move`, restore it and watch deep health turn 200 again.
"""

from __future__ import annotations

import gzip
import http.client
import json
import subprocess
import sys
import time
from typing import Any

from jobsched import config
from tests.e2e.conftest import REPO_ROOT, Reply, RuntimeProcess, call, clean_env

SERVING_REGION = config.PRIMARY_REGION  # what `jobsched local` serves by default
# The deep health verdict is cached for a few seconds inside the runtime; this bounds the wait for a change.
CHANGE_LIMIT_SECONDS = 30


def jobsched(runtime: RuntimeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI against this runtime's AWS endpoint, as an operator runs it (no credentials, no AWS config)."""
    env = clean_env(AWS_ENDPOINT_URL=runtime.aws_endpoint, HOME=str(runtime.state_dir.parent))
    command = [sys.executable, "-m", "jobsched_cli.main", *args]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


def deep_health_becomes(runtime: RuntimeProcess, status: int) -> Reply:
    deadline = time.monotonic() + CHANGE_LIMIT_SECONDS
    while True:
        reply = call(runtime.port, "GET", config.DEEP_HEALTH_PATH)
        if reply.status == status or time.monotonic() > deadline:
            return reply
        time.sleep(0.5)


def job(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "schedule": {"expression": "rate(1 hour)"},
        "target": {"type": "http", "url": "https://hooks.example.com/report"},
    }


def test_drill_marks_the_region_unhealthy_its_jobs_move_and_it_comes_back(runtime: RuntimeProcess) -> None:
    _, key = runtime.create_key("e2e-drill", "premium", "admin")
    healthy = call(runtime.port, "GET", config.DEEP_HEALTH_PATH)
    assert healthy.status == 200
    assert healthy.body["region"] == SERVING_REGION
    assert set(healthy.body["checks"]) == {"settings", "table", "queue", "drill"}
    created = call(runtime.port, "POST", "/api/v1/jobs", key=key, body=job("drilled job"))
    assert (created.status, created.body["region"]) == (201, SERVING_REGION)

    marked = jobsched(runtime, "regions", "fail", "--region", SERVING_REGION, "--note", "e2e drill")
    assert marked.returncode == 0, marked.stderr
    unhealthy = deep_health_becomes(runtime, 503)
    assert unhealthy.status == 503
    assert unhealthy.body["failed"] == ["drill"]
    assert unhealthy.body["checks"]["drill"]["reason"].startswith(
        "region marked unhealthy by an operator drill"
    )
    assert call(runtime.port, "GET", "/health").status == 200  # liveness is not readiness

    moved = jobsched(runtime, "jobs", "move", "--from", SERVING_REGION, "--to", "eu-west-1")
    assert moved.returncode == 0, moved.stderr
    assert f"moved 1 job(s) from {SERVING_REGION} to eu-west-1" in moved.stdout
    assert (
        call(runtime.port, "GET", f"/api/v1/jobs/{created.body['job_id']}", key=key).body["region"]
        == "eu-west-1"
    )
    listed = jobsched(runtime, "regions", "status")
    assert f"{SERVING_REGION}: marked unhealthy since " in listed.stdout and "(e2e drill)" in listed.stdout

    restored = jobsched(runtime, "regions", "restore", "--region", SERVING_REGION)
    assert restored.returncode == 0, restored.stderr
    back = deep_health_becomes(runtime, 200)
    assert (back.status, back.body["failed"]) == (200, [])


def test_a_list_page_comes_gzipped_when_the_client_accepts_it(runtime: RuntimeProcess) -> None:
    _, key = runtime.create_key("e2e-gzip", "premium", "admin")
    for number in range(4):
        assert call(runtime.port, "POST", "/api/v1/jobs", key=key, body=job(f"job {number}")).status == 201

    connection = http.client.HTTPConnection("127.0.0.1", runtime.port, timeout=30)
    try:
        connection.request("GET", "/api/v1/jobs", headers={"x-api-key": key, "Accept-Encoding": "gzip"})
        response = connection.getresponse()
        raw = response.read()
        headers = {name.lower(): value for name, value in response.getheaders()}
    finally:
        connection.close()

    assert response.status == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert headers["content-length"] == str(len(raw))
    page = json.loads(gzip.decompress(raw))
    assert len(page["items"]) == 4
    assert len(gzip.decompress(raw)) >= config.COMPRESSION_MIN_BYTES > len(raw)
