"""A worker's DynamoDB calls go straight to DynamoDB Local, and a write returns only once confirmed stored.

A fake DynamoDB endpoint on loopback records each request with the client connection it came on, so the
tests see the barrier (a ListTables after each write, on the write's own connection) and what happens when
it cannot be had. The real DynamoDB Local case (a kill -9 right after the answer) is in
test_dynamodb_local.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.config import Config

from jobsched_local.dynamodb_direct import CommitUnconfirmed, DirectDynamoDB


@dataclass
class FakeDynamoDB:
    """Answers 200 {} to everything, except what `refuse_barrier` / `close_after` say."""

    requests: list[tuple[int, str]] = field(default_factory=list)  # (client port, operation)
    refuse_barrier: int | None = None  # answer the barrier with this status
    drop_barrier: bool = False  # close the connection instead of answering the barrier
    close_after: str | None = None  # answer this operation with Connection: close
    lock: threading.Lock = field(default_factory=threading.Lock)

    def operations(self) -> list[str]:
        with self.lock:
            return [operation for _, operation in self.requests]


def serve(fake: FakeDynamoDB) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            operation = str(self.headers.get("X-Amz-Target", "")).rsplit(".", 1)[-1]
            with fake.lock:
                fake.requests.append((self.client_address[1], operation))
            if operation == "ListTables" and fake.drop_barrier:
                self.close_connection = True
                return
            status = fake.refuse_barrier if operation == "ListTables" and fake.refuse_barrier else 200
            body = b'{"TableNames":[]}' if operation == "ListTables" else b"{}"
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(body)))
            if operation == fake.close_after:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def fake() -> Iterator[tuple[FakeDynamoDB, Any]]:
    state = FakeDynamoDB()
    server = serve(state)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")
    DirectDynamoDB(url, timeout=5).install(session.events)
    client = session.client("dynamodb", endpoint_url=url, config=Config(retries={"max_attempts": 3}))
    yield state, client
    server.shutdown()
    server.server_close()


PUT = {"TableName": "jobs", "Item": {"pk": {"S": "p"}, "sk": {"S": "s"}}}
KEY = {"TableName": "jobs", "Key": {"pk": {"S": "p"}, "sk": {"S": "s"}}}


def test_each_write_is_followed_by_a_barrier_on_its_own_connection_and_reads_are_not(
    fake: tuple[FakeDynamoDB, Any],
) -> None:
    state, client = fake
    client.get_item(**KEY)
    client.put_item(**PUT)
    client.transact_write_items(TransactItems=[{"Put": PUT}])
    client.update_item(**KEY, UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": {"N": "1"}})
    client.delete_item(**KEY)
    client.query(
        TableName="jobs", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
    )
    assert state.operations() == [
        "GetItem",
        "PutItem",
        "ListTables",
        "TransactWriteItems",
        "ListTables",
        "UpdateItem",
        "ListTables",
        "DeleteItem",
        "ListTables",
        "Query",
    ]
    # One kept-alive connection: every barrier went on the connection of the write before it.
    assert len({port for port, _ in state.requests}) == 1


@pytest.mark.parametrize("refusal", ["status", "dropped"])
def test_a_write_whose_barrier_fails_raises_and_is_not_sent_again(
    fake: tuple[FakeDynamoDB, Any], refusal: str
) -> None:
    state, client = fake
    if refusal == "status":
        state.refuse_barrier = 500
    else:
        state.drop_barrier = True
    with pytest.raises(CommitUnconfirmed, match="TransactWriteItems"):
        client.transact_write_items(TransactItems=[{"Put": PUT}])
    assert state.operations() == ["TransactWriteItems", "ListTables"]
    # The next call works (on a fresh connection when the barrier's was dropped).
    state.refuse_barrier, state.drop_barrier = None, False
    client.get_item(**KEY)
    assert state.operations()[-1] == "GetItem"


def test_a_write_answered_with_a_closed_connection_cannot_be_confirmed(
    fake: tuple[FakeDynamoDB, Any],
) -> None:
    state, client = fake
    state.close_after = "PutItem"
    with pytest.raises(CommitUnconfirmed, match="closed the connection"):
        client.put_item(**PUT)
    assert state.operations() == ["PutItem"]


def test_a_read_on_a_connection_the_server_closed_while_idle_is_sent_again_fresh(
    fake: tuple[FakeDynamoDB, Any],
) -> None:
    state, client = fake
    state.close_after = "GetItem"
    client.get_item(**KEY)  # answered with Connection: close
    state.close_after = None
    client.get_item(**KEY)
    assert state.operations() == ["GetItem", "GetItem"]
    assert state.requests[0][0] != state.requests[1][0]


def test_a_client_pointed_elsewhere_is_left_to_botocore() -> None:
    direct = DirectDynamoDB("http://127.0.0.1:1")

    class Request:
        url = "http://127.0.0.1:2/"

    assert direct.before_send(Request(), event_name="before-send.dynamodb.GetItem") is None
