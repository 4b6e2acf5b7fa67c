"""Smoke test of a deployed jobsched API (or the local runtime): health, a job's create/read, a run-now that
must succeed, and the job's delete. Exits 0 when every step passed, 1 naming the first that did not.

    python tools/smoke_test.py BASE_URL API_KEY --target-url https://hooks.example.com/smoke

BASE_URL is the stage's base URL (the stack's ApiUrl output, or http://127.0.0.1:8080 locally); the key
needs role operator or admin. The target URL must answer a POST with a 2xx (the release pipeline uses the
context's pipeline.smoke_target_url). Only the standard library: it runs in any CodeBuild image.
The job it makes is named smoke-<random> and is deleted at the end, whether or not a step failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RUN_TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 15.0


class SmokeFailure(Exception):
    """A step did not give what it must; the message names the step and what came back."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any


class Api:
    def __init__(self, base_url: str, api_key: str) -> None:
        self._base = base_url.rstrip("/")
        self._key = api_key

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Reply:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"x-api-key": self._key, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self._base + path, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:  # noqa: S310
                return Reply(response.status, _json(response.read()))
        except urllib.error.HTTPError as error:
            return Reply(error.code, _json(error.read()))


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")[:200]


def expect(step: str, reply: Reply, status: int) -> Any:
    if reply.status != status:
        raise SmokeFailure(f"{step}: expected {status}, got {reply.status}: {reply.body}")
    return reply.body


def run(
    api: Api,
    target_url: str,
    log: Callable[[str], None] = print,
    timeout: float = RUN_TIMEOUT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    expect("GET /health", api.call("GET", "/health"), 200)
    log("ok   health")
    spec = {
        "name": f"smoke-{uuid.uuid4().hex[:8]}",
        "description": "release smoke test; deleted at once",
        "schedule": {"expression": "rate(1 day)"},
        "target": {"url": target_url, "body": '{"smoke": true}'},
    }
    job = expect("POST /api/v1/jobs", api.call("POST", "/api/v1/jobs", spec), 201)
    job_id = job["job_id"]
    log(f"ok   create {job_id}")
    try:
        read = expect("GET the job", api.call("GET", f"/api/v1/jobs/{job_id}"), 200)
        if read.get("job_id") != job_id or read.get("name") != spec["name"]:
            raise SmokeFailure(f"GET the job: another job came back: {read}")
        log("ok   read")
        started = expect("POST run-now", api.call("POST", f"/api/v1/jobs/{job_id}/run"), 202)
        execution_id = started["execution_id"]
        deadline = time.monotonic() + timeout
        while True:
            reply = api.call("GET", f"/api/v1/executions/{job_id}/{execution_id}")
            # 404 until the executor takes the queued run and records it; then running, then final.
            execution = (
                {"status": "queued"} if reply.status == 404 else expect("GET the execution", reply, 200)
            )
            if execution["status"] == "succeeded":
                break
            if execution["status"] not in ("queued", "running") or time.monotonic() > deadline:
                raise SmokeFailure(f"run-now {execution_id} did not succeed: {execution}")
            sleep(POLL_SECONDS)
        log(f"ok   run-now {execution_id} succeeded")
    finally:
        deleted = api.call("DELETE", f"/api/v1/jobs/{job_id}")
    expect("DELETE the job", deleted, 204)
    expect("GET the deleted job", api.call("GET", f"/api/v1/jobs/{job_id}"), 404)
    log("ok   delete")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "base_url", help="the API's base URL, e.g. https://abc.execute-api.us-east-1.amazonaws.com/prod"
    )
    parser.add_argument("api_key", help="an operator or admin key of the smoke tenant")
    parser.add_argument("--target-url", required=True, help="a URL that answers POST with 2xx")
    parser.add_argument("--timeout", type=float, default=RUN_TIMEOUT_SECONDS, help="seconds for the run-now")
    args = parser.parse_args(argv)
    try:
        run(Api(args.base_url, args.api_key), args.target_url, timeout=args.timeout)
    except (SmokeFailure, OSError, KeyError, TypeError) as exc:
        print(f"FAIL {exc}", file=sys.stderr)
        return 1
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
