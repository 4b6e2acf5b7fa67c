"""The local runtime's archive pass, in place of the executions table's TTL (which it leaves off): what the
TTL would delete is archived into the state folder's archive, then removed from the table; nothing else is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from jobsched import config
from jobsched.aws.dynamodb import from_item
from jobsched.execution.adapters.execution_store import DynamoExecutionStore
from jobsched.execution.archive import decode, object_key
from jobsched.execution.fire import FireMessage
from jobsched.execution.models import TABLE_RETENTION, ExecutionStatus
from jobsched.execution.ports import Claim
from jobsched.jobs.models import new_job_id
from jobsched.keyscheme import JobKey
from jobsched_local.archive_commands import archive_dir, archive_expired
from tests.integration.test_executions_api import record

pytestmark = pytest.mark.usefixtures("aws")


def stamp(at: datetime) -> str:
    return at.strftime("%Y%m%dT%H%M%SZ")


def claim_only(job_id: str, execution_id: str, at: datetime) -> None:
    """An execution still running (claimed, never finished)."""
    store = DynamoExecutionStore(boto3.client("dynamodb"), config.EXECUTIONS_TABLE)
    message = FireMessage(
        tenant="acme", job_id=job_id, job_version=1, scheduled_time=at, execution_id=execution_id
    )
    assert store.claim(Claim(message.job, message, execution_id, 1, 1, at, at))


def table_ids() -> set[str]:
    dynamodb = boto3.client("dynamodb")
    items = dynamodb.scan(TableName=config.EXECUTIONS_TABLE)["Items"]
    return {str(from_item(item)["execution_id"]) for item in items if "execution_id" in item}


def test_the_pass_archives_and_removes_only_executions_whose_ttl_passed(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    expired = (now - TABLE_RETENTION - timedelta(days=1)).replace(hour=8, minute=0, second=0)
    job, other = new_job_id(), new_job_id()
    first, second = f"exe_{stamp(expired)}_a", f"exe_{stamp(expired + timedelta(minutes=5))}_b"
    record(job, first, ExecutionStatus.SUCCEEDED, expired)
    record(job, second, ExecutionStatus.FAILED, expired + timedelta(minutes=5))
    running = f"exe_{stamp(expired)}_r"
    claim_only(other, running, expired)
    kept = f"exe_{stamp(now - timedelta(days=29))}_k"
    record(job, kept, ExecutionStatus.SUCCEEDED, now - timedelta(days=29))

    assert archive_expired(boto3.client("dynamodb"), tmp_path, now) == (2, 1)

    assert table_ids() == {running, kept}
    day = expired.strftime("%Y-%m-%d")
    data = (archive_dir(tmp_path) / object_key(JobKey("acme", job), day)).read_bytes()
    assert [(r["execution_id"], r["status"]) for r in decode(data)] == [
        (second, "failed"),
        (first, "succeeded"),
    ]
    # The next pass finds nothing more to do and leaves the archive as it was.
    assert archive_expired(boto3.client("dynamodb"), tmp_path, now) == (0, 0)
    assert (archive_dir(tmp_path) / object_key(JobKey("acme", job), day)).read_bytes() == data
