"""Where the execution archive lives: an S3 bucket per region on AWS, a folder in the local runtime.

Both hold the same keys (jobsched.execution.archive: executions/<tenant>/<job>/<day>.jsonl.gz), so an
archive copied from one to the other reads the same. Also the table side of an archive run: a (segmented)
scan of the executions table for the items to archive, and the delete the local runtime does in place of
DynamoDB's TTL (its executions table has none: jobsched_local.provision, `expires_locally`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from jobsched import config
from jobsched.aws.dynamodb import from_item, to_item
from jobsched.execution.archive import ArchiveStore
from jobsched.execution.read_pacing import ReadPacer
from jobsched.settings import Settings

# What DynamoDB answers when a read exceeds the table's capacity (or its account's request rate).
_THROTTLED = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
_SAFE_PART = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class S3ArchiveStore:
    """A region's archive bucket. A bucket that does not exist (yet) reads as an empty archive."""

    def __init__(self, client: Any, bucket: str | Callable[[], str]) -> None:
        self._client = client
        self._bucket_name = bucket

    @property
    def _bucket(self) -> str:
        if callable(self._bucket_name):
            self._bucket_name = self._bucket_name()
        return self._bucket_name

    def put(self, key: str, data: bytes) -> None:
        self._client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=data,
            ContentType="application/x-ndjson",
            ContentEncoding="gzip",
        )

    def get(self, key: str) -> bytes | None:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "NoSuchBucket"):
                return None
            raise
        body: bytes = response["Body"].read()
        return body


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class FolderArchiveStore:
    """The archive as files under a folder (the local runtime's state folder), key = relative path."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        # Keys are built from tenant and job ids; refuse anything that could leave the folder.
        if not key or any(not part or part in (".", "..") or set(part) - _SAFE_PART for part in parts):
            raise ValueError(f"not an archive key: {key!r}")
        return self._root.joinpath(*parts)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write aside, then rename: a reader never sees half an object.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, ValueError):
            return None


def archive_store(settings: Settings, region: str, s3_client: Any, sts_client: Any) -> ArchiveStore:
    """The archive of `region`'s history: the local folder when one is set, else that region's bucket
    (named by the account: SERVICE_ACCOUNT_ID, or asked of STS on first use)."""
    if settings.archive_dir is not None:
        return FolderArchiveStore(Path(settings.archive_dir))
    account = settings.service_account_id

    def bucket() -> str:
        return config.archive_bucket_name(account or str(sts_client.get_caller_identity()["Account"]), region)

    return S3ArchiveStore(s3_client, bucket)


def scan_executions(
    client: Any,
    table: str,
    *,
    segment: int = 0,
    total_segments: int = 1,
    expires_before: int | None = None,
    scheduled_before: str | None = None,
    pacer: ReadPacer | None = None,
) -> Iterator[dict[str, Any]]:
    """Execution items of one scan segment that expire before an epoch second or were scheduled before an
    ISO time (the two ways an archive run chooses them).

    With a pacer, the scan reads at its rate (each page's consumed capacity is spent from it) and a page
    refused for want of capacity is read again after the pacer's pause; without one, as fast as it can."""
    names = {"#entity": "entity"}
    values: dict[str, Any] = {":execution": "execution"}
    conditions = ["#entity = :execution"]
    if expires_before is not None:
        names["#expires"] = "expires_at"
        values[":expires"] = expires_before
        conditions.append("#expires < :expires")
    if scheduled_before is not None:
        names["#scheduled"] = "scheduled_at"
        values[":scheduled"] = scheduled_before
        conditions.append("#scheduled < :scheduled")
    request: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": to_item(values),
    }
    if total_segments > 1:
        request.update(Segment=segment, TotalSegments=total_segments)
    yield from _pages(client, request, pacer)


def _pages(client: Any, request: dict[str, Any], pacer: ReadPacer | None) -> Iterator[dict[str, Any]]:
    """The items of every page of a scan, page after page (paced when a pacer is given)."""
    if pacer is not None:
        request["ReturnConsumedCapacity"] = "TOTAL"
    while True:
        try:
            page = client.scan(**request)
        except ClientError as exc:
            if pacer is None or _code(exc) not in _THROTTLED:
                raise
            pacer.throttled()  # then the same page again
            continue
        if pacer is not None:
            pacer.consumed(float(page.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0)))
        for item in page.get("Items", []):
            yield from_item(item)
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def delete_executions(client: Any, table: str, items: list[dict[str, Any]]) -> None:
    """Remove archived items from the table (what DynamoDB's TTL does on AWS)."""
    for start in range(0, len(items), 25):
        requests = [
            {"DeleteRequest": {"Key": to_item({"pk": item["pk"], "sk": item["sk"]})}}
            for item in items[start : start + 25]
        ]
        pending: dict[str, Any] = {table: requests}
        while pending:
            response = client.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
