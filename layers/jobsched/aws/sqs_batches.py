"""SQS's partial batch response, which the functions fed by a queue answer (ReportBatchItemFailures)."""

from __future__ import annotations

from typing import TypedDict


class ItemFailure(TypedDict):
    itemIdentifier: str


class BatchResponse(TypedDict):
    batchItemFailures: list[ItemFailure]
