"""Fire messages onto the execution queue (run-now, retries, the executor's next attempts)."""

from __future__ import annotations

from typing import Any

from jobsched.execution.fire import FireMessage


class SqsFireQueue:
    def __init__(self, client: Any, queue_name: str) -> None:
        self._client = client
        self._queue_name = queue_name
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = str(self._client.get_queue_url(QueueName=self._queue_name)["QueueUrl"])
        return self._url

    def send(self, message: FireMessage, delay_seconds: int) -> None:
        self._client.send_message(
            QueueUrl=self.url,
            MessageBody=message.model_dump_json(exclude_none=True),
            DelaySeconds=delay_seconds,
        )
