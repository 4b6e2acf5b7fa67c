"""Deep health's view of AWS: the region's drill marker in the jobs table, and the execution queue.

Clients for health checks get tight timeouts and no retries: a dependency that does not answer within a
second is what the check must report, and Route 53 waits only two seconds for the whole answer.

Drill marker item: pk = REGION#<region>, sk = HEALTH_DRILL. It is keyed by region, so the global table
replicates it everywhere and only that region's deep health reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

from jobsched import config, keyscheme
from jobsched.aws.dynamodb import from_item, to_item
from jobsched.health.deep import DependencyFailed, DrillMarker

HEALTH_CLIENT_CONFIG = Config(
    connect_timeout=config.DEEP_HEALTH_TIMEOUT_SECONDS,
    read_timeout=config.DEEP_HEALTH_TIMEOUT_SECONDS,
    retries={"total_max_attempts": 1, "mode": "standard"},
)
Result = TypeVar("Result")


def health_client(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region, config=HEALTH_CLIENT_CONFIG)


def drill_key(region: str) -> dict[str, Any]:
    return to_item(keyscheme.drill_key(region))


def answered(what: str, call: Callable[[], Result]) -> Result:
    """Run one AWS call; a failure becomes DependencyFailed naming `what` and the error code only."""
    try:
        return call()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise DependencyFailed(f"{what}: {code}") from exc
    except (ConnectTimeoutError, ReadTimeoutError) as exc:
        raise DependencyFailed(f"{what}: timed out") from exc
    except BotoCoreError as exc:
        raise DependencyFailed(f"{what}: {type(exc).__name__}") from exc


class DynamoDrillMarkers:
    """Drill markers in the jobs table: read by deep health, written by `jobsched regions fail|restore`."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def get(self, region: str) -> DrillMarker | None:
        found = answered(
            f"table {self._table}",
            lambda: self._client.get_item(TableName=self._table, Key=drill_key(region), ConsistentRead=True),
        )
        item = found.get("Item")
        if not item:
            return None
        plain = from_item(item)
        return DrillMarker(
            region=region, marked_at=str(plain.get("marked_at", "")), note=str(plain.get("note", ""))
        )

    def put(self, marker: DrillMarker) -> None:
        item = {**drill_key(marker.region)} | to_item(
            {"drill_region": marker.region, "marked_at": marker.marked_at, "note": marker.note or None}
        )
        self._client.put_item(TableName=self._table, Item=item)

    def delete(self, region: str) -> bool:
        """Remove a region's marker; whether there was one."""
        removed = self._client.delete_item(
            TableName=self._table, Key=drill_key(region), ReturnValues="ALL_OLD"
        )
        return bool(removed.get("Attributes"))

    def markers(self, regions: Iterable[str]) -> dict[str, DrillMarker | None]:
        return {region: self.get(region) for region in regions}


class SqsQueueProbe:
    """The execution queue answers GetQueueAttributes (its URL is given, or looked up once by name)."""

    def __init__(self, client: Any, queue_name: str, queue_url: str | None = None) -> None:
        self._client = client
        self._queue_name = queue_name
        self._url = queue_url

    def check(self) -> None:
        what = f"queue {self._queue_name}"
        if self._url is None:
            found = answered(what, lambda: self._client.get_queue_url(QueueName=self._queue_name))
            self._url = str(found["QueueUrl"])
        url = self._url
        answered(
            what,
            lambda: self._client.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            ),
        )
