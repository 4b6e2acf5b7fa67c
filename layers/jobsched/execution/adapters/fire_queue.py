"""Fire messages onto the execution queue (run-now, retries, the executor's next attempts)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobsched.execution.fire import FireMessage

_BATCH = 10  # SendMessageBatch's limit
_BATCH_ATTEMPTS = 3


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

    def send_many(self, messages: list[FireMessage]) -> None:
        """Send now, 10 to a SendMessageBatch call; entries SQS did not take are sent again."""
        for start in range(0, len(messages), _BATCH):
            pending = {str(index): message for index, message in enumerate(messages[start : start + _BATCH])}
            for _ in range(_BATCH_ATTEMPTS):
                if not pending:
                    break
                entries = [
                    {"Id": key, "MessageBody": message.model_dump_json(exclude_none=True)}
                    for key, message in pending.items()
                ]
                response = self._client.send_message_batch(QueueUrl=self.url, Entries=entries)
                pending = {key: pending[key] for key in (f["Id"] for f in response.get("Failed", []))}
            if pending:
                raise RuntimeError(
                    f"SQS refused {len(pending)} message(s) of a batch {_BATCH_ATTEMPTS} times"
                )
