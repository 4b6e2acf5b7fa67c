"""AWS targets on moto: each kind, allow-list, tenant role with ExternalId, the service's own refused."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from jobsched import config
from jobsched.aws.clients import assumed_client, client
from jobsched.execution.fire import Trigger
from jobsched.execution.ports import Delivery
from jobsched.jobs.models import (
    AwsTarget,
    EventBridgeTarget,
    Job,
    LambdaTarget,
    SnsTarget,
    SqsTarget,
    StepFunctionsTarget,
)
from jobsched.targets.adapters.access_store import DynamoTargetAccessStore
from jobsched.targets.adapters.invokers import AwsTargetInvoker

pytestmark = pytest.mark.usefixtures("aws")
SERVICE_ACCOUNT = "123456789012"  # moto's default account: the service's own here
TENANT_ACCOUNT = "111122223333"
NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)
DELIVERY = Delivery(
    tenant="acme",
    execution_id="exe_20261201T100000Z_abc123",
    scheduled_at=NOW,
    attempt=1,
    trigger=Trigger.SCHEDULE,
)


def job_with(target: AwsTarget) -> Job:
    return Job.model_validate(
        {
            "job_id": "job_1",
            "name": "n",
            "schedule": {"expression": "rate(5 minutes)"},
            "target": target.model_dump(),
            "region": "us-east-1",
            "version": 1,
            "created_at": NOW,
            "updated_at": NOW,
            "created_by": "k",
            "updated_by": "k",
            "status": "active",
        }
    )


def access() -> DynamoTargetAccessStore:
    return DynamoTargetAccessStore(boto3.client("dynamodb"), config.JOBS_TABLE)


class RecordingSts:
    """moto's STS, with the AssumeRole calls kept to look at."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._sts = boto3.client("sts")

    def assume_role(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self._sts.assume_role(**kwargs)


def invoker(sts: RecordingSts | None = None) -> AwsTargetInvoker:
    def client_for(service: str, region: str | None) -> Any:
        return sts if service == "sts" and sts is not None else client(service, region)

    return AwsTargetInvoker(client_for, access=access(), service_account=SERVICE_ACCOUNT)


def allow(arn: str) -> None:
    access().allow("acme", arn, NOW)


def run(target: AwsTarget, sts: RecordingSts | None = None) -> Any:
    return invoker(sts).invoke(job_with(target), target, DELIVERY)


def test_the_sqs_target_sends_the_body_with_the_execution_ids() -> None:
    url = boto3.client("sqs").create_queue(QueueName="their-queue")["QueueUrl"]
    target = SqsTarget(
        type="sqs", queue_url=f"https://sqs.us-east-1.amazonaws.com/{SERVICE_ACCOUNT}/their-queue"
    )
    allow(f"arn:aws:sqs:us-east-1:{SERVICE_ACCOUNT}:their-queue")

    outcome = run(target.model_copy(update={"body": '{"go": 1}'}))

    assert outcome.succeeded, outcome.error
    [message] = boto3.client("sqs").receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert message["Body"] == '{"go": 1}'
    assert message["MessageAttributes"]["jobsched-execution-id"]["StringValue"] == DELIVERY.execution_id


def test_the_eventbridge_target_puts_one_event_on_the_bus() -> None:
    arn = boto3.client("events").create_event_bus(Name="their-bus")["EventBusArn"]
    allow(arn)
    outcome = run(EventBridgeTarget(type="eventbridge", event_bus_arn=arn, detail='{"k": "v"}'))
    assert outcome.succeeded, outcome.error
    assert outcome.response_excerpt is not None and "EventId" in outcome.response_excerpt


def _function(name: str) -> str:
    role = boto3.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    created = boto3.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": code.getvalue()},
    )
    return str(created["FunctionArn"])


def test_the_lambda_target_invokes_asynchronously_with_the_payload() -> None:
    arn = _function("their-function")
    allow(arn)
    sent: list[dict[str, Any]] = []
    lambda_client = client("lambda", "us-east-1")
    lambda_client.meta.events.register(
        "provide-client-params.lambda.Invoke", lambda params, **_: sent.append(params)
    )

    outcome = run(LambdaTarget(type="lambda", function_arn=arn, payload='{"p": 1}'))

    assert outcome.succeeded and outcome.status_code == 202, outcome.error
    [params] = sent
    assert (params["InvocationType"], params["Payload"]) == ("Event", b'{"p": 1}')
    context = json.loads(__import__("base64").b64decode(params["ClientContext"]))
    assert context["custom"]["jobsched-execution-id"] == DELIVERY.execution_id


def test_the_sns_target_publishes_the_message_to_the_topic() -> None:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="their-topic")["TopicArn"]
    url = sqs.create_queue(QueueName="topic-reader")["QueueUrl"]
    reader = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=reader, Attributes={"RawMessageDelivery": "true"})
    allow(topic)

    outcome = run(SnsTarget(type="sns", topic_arn=topic, message="hello", subject="s"))

    assert outcome.succeeded, outcome.error
    [delivered] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert delivered["Body"] == "hello"


