"""What the benchmark scripts share: start `jobsched local` on free ports, make keys, send requests, report.

Every script starts its own runtime with a fresh state dir and stops it by itself; the runtime's output
goes to a file in that dir (an unread pipe would fill and block it).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
KEY = re.compile(r"jsk_[A-Za-z0-9_-]+")
STARTUP_LIMIT_SECONDS = 180.0


@dataclass(frozen=True)
class Runtime:
    port: int
    aws_port: int
    state_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_env() -> dict[str, str]:
    """This environment without AWS settings: the runtime sets its own, and nothing may reach real AWS."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


@contextmanager
def local_runtime(workers: int | None = None) -> Iterator[Runtime]:
    port, aws_port = free_port(), free_port()
    state_dir = Path(tempfile.mkdtemp(prefix="jobsched-bench-"))
    log_path = state_dir / "runtime.log"
    command = [
        str(VENV_BIN / "jobsched"),
        *("local", "--port", str(port), "--aws-port", str(aws_port), "--state-dir", str(state_dir)),
        *(("--workers", str(workers)) if workers else ()),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=clean_env())
    runtime = Runtime(port, aws_port, state_dir, log_path, process)
    try:
        _wait_for_banner(runtime)
        yield runtime
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_banner(runtime: Runtime) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT_SECONDS
    while time.monotonic() < deadline:
        if KEY.search(runtime.log_path.read_text(errors="replace")):
            return
        if runtime.process.poll() is not None:
            raise SystemExit(f"the runtime exited early; see {runtime.log_path}")
        time.sleep(0.2)
    raise SystemExit(
        f"the runtime did not start within {STARTUP_LIMIT_SECONDS:.0f} s; see {runtime.log_path}"
    )


def make_key(runtime: Runtime, tenant: str, tier: str = "premium", role: str = "admin") -> str:
    made = subprocess.run(
        [str(VENV_BIN / "jobsched"), "keys", "create", "--tenant", tenant, "--tier", tier, "--role", role],
        capture_output=True,
        text=True,
        check=True,
        env={**clean_env(), "AWS_ENDPOINT_URL": runtime.aws_endpoint},
    )
    return made.stdout.strip().splitlines()[-1]


def request(
    port: int,
    method: str,
    path: str,
    key: str | None = None,
    body: Any = None,
    extra_headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One request on its own connection (the gateway stand-in speaks HTTP/1.0); (status, parsed body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {**({"x-api-key": key} if key else {}), **(extra_headers or {})}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None
    finally:
        connection.close()


def job_body(i: int) -> dict[str, Any]:
    return {
        "name": f"bench job {i}",
        "tags": {"suite": "bench"},
        "schedule": {"expression": "cron(0 18 ? * MON-FRI *)", "timezone": "Asia/Tokyo"},
        "target": {"type": "http", "url": "https://hooks.example.com/bench", "body": json.dumps({"n": i})},
    }


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    if len(samples_ms) < 2:
        only = samples_ms[0] if samples_ms else 0.0
        return {"p50": only, "p95": only, "p99": only, "max": only}
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": max(samples_ms)}


def format_percentiles(row: dict[str, float]) -> str:
    return "  ".join(f"{name}={row[name]:7.1f} ms" for name in ("p50", "p95", "p99", "max"))
