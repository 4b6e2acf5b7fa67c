"""The executor's SQS batches: all records at once, failures in batch order, an all-failed batch raises."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from jobsched.execution.adapters.fire_batches import BatchFailed, handle_fire_batch


def _event(*bodies: str) -> dict[str, Any]:
    return {"Records": [{"messageId": f"m-{body}", "body": body} for body in bodies]}


def test_records_run_at_once_so_one_slow_target_does_not_hold_up_the_others() -> None:
    # Each record waits for all three: only records running concurrently get past the barrier.
    barrier = threading.Barrier(3, timeout=10)
    seen: list[str] = []

    def run(body: str) -> None:
        barrier.wait()
        seen.append(body)

    assert handle_fire_batch(_event("a", "b", "c"), run) == {"batchItemFailures": []}
    assert sorted(seen) == ["a", "b", "c"]


def test_only_the_records_that_raised_come_back_in_the_order_of_the_batch() -> None:
    def run(body: str) -> str:
        if body in ("b", "d"):
            raise ConnectionError(f"{body}: DynamoDB unreachable")
        return body

    answer = handle_fire_batch(_event("a", "b", "c", "d"), run)

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-b"}, {"itemIdentifier": "m-d"}]}


def test_a_batch_whose_every_record_raised_fails_the_invocation() -> None:
    def run(body: str) -> None:
        raise ConnectionError(body)

    with pytest.raises(BatchFailed, match="all 2 records"):
        handle_fire_batch(_event("a", "b"), run)


def test_an_empty_event_is_an_empty_answer() -> None:
    assert handle_fire_batch({"Records": []}, lambda body: None) == {"batchItemFailures": []}
    assert handle_fire_batch({}, lambda body: None) == {"batchItemFailures": []}
