"""What each API operation costs in its handler, in-process, as a ratio to its raw DynamoDB call.

Starts `jobsched local` (for its store: the tables behind its AWS endpoint), imports the Job API and
Schedule API handlers into this process with a Lambda's environment pointed at that endpoint, and times
each operation's handler (REST proxy event in, proxy response out, authorizer context as the gateway
passes it) against the one DynamoDB call the operation makes, sent raw with boto3 to the same endpoint:

    get     GetItem                 list    Query (20 items)       create  TransactWriteItems (2 items)
    update  UpdateItem              status  Query of the tenant's jobs (every page)

    .venv/bin/python bench/handler_cost.py [--iterations 200] [--jobs 20] [--profile]

A ratio near 1 means the handler adds little to its DynamoDB call; the rest is the service's own code
(event parsing, validation, models, serialization, telemetry). --profile prints the top functions of
each operation by own time (cProfile), which is what bounds a request's CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib
import io
import json
import os
import pstats
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench_support import REPO, Runtime, job_body, local_runtime, make_key

REGION = "us-east-1"


class InProcessApi:
    """The API functions in this process, called with the events the gateway stand-in builds."""

    def __init__(self, runtime: Runtime, tenant: str) -> None:
        from jobsched import config
        from jobsched_local.aws_emulator import FAKE_CREDENTIALS
        from jobsched_local.lambda_functions import function_env

        os.environ.update(function_env(REGION, config.REGIONS))
        os.environ.update(FAKE_CREDENTIALS)
        os.environ["AWS_ENDPOINT_URL"] = runtime.aws_endpoint
        os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # one log line per call would be measured too
        sys.path.insert(0, str(REPO))
        self.runtime = runtime
        self.tenant = tenant
        self.key = make_key(runtime, tenant)
        self.handlers = {
            name: importlib.import_module(f"functions.{name}.handler").handler
            for name in ("authorizer", "job_api", "schedule_api")
        }
        self._context = self._authorize()

    def _authorize(self) -> dict[str, Any]:
        from jobsched_local.authorizer_gate import evaluate
        from jobsched_local.lambda_context import make_context
        from jobsched_local.proxy_event import authorizer_event

        request, match = self._request("GET", "/api/v1/jobs")
        event = authorizer_event(request, match, self.api)
        with contextlib.redirect_stdout(io.StringIO()):
            answer = self.handlers["authorizer"](event, make_context("authorizer", REGION))
        return evaluate(answer, event["methodArn"]).context

    @property
    def api(self) -> Any:
        from jobsched_local.lambda_context import LOCAL_ACCOUNT_ID as ACCOUNT_ID
        from jobsched_local.proxy_event import ApiStage

        return ApiStage("benchapi", "prod", REGION, ACCOUNT_ID)

    def _request(self, method: str, path: str, body: Any = None) -> tuple[Any, Any]:
        import json
        from urllib.parse import parse_qsl, urlsplit

        from jobsched_local.proxy_event import HttpRequest
        from jobsched_local.routes import match_route

        parts = urlsplit(path)
        headers = [("x-api-key", self.key), ("Host", "127.0.0.1")]
        if body is not None:
            headers.append(("Content-Type", "application/json"))
        request = HttpRequest(
            method=method,
            path=parts.path,
            headers=headers,
            query=parse_qsl(parts.query),
            body=json.dumps(body).encode() if body is not None else b"",
            source_ip="127.0.0.1",
            request_id=str(uuid.uuid4()),
        )
        match = match_route(method, parts.path)
        assert match is not None, path
        return request, match

    def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        from jobsched_local.lambda_context import make_context
        from jobsched_local.proxy_event import ApiKeyIdentity, proxy_event

        request, match = self._request(method, path, body)
        identity = ApiKeyIdentity(value=self.key, key_id=str(self._context.get("key_id", "key")))
        event = proxy_event(request, match, self.api, identity, self._context)
        function = match.route.function
        # The metrics' EMF lines go to stdout, as on Lambda; here they would bury the figures.
        with contextlib.redirect_stdout(io.StringIO()):
            answer: dict[str, Any] = self.handlers[function](event, make_context(function, REGION))
        return answer


class RawStore:
    """The same operations as one raw boto3 call each, on the same table and endpoint."""

    def __init__(self, tenant: str) -> None:
        import boto3

        from jobsched import config, keyscheme

        self.client = boto3.client("dynamodb", region_name=REGION)
        self.table = config.JOBS_TABLE
        self.pk = {"S": keyscheme.tenant_pk(tenant)}
        self.job_sk = keyscheme.job_sk
        self.job_prefix = {"S": keyscheme.JOB_PREFIX}

    def get(self, job_id: str) -> None:
        self.client.get_item(TableName=self.table, Key={"pk": self.pk, "sk": {"S": self.job_sk(job_id)}})

    def list(self) -> None:
        self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": self.pk, ":prefix": self.job_prefix},
            Limit=20,
        )

    def tenant_jobs(self) -> None:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": self.pk, ":prefix": self.job_prefix},
        }
        while True:
            page = self.client.query(**request)
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def create(self, item: dict[str, Any]) -> None:
        sk = {"S": f"RAW#{uuid.uuid4()}"}
        self.client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self.table, "Item": {**item, "pk": self.pk, "sk": sk}}},
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": self.pk, "sk": {"S": "RAW#counter"}},
                        "UpdateExpression": "ADD raw_count :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )

    def update(self, job_id: str) -> None:
        self.client.update_item(
            TableName=self.table,
            Key={"pk": self.pk, "sk": {"S": self.job_sk(job_id)}},
            UpdateExpression="SET description = :d, #v = #v + :one",
            ExpressionAttributeNames={"#v": "version"},
            ExpressionAttributeValues={":d": {"S": "raw"}, ":one": {"N": "1"}},
        )

    def job_item(self, job_id: str) -> dict[str, Any]:
        response = self.client.get_item(
            TableName=self.table, Key={"pk": self.pk, "sk": {"S": self.job_sk(job_id)}}
        )
        item: dict[str, Any] = response["Item"]
        return item


Operation = tuple[str, Callable[[int], object], Callable[[int], object]]


def operations(api: InProcessApi, raw: RawStore, job_ids: list[str]) -> list[Operation]:
    sample_item = raw.job_item(job_ids[0])

    def ok(answer: dict[str, Any], status: int) -> None:
        if answer["statusCode"] != status:
            raise SystemExit(f"handler answered {answer['statusCode']}: {answer.get('body')}")

    return [
        (
            "get",
            lambda i: ok(api.call("GET", f"/api/v1/jobs/{job_ids[i % len(job_ids)]}"), 200),
            lambda i: raw.get(job_ids[i % len(job_ids)]),
        ),
        ("list", lambda i: ok(api.call("GET", "/api/v1/jobs?limit=20"), 200), lambda i: raw.list()),
        (
            "create",
            lambda i: ok(api.call("POST", "/api/v1/jobs", job_body(i)), 201),
            lambda i: raw.create(sample_item),
        ),
        (
            "update",
            lambda i: ok(api.call("PUT", f"/api/v1/jobs/{job_ids[i % len(job_ids)]}", job_body(i)), 200),
            lambda i: raw.update(job_ids[i % len(job_ids)]),
        ),
        (
            "status",
            lambda i: ok(api.call("GET", "/api/v1/schedule/status"), 200),
            lambda i: raw.tenant_jobs(),
        ),
    ]


def time_one(action: Callable[[int], object], i: int) -> float:
    started = time.perf_counter()
    action(i)
    return (time.perf_counter() - started) * 1000


def timed(action: Callable[[int], object], iterations: int) -> list[float]:
    return [time_one(action, i) for i in range(iterations)]


@contextmanager
def in_process_api(jobs: int) -> Iterator[tuple[InProcessApi, RawStore, list[str]]]:
    with local_runtime() as runtime:
        tenant = "cost"
        api = InProcessApi(runtime, tenant)
        raw = RawStore(tenant)
        job_ids = []
        for n in range(jobs):
            answer = api.call("POST", "/api/v1/jobs", job_body(n))
            job_ids.append(json.loads(answer["body"])["job_id"])
        yield api, raw, job_ids


def measure(iterations: int, jobs: int) -> None:
    with in_process_api(jobs) as (api, raw, job_ids):
        header = f"{'operation':<8} {'handler ms':>11} {'raw call ms':>12} {'ratio':>6}"
        print(f"{header}   (medians of {iterations} calls each, handler and raw call alternating)")
        for name, handler_op, raw_op in operations(api, raw, job_ids):
            timed(handler_op, 5)  # warm: first-call imports and connections
            timed(raw_op, 5)
            handler_samples: list[float] = []
            raw_samples: list[float] = []
            for i in range(iterations):  # alternating, so both see the same machine load
                handler_samples.append(time_one(handler_op, i))
                raw_samples.append(time_one(raw_op, i))
            handler_ms, raw_ms = statistics.median(handler_samples), statistics.median(raw_samples)
            print(f"{name:<8} {handler_ms:11.2f} {raw_ms:12.2f} {handler_ms / raw_ms:6.1f}")


def profile_operations(iterations: int = 50, jobs: int = 20, top: int = 12) -> None:
    """Per operation, the functions that take the most own time (cProfile) over `iterations` calls."""
    with in_process_api(jobs) as (api, raw, job_ids):
        for name, handler_op, _ in operations(api, raw, job_ids):
            timed(handler_op, 5)
            profiler = cProfile.Profile()
            profiler.enable()
            timed(handler_op, iterations)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(top)
            total_ms = stats.total_tt * 1000 / iterations  # type: ignore[attr-defined]
            print(
                f"\n=== {name}: {total_ms:.2f} ms CPU+wait per call under the profiler; top {top} by own time"
            )
            print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=200, help="calls per operation")
    parser.add_argument("--jobs", type=int, default=20, help="jobs in the tenant (a list page is 20)")
    parser.add_argument("--profile", action="store_true", help="print each operation's top functions too")
    args = parser.parse_args()
    measure(args.iterations, args.jobs)
    if args.profile:
        profile_operations(jobs=args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
