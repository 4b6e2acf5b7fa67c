"""DynamoDB Local as the runtime runs it: it keeps what it acknowledged, and never outlives its runtime."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3

from jobsched import tables
from jobsched_local.aws_emulator import free_port
from jobsched_local.dynamodb_local import PID_FILE, DynamoDBLocal, answers, install_commit_barrier
from jobsched_local.provision import ensure_table

WAIT_SECONDS = 30  # a bound for a process to go, not a timing assertion


def _client(server: DynamoDBLocal) -> object:
    return boto3.client(
        "dynamodb",
        endpoint_url=server.endpoint_url,
        region_name="eu-west-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except (OSError, IndexError):
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


def test_a_leftover_instance_is_stopped_and_the_items_survive_it(tmp_path: Path) -> None:
    first = DynamoDBLocal(tmp_path, "127.0.0.1", free_port())
    first.start()
    client = _client(first)
    ensure_table(client, tables.JOBS)
    client.put_item(TableName=tables.JOBS.name, Item={"pk": {"S": "p"}, "sk": {"S": "s"}})  # type: ignore[attr-defined]
    leftover = first.pid
    assert leftover is not None and (tmp_path / PID_FILE).read_text().strip() == str(leftover)

    # A crashed run leaves `first` running; the next start on the same folder stops it first.
    second = DynamoDBLocal(tmp_path, "127.0.0.1", free_port())
    second.start()
    try:
        assert _gone(leftover)
        assert not answers(first.endpoint_url)
        item = _client(second).get_item(  # type: ignore[attr-defined]
            TableName=tables.JOBS.name, Key={"pk": {"S": "p"}, "sk": {"S": "s"}}
        )
        assert item["Item"]["pk"] == {"S": "p"}
    finally:
        second.stop()
    assert not (tmp_path / PID_FILE).exists()


def test_an_acknowledged_transaction_survives_a_kill_right_after_its_answer(tmp_path: Path) -> None:
    server = DynamoDBLocal(tmp_path, "127.0.0.1", free_port())
    server.start()
    session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")
    install_commit_barrier(session, server.endpoint_url)
    client = session.client("dynamodb", endpoint_url=server.endpoint_url)
    ensure_table(client, tables.JOBS)
    for n in range(5):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": tables.JOBS.name, "Item": {"pk": {"S": f"job{n}"}, "sk": {"S": "s"}}}},
                {
                    "Update": {
                        "TableName": tables.JOBS.name,
                        "Key": {"pk": {"S": "counter"}, "sk": {"S": "c"}},
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )
    pid = server.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # at once, as the runtime's death takes DynamoDB Local with it
    assert _gone(pid)

    restarted = DynamoDBLocal(tmp_path, "127.0.0.1", free_port())
    restarted.start()
    try:
        reader = _client(restarted)
        counter = reader.get_item(  # type: ignore[attr-defined]
            TableName=tables.JOBS.name, Key={"pk": {"S": "counter"}, "sk": {"S": "c"}}
        )
        assert counter["Item"]["n"] == {"N": "5"}
    finally:
        restarted.stop()
        server.stop()


PARENT = """
import sys, time
from pathlib import Path
from jobsched_local.dynamodb_local import DynamoDBLocal
server = DynamoDBLocal(Path(sys.argv[1]), "127.0.0.1", int(sys.argv[2]))
server.start()
print(server.pid, flush=True)
time.sleep(600)
"""


def test_it_dies_with_a_runtime_killed_by_sigkill(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(["layers", "local", "."])}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path), str(free_port())],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline().strip())
    assert Path(f"/proc/{child}").exists()

    parent.send_signal(signal.SIGKILL)
    parent.wait()

    assert _gone(child)
