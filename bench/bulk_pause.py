"""Bulk pause and resume through the local runtime: a small set done within the request, a large one in the
background (the bulk queue polled into the bulk worker, one page of 100 jobs per message).

Makes `--jobs` jobs tagged `batch:large` and 100 more tagged `batch:small` for one tenant, then times:
- the bulk pause of the 100 (answered 200, done within the request): the request's own latency;
- the bulk pause and the bulk resume of the `--jobs` (answered 202): from the request to the GET that first
  shows the operation completed (polled every 0.2 s), as jobs per second.

    .venv/bin/python bench/bulk_pause.py [--jobs 1000]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench_support import job_body, local_runtime, make_key, request

BULK = "/api/v1/schedule/bulk"
POLL_SECONDS = 0.2
WAIT_LIMIT_SECONDS = 600.0


def create_jobs(port: int, key: str, count: int, batch: str) -> None:
    made = 0
    while made < count:
        body: dict[str, Any] = {**job_body(made), "name": f"{batch}-{made}", "tags": {"batch": batch}}
        status, answer = request(port, "POST", "/api/v1/jobs", key=key, body=body)
        if status == 429:  # the key's token bucket: wait for it to refill
            time.sleep(0.5)
            continue
        if status != 201:
            raise SystemExit(f"creating a job answered {status}: {answer}")
        made += 1


def run_bulk(port: int, key: str, action: str, batch: str) -> tuple[int, float, dict[str, Any]]:
    """(status of the POST, seconds until the operation was completed, the completed operation)."""
    started = time.perf_counter()
    status, operation = request(port, "POST", BULK, key=key, body={"action": action, "tag": f"batch:{batch}"})
    if status not in (200, 202):
        raise SystemExit(f"bulk {action} answered {status}: {operation}")
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while operation["status"] == "running":
        if time.monotonic() > deadline:
            raise SystemExit(f"bulk {action} still running after {WAIT_LIMIT_SECONDS:.0f} s")
        time.sleep(POLL_SECONDS)
        read, operation = request(port, "GET", f"{BULK}/{operation['operation_id']}", key=key)
        if read == 429:
            operation = {"status": "running", "operation_id": operation["operation_id"]}
    return status, time.perf_counter() - started, operation


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs in the large set (default 1000)")
    args = parser.parse_args()
    with local_runtime() as runtime:
        key = make_key(runtime, "bench-bulk")
        port = runtime.port
        create_jobs(port, key, 100, "small")
        create_jobs(port, key, args.jobs, "large")
        status, seconds, operation = run_bulk(port, key, "pause", "small")
        print(f"bulk pause of 100 jobs: {status} in {seconds * 1000:.0f} ms (changed {operation['changed']})")
        for action in ("pause", "resume"):
            status, seconds, operation = run_bulk(port, key, action, "large")
            rate = args.jobs / seconds
            print(
                f"bulk {action} of {args.jobs} jobs: {status}, completed after {seconds:.1f} s "
                f"({rate:.0f} jobs/s; changed {operation['changed']}, failed {operation['failed']})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
