"""Approximate depths of this region's SQS queues (the status page's execution queue and DLQs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class SqsQueueDepths:
    def __init__(self, client: Any, queue_names: Sequence[str]) -> None:
        self._client = client
        self._names = tuple(queue_names)
        self._urls: dict[str, str] = {}

    def depths(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for name in self._names:
            url = self._url(name)
            if url is None:
                continue
            attributes = self._client.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            found[name] = int(attributes.get("ApproximateNumberOfMessages", 0))
        return found

    def _url(self, name: str) -> str | None:
        if name not in self._urls:
            try:
                self._urls[name] = str(self._client.get_queue_url(QueueName=name)["QueueUrl"])
            except self._client.exceptions.QueueDoesNotExist:
                return None
        return self._urls[name]
