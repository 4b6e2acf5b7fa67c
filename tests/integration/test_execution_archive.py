"""History older than the table keeps, on moto S3: the archiver plans a run (one queued message per scan
segment), scans each segment at its read rate and writes it, the Executions API reads it
back through the archive (one execution by id, and pages whose token crosses the table/archive seam)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from jobsched import config
from jobsched.execution.adapters.archive_store import delete_executions, scan_executions
from jobsched.execution.archive import ARCHIVE_SEGMENTS, expiring_before, object_key
from jobsched.execution.models import TABLE_RETENTION, ExecutionStatus
from jobsched.keyscheme import JobKey
from tests.integration.test_executions_api import Call, call, create, record  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("aws")
ACCOUNT = "123456789012"  # moto's
BUCKET = config.archive_bucket_name(ACCOUNT, "us-east-1")


def stamp(at: datetime) -> str:
    return at.strftime("%Y%m%dT%H%M%SZ")


def run_archiver(segments: int = 2) -> list[dict[str, Any]]:
    from functions.archiver import handler as archiver

    return [archiver.handler({"segment": i, "total_segments": segments}, None) for i in range(segments)]


def expiring_day() -> datetime:
    """08:00 UTC of a day whose executions the table's TTL removes in two to three days: what an archive run
    copies, the days before the TTL deletes it."""
    day = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
    return day - TABLE_RETENTION + timedelta(days=3)


def expire_archived() -> None:
    """What the TTL does after the archiver: the expiring executions leave the table."""
    dynamodb = boto3.client("dynamodb")
    horizon = expiring_before(datetime.now(UTC))
    items = list(scan_executions(dynamodb, config.EXECUTIONS_TABLE, expires_before=horizon))
    delete_executions(dynamodb, config.EXECUTIONS_TABLE, items)


@pytest.fixture
def history(call: Call) -> tuple[str, list[str], list[str]]:  # noqa: F811
    """A job with three executions about to expire (archived, then expired) and two recent (in the table)."""
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    job_id = create(call)["job_id"]
    old_day = expiring_day()
    old = []
    for minute, status in (
        (0, ExecutionStatus.SUCCEEDED),
        (5, ExecutionStatus.FAILED),
        (10, ExecutionStatus.SUCCEEDED),
    ):
        at = old_day + timedelta(minutes=minute)
        old.append(f"exe_{stamp(at)}_x")
        record(job_id, old[-1], status, at)
    results = run_archiver()
    assert sum(result["executions"] for result in results) == 3
    expire_archived()
    recent = []
    for minute in (0, 5):
        at = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1, minutes=minute)
        recent.append(f"exe_{stamp(at)}_x")
        record(job_id, recent[-1], ExecutionStatus.SUCCEEDED, at)
    return job_id, recent, list(reversed(old))


def test_the_archiver_writes_one_compressed_object_per_job_and_day(history: Any) -> None:
    job_id, _, old = history
    day = f"{old[0][4:8]}-{old[0][8:10]}-{old[0][10:12]}"
    key = object_key(JobKey("acme", job_id), day)
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    lines = [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]
    assert [line["execution_id"] for line in lines] == old  # newest first
    assert all("lease_until" not in line and "tenant" not in line for line in lines)
    # A second run (the next day's) merges: still one copy of each.
    run_archiver(segments=1)
    again = boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert len(gzip.decompress(again).decode().splitlines()) == 3


def test_an_archived_execution_is_read_by_id_and_flagged(call: Call, history: Any) -> None:  # noqa: F811
    job_id, recent, old = history
    status, one = call("GET", f"/api/v1/executions/{job_id}/{old[1]}")
    assert status == 200
    assert one["archived"] is True and one["status"] == "failed" and one["status_code"] == 500
    status, fresh = call("GET", f"/api/v1/executions/{job_id}/{recent[0]}")
    assert status == 200 and fresh["archived"] is False
    status, missing = call("GET", f"/api/v1/executions/{job_id}/{old[1][:-1]}y")
    assert status == 404, missing


def test_pages_continue_from_the_table_into_the_archive(call: Call, history: Any) -> None:  # noqa: F811
    job_id, recent, old = history
    seen: list[tuple[str, bool]] = []
    query: dict[str, str] = {"limit": "2"}
    while True:
        status, page = call("GET", f"/api/v1/executions/{job_id}", query=query)
        assert status == 200
        seen += [(item["execution_id"], item["archived"]) for item in page["items"]]
        if page["next_token"] is None:
            break
        query = {"limit": "2", "next_token": page["next_token"]}
    assert seen == [(i, False) for i in recent] + [(i, True) for i in old]
    _, failed = call("GET", f"/api/v1/executions/{job_id}", query={"status": "failed"})
    assert [item["execution_id"] for item in failed["items"]] == [old[1]]


def test_another_tenant_cannot_read_the_archive(call: Call, history: Any) -> None:  # noqa: F811
    job_id, _, old = history
    status, _ = call("GET", f"/api/v1/executions/{job_id}/{old[0]}", tenant="globex")
    assert status == 404


def test_the_archiver_refuses_a_segment_it_cannot_scan() -> None:
    from functions.archiver import handler as archiver

    with pytest.raises(ValueError, match="bad archive segment"):
        archiver.handler({"segment": 3, "total_segments": 2}, None)


def _queue_record(body: str) -> dict[str, Any]:
    return {"Records": [{"messageId": "m1", "body": body, "eventSource": "aws:sqs"}]}


def test_a_run_is_planned_as_one_queued_message_per_segment() -> None:
    from functions.archiver import handler as archiver

    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=config.ARCHIVE_QUEUE)["QueueUrl"]
    assert archiver.handler({"plan": True}, None) == {"planned": ARCHIVE_SEGMENTS}
    bodies: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        bodies += [json.loads(m["Body"]) for m in messages]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
    assert sorted(b["segment"] for b in bodies) == list(range(ARCHIVE_SEGMENTS))
    assert {b["total_segments"] for b in bodies} == {ARCHIVE_SEGMENTS}


def test_each_queued_segment_is_scanned_paced_and_archived(call: Call) -> None:  # noqa: F811
    """The queue's segments together archive every expiring execution once; each reports what it read."""
    from functions.archiver import handler as archiver

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    job_id = create(call)["job_id"]
    old_day = expiring_day()
    ids = []
    for minute in range(6):
        at = old_day + timedelta(minutes=minute)
        ids.append(f"exe_{stamp(at)}_x")
        record(job_id, ids[-1], ExecutionStatus.SUCCEEDED, at)
    results = [
        archiver.handler(_queue_record(json.dumps({"segment": i, "total_segments": 3})), None)
        for i in range(3)
    ]
    assert sum(r["executions"] for r in results) == 6
    assert [r["segment"] for r in results] == [0, 1, 2]
    # every page's consumed capacity is spent from the segment's read rate (ReturnConsumedCapacity=TOTAL)
    assert sum(r["read_units"] for r in results) > 0
    day = f"{ids[0][4:8]}-{ids[0][8:10]}-{ids[0][10:12]}"
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=object_key(JobKey("acme", job_id), day))["Body"]
    assert len(gzip.decompress(body.read()).decode().splitlines()) == 6
    # A redelivered segment merges into the same objects: nothing is archived twice.
    archiver.handler(_queue_record(json.dumps({"segment": 0, "total_segments": 1})), None)
    again = boto3.client("s3").get_object(Bucket=BUCKET, Key=object_key(JobKey("acme", job_id), day))["Body"]
    assert len(gzip.decompress(again.read()).decode().splitlines()) == 6


@pytest.mark.parametrize(
    "event",
    [
        {"plan": "yes"},
        {"plan": True, "total_segments": 5},
        {"Records": []},
        {"Records": [{"body": "{}"}, {"body": "{}"}]},
        _queue_record("not json"),
        _queue_record(json.dumps({"segment": 5, "total_segments": 5})),
        _queue_record(json.dumps({"segment": 0, "total_segments": 2, "table": "jobsched-jobs"})),
    ],
)
def test_the_archiver_refuses_an_event_it_did_not_plan(event: dict[str, Any]) -> None:
    from functions.archiver import handler as archiver

    with pytest.raises(ValueError, match="bad archive"):
        archiver.handler(event, None)
