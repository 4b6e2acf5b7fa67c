"""Latency and throughput of the Job API through the local runtime, over HTTP, as a client sees them.

Starts `jobsched local` on free loopback ports with a fresh state dir, makes premium keys with the CLI
(one premium key sustains 28 req/s, so the load is spread over several), then sends a bounded number of
requests per operation from worker threads and prints p50/p95/p99 and throughput. It stops by itself.

    .venv/bin/python bench/api_latency.py [--requests 400] [--threads 8] [--keys 8]

The local runtime is one Python process over moto, so these figures bound the cost of the service's
own code path (gateway stand-in, authorizer, handler, DynamoDB adapter); AWS adds network and service time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
KEY = re.compile(r"jsk_[A-Za-z0-9_-]+")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_banner(log_path: Path, runtime: subprocess.Popen[bytes], limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if KEY.search(log_path.read_text(errors="replace")):
            return
        if runtime.poll() is not None:
            raise SystemExit(f"the runtime exited early; see {log_path}")
        time.sleep(0.2)
    raise SystemExit(f"the runtime did not start within {limit:.0f} s; see {log_path}")


def request(port: int, method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"x-api-key": key}
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


def job(i: int) -> dict[str, Any]:
    return {
        "name": f"bench job {i}",
        "tags": {"suite": "bench"},
        "schedule": {"expression": "cron(0 18 ? * MON-FRI *)", "timezone": "Asia/Tokyo"},
        "target": {"type": "http", "url": "https://hooks.example.com/bench", "body": json.dumps({"n": i})},
    }


def measure(name: str, count: int, threads: int, op: Callable[[int], int]) -> dict[str, float]:
    latencies: list[float] = []
    failures: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(count))

    def worker() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            started = time.perf_counter()
            status = op(i)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                if status >= 400:
                    failures[status] = failures.get(status, 0) + 1

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    wall = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    row = {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "rps": count / wall}
    print(
        f"{name:<22} n={count:<5} p50={row['p50']:6.1f} ms  p95={row['p95']:6.1f} ms  "
        f"p99={row['p99']:6.1f} ms  {row['rps']:6.1f} req/s  errors={failures or 'none'}",
        flush=True,
    )
    return row


def run_operations(port: int, keys: list[str], count: int, threads: int) -> None:
    ids: list[str] = [""] * count

    def create(i: int) -> int:
        status, body = request(port, "POST", "/api/v1/jobs", keys[i % len(keys)], job(i))
        if status == 201:
            ids[i] = body["job_id"]
        return status

    def read(i: int) -> int:
        return request(port, "GET", f"/api/v1/jobs/{ids[i]}", keys[i % len(keys)])[0]

    def page(i: int) -> int:
        return request(port, "GET", "/api/v1/jobs?limit=20", keys[i % len(keys)])[0]

    def replace(i: int) -> int:
        return request(port, "PUT", f"/api/v1/jobs/{ids[i]}", keys[i % len(keys)], job(i + 1))[0]

    def health(i: int) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("GET", "/health")
            return connection.getresponse().status
        finally:
            connection.close()

    measure("GET /health", count, threads, health)
    measure("POST /api/v1/jobs", count, threads, create)
    measure("GET /api/v1/jobs/{id}", count, threads, read)
    measure("GET /api/v1/jobs", count, threads, page)
    measure("PUT /api/v1/jobs/{id}", count, threads, replace)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=400, help="requests per operation")
    parser.add_argument("--threads", type=int, default=8, help="concurrent clients")
    parser.add_argument("--keys", type=int, default=8, help="premium keys to spread the load over")
    args = parser.parse_args()

    port, aws_port = free_port(), free_port()
    state_dir = Path(tempfile.mkdtemp(prefix="jobsched-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # The runtime logs every request: its output goes to a file, since an unread pipe would fill and block it.
    log_path = state_dir / "runtime.log"
    with log_path.open("wb") as log:
        runtime = subprocess.Popen(
            [
                str(VENV_BIN / "jobsched"),
                *("local", "--port", str(port), "--aws-port", str(aws_port), "--state-dir", str(state_dir)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait_for_banner(log_path, runtime)
        keys = []
        for _ in range(args.keys):
            made = subprocess.run(
                [
                    str(VENV_BIN / "jobsched"),
                    "keys",
                    "create",
                    "--tenant",
                    "bench",
                    "--tier",
                    "premium",
                    "--role",
                    "admin",
                ],
                capture_output=True,
                text=True,
                check=True,
                env={**env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{aws_port}"},
            )
            keys.append(made.stdout.strip().splitlines()[-1])
        print(
            f"runtime on :{port}, {len(keys)} premium keys, {args.threads} threads, "
            f"{args.requests} requests each"
        )

        run_operations(port, keys, args.requests, args.threads)
    finally:
        runtime.send_signal(signal.SIGTERM)
        try:
            runtime.wait(timeout=30)
        except subprocess.TimeoutExpired:
            runtime.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
