"""GET /health/deep on moto: 200 when table and queue answer, 503 naming what does not, cached verdicts."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from functions.deep_health import handler as deep_health
from jobsched import config
from jobsched.health.adapters.checks import HEALTH_CLIENT_CONFIG, DynamoDrillMarkers, SqsQueueProbe
from jobsched.health.deep import DeepHealth, DependencyFailed, DrillMarker
from jobsched.settings import SettingsError
from jobsched_cli.main import main
from jobsched_cli.region_commands import mark_unhealthy, restore, status
from jobsched_local.scheduling_provision import ensure_queues
from tests.support.apigw import headers_of, rest_event

pytestmark = pytest.mark.usefixtures("aws")
REGION = "us-east-1"


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """A fresh module-level cache for each test, on a clock the test moves."""
    fake = Clock()
    monkeypatch.setattr(deep_health, "HEALTH", DeepHealth(deep_health.load_dependencies, clock=fake))
    yield fake


@pytest.fixture
def queue_ready(aws: None) -> None:
    ensure_queues(boto3.client("sqs", region_name=REGION))


def get_deep_health() -> tuple[int, dict[str, str], dict[str, Any]]:
    event = rest_event("GET", config.DEEP_HEALTH_PATH)
    event["requestContext"].pop("authorizer")  # no key, no authorizer on this route
    response = deep_health.handler(event, None)
    return response["statusCode"], headers_of(response), json.loads(response["body"])


@pytest.mark.usefixtures("queue_ready")
def test_healthy_region_answers_200_with_each_check(clock: Clock) -> None:
    status_code, headers, document = get_deep_health()

    assert status_code == 200
    assert headers["cache-control"] == "no-store"
    assert document["status"] == "ok"
    assert document["region"] == REGION
    assert {name: check["ok"] for name, check in document["checks"].items()} == {
        "settings": True,
        "table": True,
        "queue": True,
        "drill": True,
    }
    assert document["failed"] == []


@pytest.mark.usefixtures("queue_ready")
def test_missing_table_is_a_503_naming_the_table(clock: Clock) -> None:
    boto3.client("dynamodb", region_name=REGION).delete_table(TableName=config.JOBS_TABLE)

    status_code, _, document = get_deep_health()

    assert status_code == 503
    assert document["status"] == "unhealthy"
    assert document["failed"] == ["table"]
    assert document["checks"]["table"]["reason"] == f"table {config.JOBS_TABLE}: ResourceNotFoundException"


def test_missing_queue_is_a_503_naming_the_queue(clock: Clock) -> None:
    status_code, _, document = get_deep_health()

    assert status_code == 503
    assert document["failed"] == ["queue"]
    assert document["checks"]["queue"]["reason"].startswith(f"queue {config.EXECUTION_QUEUE}: ")


@pytest.mark.usefixtures("queue_ready")
def test_a_queue_url_from_the_environment_is_checked_directly() -> None:
    sqs = boto3.client("sqs", region_name=REGION, config=HEALTH_CLIENT_CONFIG)
    url = sqs.get_queue_url(QueueName=config.EXECUTION_QUEUE)["QueueUrl"]
    SqsQueueProbe(sqs, config.EXECUTION_QUEUE, url).check()

    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(Exception, match="queue jobsched-executions: "):
        SqsQueueProbe(sqs, config.EXECUTION_QUEUE, url).check()


@pytest.mark.usefixtures("queue_ready")
def test_the_verdict_is_cached_until_the_clock_moves_on(clock: Clock) -> None:
    assert get_deep_health()[0] == 200
    boto3.client("dynamodb", region_name=REGION).delete_table(TableName=config.JOBS_TABLE)

    clock.now += config.DEEP_HEALTH_CACHE_SECONDS - 0.5
    cached_status, _, cached = get_deep_health()
    clock.now += 0.5
    fresh_status, _, fresh = get_deep_health()

    assert (cached_status, cached["cached"]) == (200, True)
    assert (fresh_status, fresh["cached"], fresh["failed"]) == (503, False, ["table"])


@pytest.mark.usefixtures("queue_ready")
def test_an_operator_drill_fails_the_region_until_restored(
    clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    markers = DynamoDrillMarkers(boto3.client("dynamodb", region_name=REGION), config.JOBS_TABLE)
    mark_unhealthy(markers, REGION, "game day", sys.stdout)
    marked_status, _, marked = get_deep_health()

    status(markers, [REGION, "eu-west-1"], sys.stdout)
    assert restore(markers, REGION, sys.stdout) is True
    assert restore(markers, REGION, sys.stdout) is False
    clock.now += config.DEEP_HEALTH_CACHE_SECONDS
    restored_status, _, restored = get_deep_health()

    assert marked_status == 503
    assert marked["failed"] == ["drill"]
    assert marked["checks"]["drill"]["reason"].startswith("region marked unhealthy by an operator drill at ")
    assert (restored_status, restored["failed"]) == (200, [])
    printed = capsys.readouterr().out
    assert f"{REGION}: marked unhealthy since " in printed and "(game day)" in printed
    assert "eu-west-1: not marked" in printed
    assert "was not marked unhealthy; nothing to restore" in printed


def test_a_marker_only_concerns_its_own_region() -> None:
    markers = DynamoDrillMarkers(boto3.client("dynamodb", region_name=REGION), config.JOBS_TABLE)
    markers.put(DrillMarker("eu-west-1", "2027-01-01T00:00:00+00:00"))

    assert markers.get(REGION) is None
    assert markers.get("eu-west-1") == DrillMarker("eu-west-1", "2027-01-01T00:00:00+00:00", "")


def test_a_dependency_that_never_answers_is_reported_as_timed_out() -> None:
    # A listener that accepts connections and never replies: the check gives up after its read timeout,
    # once (no retries), and says so instead of hanging the health check.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        host, port = silent.getsockname()
        sqs = boto3.client(
            "sqs", region_name=REGION, endpoint_url=f"http://{host}:{port}", config=HEALTH_CLIENT_CONFIG
        )
        probe = SqsQueueProbe(sqs, config.EXECUTION_QUEUE, f"http://{host}:{port}/123456789012/q")

        with pytest.raises(DependencyFailed) as failed:
            probe.check()

    assert failed.value.reason == f"queue {config.EXECUTION_QUEUE}: timed out"


@pytest.mark.usefixtures("queue_ready")
def test_the_regions_command_marks_and_restores_through_the_cli(
    clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["regions", "fail", "--region", REGION, "--note", "drill"]) == 0
    failed_status, _, failed = get_deep_health()
    assert main(["regions", "status"]) == 0
    assert main(["regions", "restore", "--region", REGION]) == 0
    clock.now += config.DEEP_HEALTH_CACHE_SECONDS

    assert (failed_status, failed["failed"]) == (503, ["drill"])
    assert get_deep_health()[0] == 200
    printed = capsys.readouterr().out
    assert f"jobsched jobs move --from {REGION} --to <another region>" in printed
    assert f"{REGION}: marked unhealthy since " in printed


def test_the_regions_command_reports_a_missing_table(capsys: pytest.CaptureFixture[str]) -> None:
    # A region where the data stack is not deployed has no table (DynamoDB Local has one for all regions).
    dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
    if config.JOBS_TABLE in dynamodb.list_tables()["TableNames"]:
        dynamodb.delete_table(TableName=config.JOBS_TABLE)
    assert main(["regions", "fail", "--region", REGION, "--table-region", "eu-west-1"]) == 1
    assert "AWS refused PutItem: ResourceNotFoundException" in capsys.readouterr().err


def test_an_endpoint_that_refuses_connections_is_named() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        host, port = closed.getsockname()
    sqs = boto3.client(
        "sqs", region_name=REGION, endpoint_url=f"http://{host}:{port}", config=HEALTH_CLIENT_CONFIG
    )

    with pytest.raises(DependencyFailed) as failed:
        SqsQueueProbe(sqs, config.EXECUTION_QUEUE).check()

    assert failed.value.reason == f"queue {config.EXECUTION_QUEUE}: EndpointConnectionError"


def test_settings_that_do_not_load_are_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise SettingsError("invalid function configuration: region: String should have at least 1 character")

    monkeypatch.setattr(deep_health, "load_settings", broken)
    monkeypatch.setattr(deep_health, "HEALTH", DeepHealth(deep_health.load_dependencies))

    status_code, _, document = get_deep_health()

    assert (status_code, document["failed"], document["region"]) == (503, ["settings"], None)
    assert document["checks"]["settings"]["reason"].startswith("invalid function configuration: region")