def test_the_step_functions_target_starts_one_execution_named_after_the_execution_id() -> None:
    role = boto3.client("iam").create_role(RoleName="sfn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    machine = boto3.client("stepfunctions").create_state_machine(
        name="their-machine", definition=definition, roleArn=role
    )["stateMachineArn"]
    allow(machine)
    target = StepFunctionsTarget(type="stepfunctions", state_machine_arn=machine, input='{"i": 1}')

    first, again = run(target), run(target)  # a redelivered attempt of the same execution

    assert first.succeeded and again.succeeded, (first.error, again.error)
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    assert [e["name"] for e in executions] == [DELIVERY.execution_id]


def test_a_target_in_the_tenants_account_is_called_as_its_role_with_the_tenant_as_external_id() -> None:
    role_arn = f"arn:aws:iam::{TENANT_ACCOUNT}:role/jobsched-target"
    access().set_role("acme", role_arn, NOW)
    sts = RecordingSts()
    # The tenant's queue lives in the tenant's account (moto keeps accounts apart by the credentials used).
    tenant_credentials = boto3.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="setup")[
        "Credentials"
    ]
    tenant_sqs = assumed_client("sqs", "us-east-1", tenant_credentials)
    url = tenant_sqs.create_queue(QueueName="tenant-queue")["QueueUrl"]
    target = SqsTarget(
        type="sqs", queue_url=f"https://sqs.us-east-1.amazonaws.com/{TENANT_ACCOUNT}/tenant-queue"
    )

    calls = invoker(sts)
    outcome = calls.invoke(job_with(target), target, DELIVERY)

    assert outcome.succeeded, outcome.error
    [call] = sts.calls
    assert (call["RoleArn"], call["ExternalId"]) == (role_arn, "acme")
    assert len(tenant_sqs.receive_message(QueueUrl=url)["Messages"]) == 1
    # The credentials are kept until near their expiry: a second call assumes nothing.
    assert calls.invoke(job_with(target), target, DELIVERY).succeeded and len(sts.calls) == 1


@pytest.mark.parametrize(
    ("target", "why"),
    [
        # The service's own execution queue: the forged-fire door.
        (
            SqsTarget(
                type="sqs",
                queue_url=f"https://sqs.us-east-1.amazonaws.com/{SERVICE_ACCOUNT}/{config.EXECUTION_QUEUE}",
            ),
            "scheduler's own",
        ),
        (
            LambdaTarget(
                type="lambda", function_arn=f"arn:aws:lambda:us-east-1:{SERVICE_ACCOUNT}:function:jobsched-x"
            ),
            "scheduler's own",
        ),
        (
            SnsTarget(type="sns", topic_arn=f"arn:aws:sns:us-east-1:{SERVICE_ACCOUNT}:someone-elses"),
            "allow-list",
        ),
        (
            SnsTarget(type="sns", topic_arn=f"arn:aws:sns:us-east-1:{TENANT_ACCOUNT}:no-role-set"),
            "allow-list",
        ),
    ],
)
def test_a_target_the_tenant_was_not_given_is_refused_at_call_time_without_calling(
    target: AwsTarget, why: str
) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=config.EXECUTION_QUEUE)["QueueUrl"]
    # Even allow-listed by mistake, the service's own resources stay refused.
    allow(f"arn:aws:sqs:us-east-1:{SERVICE_ACCOUNT}:{config.EXECUTION_QUEUE}")
    allow(f"arn:aws:lambda:us-east-1:{SERVICE_ACCOUNT}:function:jobsched-x")

    outcome = run(target)

    assert not outcome.succeeded and outcome.error is not None
    assert outcome.error.startswith("target refused:") and why in outcome.error
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_the_role_opens_only_its_own_account() -> None:
    access().set_role("acme", f"arn:aws:iam::{TENANT_ACCOUNT}:role/jobsched-target", NOW)
    other = SnsTarget(type="sns", topic_arn="arn:aws:sns:us-east-1:444455556666:elsewhere")
    sts = RecordingSts()
    outcome = run(other, sts)
    assert not outcome.succeeded and "allow-list" in (outcome.error or "")
    assert sts.calls == []


def test_the_access_store_round_trips_role_and_allow_list() -> None:
    store = access()
    store.set_role("acme", f"arn:aws:iam::{TENANT_ACCOUNT}:role/r", NOW)
    store.allow("acme", "arn:aws:sns:us-east-1:123456789012:a", NOW)
    store.allow("acme", "arn:aws:sns:us-east-1:123456789012:b", NOW)

    assert store.role("acme") == f"arn:aws:iam::{TENANT_ACCOUNT}:role/r"
    assert sorted(store.allowed("acme")) == [
        "arn:aws:sns:us-east-1:123456789012:a",
        "arn:aws:sns:us-east-1:123456789012:b",
    ]
    assert store.access("acme", "arn:aws:sns:us-east-1:123456789012:a").allow_listed
    assert not store.access("other", "arn:aws:sns:us-east-1:123456789012:a").allow_listed
    assert store.deny("acme", "arn:aws:sns:us-east-1:123456789012:a") is True
    assert store.deny("acme", "arn:aws:sns:us-east-1:123456789012:a") is False
    store.set_role("acme", None, NOW)
    assert store.role("acme") is None and list(store.allowed("acme")) == [
        "arn:aws:sns:us-east-1:123456789012:b"
    ]
