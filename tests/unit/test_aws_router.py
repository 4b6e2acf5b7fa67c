"""The AWS endpoint routes DynamoDB and Streams calls to DynamoDB Local, the rest to moto, as they came."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import Client

from jobsched_local.aws_router import AwsRouter, Upstream, is_dynamodb_request


@pytest.mark.parametrize(
    ("target", "to_dynamodb"),
    [
        ("DynamoDB_20120810.PutItem", True),
        ("DynamoDBStreams_20120810.GetRecords", True),
        ("AmazonSQS.SendMessage", False),
        ("AWSEvents.PutEvents", False),
        (None, False),
        ("", False),
    ],
)
def test_requests_are_routed_by_their_target(target: str | None, to_dynamodb: bool) -> None:
    assert is_dynamodb_request(target) is to_dynamodb


class Recorder:
    def __init__(self, name: str, status: int = 200) -> None:
        self.name = name
        self.status = status
        self.calls: list[tuple[str, str, dict[str, str], bytes]] = []

    def forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        self.calls.append((method, path, dict(headers), body))
        reply = [("Content-Type", "application/json"), ("Connection", "close"), ("x-upstream", self.name)]
        return self.status, reply, b'{"ok":true}'


def router_with(dynamodb: Any, moto: Any) -> AwsRouter:
    router = AwsRouter("http://127.0.0.1:1", "http://127.0.0.1:2")
    router._dynamodb, router._moto = dynamodb, moto
    return router


def test_a_dynamodb_call_is_relayed_whole_to_dynamodb_local() -> None:
    dynamodb, moto = Recorder("dynamodb"), Recorder("moto")
    client = Client(router_with(dynamodb, moto))
    response = client.post(
        "/",
        data=b'{"TableName":"t"}',
        headers={"X-Amz-Target": "DynamoDB_20120810.Scan", "Content-Type": "application/x-amz-json-1.0"},
    )
    assert response.status_code == 200
    assert response.headers["x-upstream"] == "dynamodb"
    assert "Connection" not in response.headers  # hop-by-hop headers stay on their own connection
    assert response.get_data() == b'{"ok":true}'
    ((method, path, headers, body),) = dynamodb.calls
    assert (method, path, body) == ("POST", "/", b'{"TableName":"t"}')
    assert headers["X-Amz-Target"] == "DynamoDB_20120810.Scan"
    assert moto.calls == []


def test_every_other_call_goes_to_moto_with_its_query_string() -> None:
    dynamodb, moto = Recorder("dynamodb"), Recorder("moto", status=400)
    response = Client(router_with(dynamodb, moto)).get("/restapis?limit=5")
    assert response.status_code == 400
    ((method, path, _, _),) = moto.calls
    assert (method, path) == ("GET", "/restapis?limit=5")
    assert dynamodb.calls == []


class Unreachable:
    host, port = "127.0.0.1", 9

    def forward(self, *args: Any) -> Any:
        raise ConnectionRefusedError("refused")


def test_an_unreachable_emulator_is_a_503_with_an_aws_style_body() -> None:
    response = Client(router_with(Unreachable(), Recorder("moto"))).post(
        "/", headers={"X-Amz-Target": "DynamoDB_20120810.GetItem"}
    )
    assert response.status_code == 503
    assert response.get_json()["__type"] == "ServiceUnavailable"


def test_an_upstream_keeps_one_connection_per_thread() -> None:
    upstream = Upstream("http://127.0.0.1:8000")
    first = upstream._connection(fresh=False)
    assert upstream._connection(fresh=False) is first
    assert upstream._connection(fresh=True) is not first
    assert (upstream.host, upstream.port) == ("127.0.0.1", 8000)


def test_a_transaction_is_answered_only_after_a_barrier_request_to_dynamodb_local() -> None:
    dynamodb, moto = Recorder("dynamodb"), Recorder("moto")
    client = Client(router_with(dynamodb, moto))
    target = {"X-Amz-Target": "DynamoDB_20120810.TransactWriteItems", "Authorization": "AWS4-HMAC-SHA256 x"}
    assert client.post("/", data=b'{"TransactItems":[]}', headers=target).status_code == 200
    (_, _, sent, _), (_, _, barrier, body) = dynamodb.calls
    assert sent["X-Amz-Target"] == "DynamoDB_20120810.TransactWriteItems"
    assert (barrier["X-Amz-Target"], barrier["Authorization"], body) == (
        "DynamoDB_20120810.ListTables",
        "AWS4-HMAC-SHA256 x",
        b'{"Limit":1}',
    )
    client.post("/", data=b"{}", headers={"X-Amz-Target": "DynamoDB_20120810.PutItem"})
    assert len(dynamodb.calls) == 3  # other writes are stored before DynamoDB Local answers them
