"""How much gzip saves on the API's responses, and what it costs: list pages of the Job API, as served.

Creates jobs through the Job API function on in-process moto (no runtime, no network), fetches list pages of
20 and 100 jobs and one job, and prints each body's size plain and gzipped (level 9, what
jobsched_local.compression sends) with the time gzip took. Responses under COMPRESSION_MIN_BYTES are sent
plain: the sizes show where that threshold falls.

    .venv/bin/python bench/compression.py [--jobs 100]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for folder in (REPO, REPO / "layers", REPO / "local"):
    sys.path.insert(0, str(folder))

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)


def event(method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
        "requestContext": {
            "requestId": "bench",
            "stage": "prod",
            "authorizer": {"tenant": "bench", "role": "admin", "tier": "premium", "key_id": "key_bench"},
        },
    }


def job(number: int) -> dict[str, Any]:
    return {
        "name": f"nightly report {number}",
        "description": "Sends the nightly sales report to the finance team's webhook",
        "tags": {"team": "finance", "env": "prod"},
        "schedule": {"expression": "cron(0 18 ? * MON-FRI *)", "timezone": "Asia/Tokyo"},
        "target": {"type": "http", "url": "https://hooks.example.com/report", "body": '{"report": "daily"}'},
    }


def report(name: str, body: bytes) -> None:
    started = time.perf_counter()
    rounds = 50
    for _ in range(rounds):
        compressed = gzip.compress(body, mtime=0)
    took_ms = (time.perf_counter() - started) * 1000 / rounds
    ratio = len(body) / len(compressed)
    print(
        f"{name:<28} plain={len(body):>7,} B  gzip={len(compressed):>6,} B  "
        f"{ratio:4.1f}x smaller  gzip took {took_ms:5.2f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=100, help="jobs to create (default: %(default)s)")
    args = parser.parse_args()

    import boto3
    from moto import mock_aws

    from jobsched_local import moto_dynamodb
    from jobsched_local.provision import ensure_table

    moto_dynamodb.install()
    # The handlers print their EMF metric lines on stdout; the report should not drown in them.
    with mock_aws(), contextlib.redirect_stdout(io.StringIO()):
        from jobsched import config

        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        for table in (config.JOBS_TABLE, config.EXECUTIONS_TABLE):
            ensure_table(dynamodb, table)
        from functions.job_api import handler as job_api

        job_ids = []
        for number in range(args.jobs):
            created = job_api.handler(event("POST", "/api/v1/jobs", job(number)), None)
            job_ids.append(json.loads(created["body"])["job_id"])
        one = job_api.handler(event("GET", f"/api/v1/jobs/{job_ids[0]}"), None)["body"].encode()
        page_20 = job_api.handler(event("GET", "/api/v1/jobs", query={"limit": "20"}), None)["body"].encode()
        page_100 = job_api.handler(event("GET", "/api/v1/jobs", query={"limit": "100"}), None)[
            "body"
        ].encode()
    print(f"{args.jobs} jobs of one tenant (near-identical jobs compress better than real ones)")
    print(f"threshold: responses of {config.COMPRESSION_MIN_BYTES:,} B or more are compressed")
    report("GET /api/v1/jobs/{id}", one)
    report("GET /api/v1/jobs (20 jobs)", page_20)
    report("GET /api/v1/jobs (100 jobs)", page_100)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
