"""The emulator's DynamoDB operations are whole: a reader never sees an item half-way through an update."""

from __future__ import annotations

import threading

import boto3
import pytest

from jobsched import config

pytestmark = pytest.mark.usefixtures("moto_aws")
ATTRIBUTES = [f"a{i}" for i in range(20)]


def test_a_query_never_sees_a_half_written_item() -> None:
    client = boto3.client("dynamodb")
    done = threading.Event()
    partial: list[int] = []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for n in range(150):
                client.update_item(
                    TableName=config.EXECUTIONS_TABLE,
                    Key={"pk": {"S": "P"}, "sk": {"S": f"E#{n:04}"}},
                    UpdateExpression="SET " + ", ".join(f"{name} = :v" for name in ATTRIBUTES),
                    ExpressionAttributeValues={":v": {"S": "x"}},
                )
        finally:
            done.set()

    def read() -> None:
        try:
            while not done.is_set():
                response = client.query(
                    TableName=config.EXECUTIONS_TABLE,
                    KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": "P"}},
                    ScanIndexForward=False,
                    Limit=3,
                )
                partial.extend(len(item) for item in response["Items"] if len(item) != len(ATTRIBUTES) + 2)
        except BaseException as exc:  # a RuntimeError from iterating a dict that changed, say
            errors.append(exc)

    threads = [threading.Thread(target=write), threading.Thread(target=read), threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert partial == []
