"""Through `jobsched local`: a forged fire runs nothing, and AWS targets open only as an operator allows."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from jobsched import config
from tests.e2e.conftest import REPO_ROOT, RuntimeProcess, call, clean_env
from tests.e2e.test_execution_e2e import Receiver, finished, history, receiver, wait_for

pytestmark = pytest.mark.e2e
__all__ = ["receiver"]  # the fixture, imported to be used here
ACCOUNT = "123456789012"  # the local runtime's (moto's) account: where its own queues live


def aws(runtime: RuntimeProcess, service: str) -> Any:
    return runtime.aws_client(service, config.PRIMARY_REGION)


def operator(runtime: RuntimeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """`jobsched tenants|targets ...` against this runtime, as an operator runs it."""
    env = clean_env(AWS_ENDPOINT_URL=runtime.aws_endpoint, HOME=str(runtime.state_dir.parent))
    command = [sys.executable, "-m", "jobsched_cli.main", *args]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def tenants(runtime: RuntimeProcess) -> Iterator[tuple[str, str]]:
    _, alpha = runtime.create_key("alpha", "premium")
    _, beta = runtime.create_key("beta", "premium")
    yield alpha, beta


def queue_is_empty(runtime: RuntimeProcess, name: str) -> bool:
    sqs = aws(runtime, "sqs")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return all(value == "0" for value in attributes.values())


def test_a_forged_fire_naming_another_tenants_job_calls_nothing_and_is_dropped(
    runtime: RuntimeProcess, tenants: tuple[str, str], receiver: Receiver
) -> None:
    alpha, beta = tenants
    victim = call(
        runtime.port,
        "POST",
        "/api/v1/jobs",
        key=alpha,
        body={
            "name": "alpha's hook",
            "schedule": {"expression": "rate(1 day)"},
            "target": {"url": f"http://127.0.0.1:{receiver.port}/alpha", "body": "{}"},
        },
    )
    assert victim.status == 201, victim.body
    job_id = victim.body["job_id"]
    forged = {
        "tenant": "alpha",
        "job_id": job_id,
        "job_version": 1,
        "scheduled_time": "2026-12-01T10:00:00Z",
        "trigger": "manual",
        "execution_id": "exe_20261201T100000Z_forged",
    }
    # The door the forgery came through is shut: beta may not target the service's own queue.
    attempt = call(
        runtime.port,
        "POST",
        "/api/v1/jobs",
        key=beta,
        body={
            "name": "forger",
            "schedule": {"expression": "rate(1 day)"},
            "target": {
                "type": "sqs",
                "queue_url": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{config.EXECUTION_QUEUE}",
                "body": json.dumps(forged),
            },
        },
    )
    assert attempt.status == 422, attempt.body
    assert attempt.body["error"]["details"][0]["field"] == "target.queue_url"

    # And a forged message that reaches the queue anyway (with or without a guessed token) runs nothing.
    sqs = aws(runtime, "sqs")
    url = sqs.get_queue_url(QueueName=config.EXECUTION_QUEUE)["QueueUrl"]
    guessed = "guessed-token-" + "x" * 30
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(forged))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(forged | {"fire_token": guessed}))

    wait_for(lambda: runtime.output().count("fire message rejected") >= 2, "the executor to reject both")
    wait_for(lambda: queue_is_empty(runtime, config.EXECUTION_QUEUE), "the forged messages to be deleted")
    assert queue_is_empty(runtime, config.EXECUTION_DLQ)  # dropped, not retried into the DLQ
    assert receiver.deliveries == []
    assert history(runtime, alpha, job_id) == []
    log = runtime.output()
    rejections = [json.loads(line) for line in log.splitlines() if '"fire message rejected"' in line]
    assert {(r["reason"], r["claimed_job_id"]) for r in rejections} >= {
        ("no_token", job_id),
        ("token_mismatch", job_id),
    }
    assert guessed not in log
    assert '"fires_rejected_total"' in log  # the metric the critical alarm watches (EMF)

    # alpha's own run-now still runs: the real fire carries the job's token.
    assert call(runtime.port, "POST", f"/api/v1/jobs/{job_id}/run", key=alpha).status == 202
    [record] = wait_for(lambda: finished(runtime, alpha, job_id, 1), "alpha's own run-now")
    # Counted once the queue holds nothing more for the executor: a duplicate would have been delivered.
    wait_for(lambda: queue_is_empty(runtime, config.EXECUTION_QUEUE), "the run-now's message to be deleted")
    assert record["status"] == "succeeded" and len(receiver.deliveries) == 1


def _run(runtime: RuntimeProcess, key: str, target: dict[str, Any]) -> dict[str, Any]:
    reply = call(
        runtime.port,
        "POST",
        "/api/v1/jobs",
        key=key,
        body={"name": target["type"], "schedule": {"expression": "rate(1 day)"}, "target": target},
    )
    assert reply.status == 201, reply.body
    job_id = reply.body["job_id"]
    assert call(runtime.port, "POST", f"/api/v1/jobs/{job_id}/run", key=key).status == 202
    [record] = wait_for(lambda: finished(runtime, key, job_id, 1), f"the {target['type']} run")
    return dict(record)


def test_lambda_sns_and_step_functions_targets_run_once_an_operator_allows_them(
    runtime: RuntimeProcess, tenants: tuple[str, str]
) -> None:
    alpha, beta = tenants
    sns, sqs, stepfunctions = aws(runtime, "sns"), aws(runtime, "sqs"), aws(runtime, "stepfunctions")
    topic = sns.create_topic(Name="alpha-topic")["TopicArn"]
    reader = sqs.create_queue(QueueName="alpha-topic-reader")["QueueUrl"]
    reader_arn = sqs.get_queue_attributes(QueueUrl=reader, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=reader_arn, Attributes={"RawMessageDelivery": "true"}
    )
    role = aws(runtime, "iam").create_role(RoleName="alpha-sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    machine = stepfunctions.create_state_machine(
        name="alpha-machine",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn=role,
    )["stateMachineArn"]
    function = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:alpha-function"
    targets = [
        {"type": "sns", "topic_arn": topic, "message": "from alpha"},
        {"type": "stepfunctions", "state_machine_arn": machine, "input": '{"n": 1}'},
        {"type": "lambda", "function_arn": function, "payload": '{"n": 2}'},
    ]
    _create_function(runtime, "alpha-function")

    # Before the operator allows them: refused at create, naming the field.
    for target in targets:
        reply = call(
            runtime.port,
            "POST",
            "/api/v1/jobs",
            key=alpha,
            body={"name": "early", "schedule": {"expression": "rate(1 day)"}, "target": target},
        )
        assert reply.status == 422, reply.body
        field = next(name for name in target if name.endswith("_arn"))
        assert reply.body["error"]["details"][0]["field"] == f"target.{field}"

    for arn in (topic, machine, function):
        allowed = operator(runtime, "targets", "allow", "--tenant", "alpha", arn)
        assert allowed.returncode == 0, allowed.stderr
    listing = operator(runtime, "targets", "list", "--tenant", "alpha")
    assert sorted(listing.stdout.split()) == sorted([topic, machine, function])

    published = _run(runtime, alpha, targets[0])
    started = _run(runtime, alpha, targets[1])
    invoked = _run(runtime, alpha, targets[2])

    assert (published["status"], started["status"], invoked["status"]) == ("succeeded",) * 3
    [message] = sqs.receive_message(QueueUrl=reader)["Messages"]
    assert message["Body"] == "from alpha"
    [execution] = stepfunctions.list_executions(stateMachineArn=machine)["executions"]
    assert execution["name"] == started["execution_id"]
    assert invoked["status_code"] == 202  # asynchronous invoke accepted
    # beta was given none of them.
    reply = call(
        runtime.port,
        "POST",
        "/api/v1/jobs",
        key=beta,
        body={"name": "b", "schedule": {"expression": "rate(1 day)"}, "target": targets[0]},
    )
    assert reply.status == 422


def _create_function(runtime: RuntimeProcess, name: str) -> None:
    import io
    import zipfile

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    role = aws(runtime, "iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]
    aws(runtime, "lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": code.getvalue()},
    )


def test_the_tenant_role_cli_validates_and_shows_the_external_id(runtime: RuntimeProcess) -> None:
    bad = operator(runtime, "tenants", "set-role", "--tenant", "alpha", "--role-arn", "arn:aws:iam::1:user/x")
    assert bad.returncode == 1 and "--role-arn" in bad.stderr
    role = "arn:aws:iam::111122223333:role/jobsched-target"
    assert operator(runtime, "tenants", "set-role", "--tenant", "alpha", "--role-arn", role).returncode == 0
    shown = operator(runtime, "tenants", "show", "--tenant", "alpha")
    assert shown.returncode == 0
    assert f"target role: {role}" in shown.stdout and "external id: alpha" in shown.stdout
    refused = operator(
        runtime,
        "targets",
        "allow",
        "--tenant",
        "alpha",
        f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobsched-executions",
    )
    assert refused.returncode == 1 and "scheduler's own" in refused.stderr
