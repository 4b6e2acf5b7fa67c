"""Operations against `jobsched local`: the release smoke test script passes (and fails when it must), and
the dead man's switch fires through the local clock, the queue and the executor and shows in
`jobsched regions status`."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest

from tests.e2e.conftest import KEY_PATTERN, REPO_ROOT, RuntimeProcess, clean_env

SMOKE_SCRIPT = REPO_ROOT / "tools" / "smoke_test.py"
# The heartbeat fires a minute after the start (the test advances the runtime's clock past it); this
# bounds the wait for the fire to travel through the queue and the executor, it asserts no speed.
HEARTBEAT_WAIT_SECONDS = 150


@pytest.fixture(scope="module")
def runtime(clocked_runtime: RuntimeProcess) -> RuntimeProcess:
    """This module's runtime runs on a test clock: the heartbeat's minute passes when the test advances it."""
    return clocked_runtime


@pytest.fixture
def receiver(runtime: RuntimeProcess) -> Iterator[list[bytes]]:
    """A POST target on the port the runtime allows; records each body and answers 200."""
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", runtime.receiver_port), Handler)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield bodies
    server.shutdown()
    server.server_close()


def demo_key(runtime: RuntimeProcess) -> str:
    [line] = [line for line in runtime.output().splitlines() if "Demo API key" in line][-1:]
    match = KEY_PATTERN.search(line)
    assert match
    return match.group(0)


def smoke(runtime: RuntimeProcess, key: str, target: str, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        str(SMOKE_SCRIPT),
        f"http://127.0.0.1:{runtime.port}",
        key,
        "--target-url",
        target,
        *extra,
    ]
    return subprocess.run(
        command, cwd=REPO_ROOT, env=clean_env(), capture_output=True, text=True, timeout=300
    )


def test_the_smoke_test_passes_against_the_local_runtime(
    runtime: RuntimeProcess, receiver: list[bytes]
) -> None:
    result = smoke(runtime, demo_key(runtime), f"http://127.0.0.1:{runtime.receiver_port}/smoke")

    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split()[1] for line in result.stdout.splitlines() if line.startswith("ok")] == [
        "health",
        "create",
        "read",
        "run-now",
        "delete",
    ]
    assert receiver == [b'{"smoke": true}']


def test_the_smoke_test_fails_with_a_bad_key_or_a_failing_target(runtime: RuntimeProcess) -> None:
    refused = smoke(runtime, "jsk_not_a_key", f"http://127.0.0.1:{runtime.receiver_port}/smoke")
    # Nothing listens on the receiver port in this test: the run-now fails, and the job is still deleted.
    failing = smoke(
        runtime, demo_key(runtime), f"http://127.0.0.1:{runtime.receiver_port}/smoke", "--timeout", "15"
    )

    assert refused.returncode == 1 and "FAIL POST /api/v1/jobs: expected 201, got 401" in refused.stderr
    assert failing.returncode == 1 and "did not succeed" in failing.stderr, failing.stdout + failing.stderr


def regions_status(runtime: RuntimeProcess) -> str:
    env = clean_env(AWS_ENDPOINT_URL=runtime.aws_endpoint, HOME=str(runtime.state_dir.parent))
    command = [sys.executable, "-m", "jobsched_cli.main", "regions", "status"]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_heartbeat_arrives_and_regions_status_shows_it(runtime: RuntimeProcess) -> None:
    # The heartbeat schedule starts with the runtime, before now: its first fire is within this minute.
    runtime.advance_to(runtime.now() + timedelta(minutes=1, seconds=1))
    deadline = time.monotonic() + HEARTBEAT_WAIT_SECONDS
    while True:
        lines = regions_status(runtime).splitlines()
        if any(line.startswith("us-east-1: last heartbeat") for line in lines):
            break
        if time.monotonic() > deadline:
            pytest.fail(f"no heartbeat arrived: {lines}\n{runtime.output()[-3000:]}")
        time.sleep(2)

    assert "eu-west-1: no heartbeat recorded" in lines  # only the serving region's executor runs here
    [heartbeat] = [line for line in lines if line.startswith("us-east-1: last heartbeat")]
    assert "LATE" not in heartbeat
    # The command reads the wall clock; the heartbeat it shows came from the runtime's (shifted) one.
    stamp = re.search(r"last heartbeat (\S+),", heartbeat)
    assert stamp, heartbeat
    assert datetime.fromisoformat(stamp.group(1).replace("Z", "+00:00")) <= runtime.now(), heartbeat
