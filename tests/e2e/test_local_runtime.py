"""The local runtime over HTTP: what a client sees of the gateway, keys onboarded with the CLI, restarts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jobsched import config
from tests.e2e.conftest import RuntimeProcess, call

pytestmark = pytest.mark.e2e


def test_health_answers_without_a_key(runtime: RuntimeProcess) -> None:
    reply = call(runtime.port, "GET", "/health")
    assert reply.status == 200
    assert reply.body["status"] == "ok"
    assert reply.body["region"] == "us-east-1"
    assert reply.body["version"]
    assert reply.headers["x-amzn-requestid"]


def test_api_without_a_key_is_unauthorized(runtime: RuntimeProcess) -> None:
    reply = call(runtime.port, "GET", "/api/v1/jobs")
    assert (reply.status, reply.body) == (401, {"message": "Unauthorized"})


def test_api_with_an_unknown_key_is_refused(runtime: RuntimeProcess) -> None:
    reply = call(runtime.port, "GET", "/api/v1/jobs", key="jsk_not_a_key_anyone_made_0123456789")
    # The authorizer finds no such key: API Gateway's 401, as for a missing key.
    assert (reply.status, reply.body) == (401, {"message": "Unauthorized"})


def test_unknown_path_is_missing_authentication_token(runtime: RuntimeProcess) -> None:
    reply = call(runtime.port, "GET", "/no/such/path")
    assert (reply.status, reply.body) == (403, {"message": "Missing Authentication Token"})


def test_a_key_made_with_the_cli_works_on_the_next_request(runtime: RuntimeProcess) -> None:
    _, value = runtime.create_key("e2e-fresh", "standard")
    assert call(runtime.port, "GET", "/api/v1/jobs", key=value).status == 200


def test_the_demo_key_works(runtime: RuntimeProcess) -> None:
    demo = [line for line in runtime.output().splitlines() if "Demo API key" in line][-1].split()[-1]
    assert call(runtime.port, "GET", "/api/v1/jobs", key=demo).status == 200


def test_basic_tier_is_throttled_and_premium_is_not(runtime: RuntimeProcess) -> None:
    _, basic = runtime.create_key("e2e-basic", "basic")
    _, premium = runtime.create_key("e2e-premium", "premium")
    basic_statuses = [call(runtime.port, "GET", "/api/v1/jobs", key=basic).status for _ in range(30)]
    premium_statuses = [call(runtime.port, "GET", "/api/v1/jobs", key=premium).status for _ in range(30)]
    assert 429 in basic_statuses
    assert basic_statuses[0] == 200
    assert 429 not in premium_statuses
    throttled = call(runtime.port, "GET", "/api/v1/jobs", key=basic)
    assert (throttled.status, throttled.body) == (429, {"message": "Too Many Requests"})
    assert throttled.headers["retry-after"] == "4"  # basic: 0.28 requests/s, a token every 3.6 s


def test_a_revoked_key_is_unauthorized_at_once(runtime: RuntimeProcess) -> None:
    key_id, value = runtime.create_key("e2e-revoked", "standard")
    assert call(runtime.port, "GET", "/api/v1/jobs", key=value).status == 200
    result = runtime.keys("revoke", key_id)
    assert result.returncode == 0, result.stderr
    reply = call(runtime.port, "GET", "/api/v1/jobs", key=value)
    assert (reply.status, reply.body) == (401, {"message": "Unauthorized"})


def test_cli_lists_keys_through_the_runtime(runtime: RuntimeProcess) -> None:
    runtime.create_key("e2e-listed", "basic", role="viewer")
    result = runtime.keys("list", "--tenant", "e2e-listed")
    assert result.returncode == 0, result.stderr
    (row,) = result.stdout.splitlines()[1:]
    assert row.split()[1:5] == ["e2e-listed", "viewer", "basic", "active"]


MARKER_ITEM = {"pk": {"S": "TENANT#e2e"}, "sk": {"S": "MARKER"}, "data": {"B": b"\x00\xff"}}


def jobs_table(runtime: RuntimeProcess) -> Any:
    """A DynamoDB client on the runtime's AWS endpoint (dummy credentials, as for the CLI)."""
    return runtime.aws_client("dynamodb", config.PRIMARY_REGION)


def test_keys_items_and_demo_key_survive_a_restart(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    first = RuntimeProcess(state_dir)
    demo = first.start()
    _, value = first.create_key("e2e-restart", "standard")
    jobs_table(first).put_item(TableName=config.JOBS_TABLE, Item=MARKER_ITEM)
    assert first.stop() == 0
    assert "runtime stopped; its state is in" in first.output()

    second = RuntimeProcess(state_dir)
    try:
        assert second.start() == demo
        assert call(second.port, "GET", "/api/v1/jobs", key=value).status == 200
        listed = second.keys("list", "--tenant", "e2e-restart")
        assert "e2e-restart" in listed.stdout
        key = {name: MARKER_ITEM[name] for name in ("pk", "sk")}
        assert jobs_table(second).get_item(TableName=config.JOBS_TABLE, Key=key)["Item"] == MARKER_ITEM
    finally:
        assert second.stop() == 0
