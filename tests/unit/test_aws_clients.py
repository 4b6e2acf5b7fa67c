"""Clients are made on first use, once, one at a time: a handler's import makes none."""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from jobsched.aws import clients
from jobsched.scheduling.settings import load_scheduling_settings
from jobsched.settings import load_settings


class FakeBoto3:
    """Stands in for boto3: records each client asked for, and whether another was being made meanwhile."""

    def __init__(self, overlap_probe: threading.Barrier | None = None) -> None:
        self.made: list[tuple[str, str | None]] = []
        self.overlapped = False
        self._probe = overlap_probe

    def client(self, service: str, region_name: str | None = None, **_: Any) -> Any:
        if self._probe is not None:
            try:
                self._probe.wait()  # passes only if another thread is making a client at the same time
                self.overlapped = True
            except threading.BrokenBarrierError:
                pass
        self.made.append((service, region_name))
        return FakeClient(service)


class FakeClient:
    def __init__(self, service: str) -> None:
        self.service = service

    def get_item(self, **_: Any) -> dict[str, Any]:
        return {"Item": {"service": self.service}}


@pytest.fixture
def fake_boto3(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBoto3]:
    fake = FakeBoto3()
    monkeypatch.setattr(clients, "boto3", fake)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    clients.client.cache_clear()
    yield fake
    clients.client.cache_clear()


def test_a_deferred_client_is_made_by_its_first_use_and_then_shared(fake_boto3: FakeBoto3) -> None:
    first, second = clients.deferred_client("dynamodb"), clients.deferred_client("dynamodb")
    assert fake_boto3.made == []

    assert first.get_item(TableName="t") == {"Item": {"service": "dynamodb"}}
    assert second.get_item(TableName="t") == {"Item": {"service": "dynamodb"}}
    assert fake_boto3.made == [("dynamodb", "eu-west-1")]


def test_a_deferred_client_for_another_region_is_its_own(fake_boto3: FakeBoto3) -> None:
    clients.deferred_client("dynamodb").get_item()
    clients.deferred_client("dynamodb", "us-east-1").get_item()
    assert fake_boto3.made == [("dynamodb", "eu-west-1"), ("dynamodb", "us-east-1")]


def test_clients_first_used_in_several_threads_are_made_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The executor's records run in worker threads; boto3's default session is not safe to make clients
    # from concurrently. Two threads whose makings overlapped would both pass the barrier.
    fake = FakeBoto3(overlap_probe=threading.Barrier(2, timeout=0.5))
    monkeypatch.setattr(clients, "boto3", fake)
    clients.client.cache_clear()
    credentials = {"AccessKeyId": "a", "SecretAccessKey": "s", "SessionToken": "t"}
    threads = [
        threading.Thread(target=lambda: clients.deferred_client("sqs", "eu-west-1").get_item()),
        threading.Thread(target=lambda: clients.assumed_client("sns", "eu-west-1", credentials)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    clients.client.cache_clear()

    assert sorted(fake.made) == [("sns", "eu-west-1"), ("sqs", "eu-west-1")]
    assert fake.overlapped is False


def test_importing_a_handler_makes_no_client(fake_boto3: FakeBoto3, monkeypatch: pytest.MonkeyPatch) -> None:
    queue = "arn:aws:sqs:eu-west-1:123456789012:jobsched-executions"
    monkeypatch.setenv("EXECUTION_QUEUE_ARN", queue)
    monkeypatch.setenv("SCHEDULER_DLQ_ARN", queue + "-dlq")
    monkeypatch.setenv("SCHEDULER_ROLE_ARN", "arn:aws:iam::123456789012:role/jobsched-scheduler")
    _forget_handlers()
    try:
        importlib.import_module("functions.schedule_sync.handler")
        importlib.import_module("functions.job_api.handler")
        assert fake_boto3.made == []
    finally:
        _forget_handlers()


def _forget_handlers() -> None:
    """Handlers read their settings at import: import them afresh, and leave no settings of this test."""
    load_settings.cache_clear()
    load_scheduling_settings.cache_clear()
    for name in [m for m in sys.modules if m == "functions" or m.startswith("functions.")]:
        del sys.modules[name]
