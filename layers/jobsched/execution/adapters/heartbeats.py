"""Each region's latest heartbeat, an item in the jobs table.

Item: pk = HEARTBEAT#<region>, sk = HEARTBEAT; scheduled_at and arrived_at as ISO 8601 UTC strings, which
order as the times do. A partition prefix of its own: the executor's role may write these items and no
other (not the drill markers, REGION#<region>, which take a region out of DNS). The global table replicates
it, so any region (and `jobsched regions status`) reads every region's heartbeat.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from jobsched.aws.dynamodb import from_item, to_item
from jobsched.execution.heartbeat import Heartbeat
from jobsched.keyscheme import heartbeat_key


def heartbeat_item_key(region: str) -> dict[str, Any]:
    return to_item(heartbeat_key(region))


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


class DynamoHeartbeats:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def record(self, heartbeat: Heartbeat) -> None:
        # A late redelivery of an older heartbeat must not move the region's latest back.
        try:
            self._client.update_item(
                TableName=self._table,
                Key=heartbeat_item_key(heartbeat.region),
                UpdateExpression=(
                    "SET scheduled_at = :scheduled, arrived_at = :arrived, heartbeat_region = :r"
                ),
                ConditionExpression="attribute_not_exists(scheduled_at) OR scheduled_at <= :scheduled",
                ExpressionAttributeValues=to_item(
                    {
                        ":scheduled": _iso(heartbeat.scheduled_at),
                        ":arrived": _iso(heartbeat.arrived_at),
                        ":r": heartbeat.region,
                    }
                ),
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return

    def latest(self, regions: Iterable[str]) -> dict[str, Heartbeat | None]:
        found: dict[str, Heartbeat | None] = {}
        for region in regions:
            item = self._client.get_item(TableName=self._table, Key=heartbeat_item_key(region)).get("Item")
            plain = from_item(item) if item else {}
            found[region] = (
                Heartbeat(region, _time(plain["scheduled_at"]), _time(plain["arrived_at"]))
                if plain.get("scheduled_at") and plain.get("arrived_at")
                else None
            )
        return found
