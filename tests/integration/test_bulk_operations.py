"""Bulk pause/resume through the Schedule API and the bulk worker, on moto (and DynamoDB Local's tables):
the operation item, the page condition, the bulk queue, the 422s and tenant isolation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from jobsched import config
from jobsched.aws.dynamodb import from_item, to_item
from jobsched.keyscheme import bulk_operation_key
from jobsched.scheduling.adapters.bulk_store import DynamoBulkOperationStore, SqsBulkQueue
from jobsched.scheduling.adapters.job_schedule_store import DynamoJobScheduleStore
from jobsched.scheduling.bulk import BulkControl
from jobsched.scheduling.control import ScheduleControl
from jobsched_local.execution_poller import sqs_event
from jobsched_local.scheduling_provision import provision_scheduling
from tests.integration.scheduling_support import SERVING, client_for, job_service, principal, spec
from tests.support.apigw import api_caller

pytestmark = pytest.mark.usefixtures("aws")

Call = Callable[..., tuple[int, dict[str, str], Any]]
BULK = "/api/v1/schedule/bulk"


@pytest.fixture
def call(monkeypatch: pytest.MonkeyPatch) -> Call:
    provision_scheduling([SERVING], client_for)
    from functions.schedule_api import handler as schedule_api

    # A small inline limit, so a handful of jobs is a "large" operation (BULK_INLINE_LIMIT on a function).
    dynamodb = client_for("dynamodb", SERVING)
    jobs = DynamoJobScheduleStore(dynamodb, config.JOBS_TABLE)
    monkeypatch.setattr(
        schedule_api,
        "BULK",
        BulkControl(
            ScheduleControl(jobs, SERVING),
            jobs,
            DynamoBulkOperationStore(dynamodb, config.JOBS_TABLE),
            SqsBulkQueue(client_for("sqs", SERVING)),
            inline_limit=3,
        ),
    )

    return api_caller(schedule_api.handler)


def make_jobs(
    count: int, *, tags: dict[str, str], prefix: str = "nightly-", tenant: str = "acme"
) -> list[str]:
    service = job_service()
    ids = []
    for number in range(count):
        created = service.create(
            principal(tenant),
            spec().model_copy(update={"name": f"{prefix}{number}", "tags": tags}),
        )
        ids.append(str(created.job["job_id"]))
    return ids


def enabled(job_id: str, tenant: str = "acme") -> bool:
    from jobsched.keyscheme import JobKey

    job = DynamoJobScheduleStore(client_for("dynamodb", SERVING), config.JOBS_TABLE).current(
        JobKey(tenant, job_id)
    )
    assert job is not None
    return job.enabled


def drain_bulk_queue() -> int:
    """Feed the bulk queue into the worker function as Lambda's SQS event source does; returns the pages."""
    from functions.bulk_worker import handler as bulk_worker

    sqs = client_for("sqs", SERVING)
    url = sqs.get_queue_url(QueueName=config.BULK_QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for pages in range(50):
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"]).get(
            "Messages", []
        )
        if not received:
            return pages
        response = bulk_worker.handler(sqs_event(received, arn, SERVING), None)
        assert response["batchItemFailures"] == []
        sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
    raise AssertionError("the bulk queue did not drain")


@pytest.fixture
def few() -> list[str]:
    return make_jobs(2, tags={"team": "billing"})


def test_a_few_jobs_are_done_within_the_request_and_again_change_nothing(call: Call, few: list[str]) -> None:
    other = make_jobs(1, tags={"team": "search"})

    status, _, operation = call(
        "POST", BULK, body={"action": "pause", "tag": "team:billing", "note": "migration"}
    )

    assert status == 200
    assert operation["status"] == "completed"
    assert {k: operation[k] for k in ("matched", "changed", "unchanged", "skipped", "failed")} == {
        "matched": 2,
        "changed": 2,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
    }
    assert [enabled(j) for j in (*few, *other)] == [False, False, True]
    again = call("POST", BULK, body={"action": "pause", "tag": "team:billing", "note": "migration"})[2]
    assert (again["changed"], again["unchanged"]) == (0, 2)
    # The operation is kept (7 days): its GET answers the same final figures.
    status, _, read = call("GET", f"{BULK}/{operation['operation_id']}", role="viewer")
    assert (status, read) == (200, operation)


def test_the_operation_item_lives_in_the_tenants_partition_and_expires(call: Call, few: list[str]) -> None:
    operation = call("POST", BULK, body={"action": "pause", "name_prefix": "nightly-"})[2]

    item = client_for("dynamodb", SERVING).get_item(
        TableName=config.JOBS_TABLE, Key=to_item(bulk_operation_key("acme", operation["operation_id"]))
    )["Item"]
    stored = from_item(item)
    assert stored["pk"] == "TENANT#acme"
    assert stored["sk"] == f"BULKOP#{operation['operation_id']}"
    created = datetime.fromisoformat(operation["created_at"])
    assert stored[config.TTL_ATTRIBUTE] == int((created + timedelta(days=7)).timestamp())


def test_many_jobs_answer_202_and_the_worker_finishes_them_page_by_page(
    call: Call, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = make_jobs(7, tags={"team": "billing"})
    from functions.bulk_worker import handler as bulk_worker

    monkeypatch.setattr(bulk_worker.BULK, "_page_size", 3)

    status, headers, operation = call("POST", BULK, body={"action": "pause", "tag": "team:billing"})

    assert status == 202
    assert operation["status"] == "running"
    location = headers["location"]
    assert location == f"{BULK}/{operation['operation_id']}"
    assert all(enabled(j) for j in ids)  # the request itself changed nothing

    assert drain_bulk_queue() == 3  # 7 jobs in pages of 3

    status, _, done = call("GET", location)
    assert status == 200
    assert (done["status"], done["matched"], done["changed"], done["failed"]) == ("completed", 7, 7, 0)
    assert done["updated_at"] >= done["created_at"]
    assert not any(enabled(j) for j in ids)

    # Repeated: changes nothing; resume: every job active again.
    call("POST", BULK, body={"action": "pause", "tag": "team:billing"})
    drain_bulk_queue()
    resume = call("POST", BULK, body={"action": "resume", "tag": "team:billing"})[2]
    drain_bulk_queue()
    assert all(enabled(j) for j in ids)
    assert call("GET", f"{BULK}/{resume['operation_id']}")[2]["changed"] == 7


def test_a_redelivered_page_is_counted_once(call: Call, monkeypatch: pytest.MonkeyPatch) -> None:
    make_jobs(5, tags={"team": "billing"})
    from functions.bulk_worker import handler as bulk_worker

    monkeypatch.setattr(bulk_worker.BULK, "_page_size", 3)
    operation = call("POST", BULK, body={"action": "pause", "tag": "team:billing"})[2]
    sqs = client_for("sqs", SERVING)
    url = sqs.get_queue_url(QueueName=config.BULK_QUEUE)["QueueUrl"]
    (first,) = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]

    # The same message twice (the first delivery's delete was lost): the second finds its page recorded.
    bulk_worker.handler(sqs_event([first], "arn", SERVING), None)
    bulk_worker.handler(sqs_event([first], "arn", SERVING), None)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    assert drain_bulk_queue() == 1

    done = call("GET", f"{BULK}/{operation['operation_id']}")[2]
    assert (done["status"], done["matched"], done["changed"], done["unchanged"]) == ("completed", 5, 5, 0)


def test_a_message_that_is_no_page_is_dropped_not_retried(call: Call) -> None:
    from functions.bulk_worker import handler as bulk_worker

    message = {"MessageId": "m1", "ReceiptHandle": "r1", "Body": "{not json", "Attributes": {}}
    event = sqs_event([message], "arn", SERVING)
    event["Records"][0]["attributes"] = {"ApproximateReceiveCount": "1"}
    assert bulk_worker.handler(event, None) == {"batchItemFailures": []}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "pause"}, "tag"),
        ({"action": "halt", "tag": "team:billing"}, "action"),
        ({"tag": "team:billing"}, "action"),
        ({"action": "pause", "tag": "billing"}, "tag"),
        ({"action": "pause", "tag": 5}, "tag"),
        ({"action": "pause", "name_prefix": ""}, "name_prefix"),
        ({"action": "pause", "name_prefix": "n", "note": "x" * 1025}, "note"),
        ({"action": "resume", "name_prefix": "n", "note": "why"}, "note"),
        ({"action": "pause", "name_prefix": "n", "limit": 5}, "limit"),
    ],
)
def test_a_bad_field_is_a_422_naming_it(call: Call, body: dict[str, Any], field: str) -> None:
    status, _, answer = call("POST", BULK, body=body)
    assert status == 422
    assert answer["error"]["code"] == "validation_error"
    assert field in {detail["field"] for detail in answer["error"]["details"]}


def test_viewers_may_not_start_one(call: Call, few: list[str]) -> None:
    status, _, body = call("POST", BULK, role="viewer", body={"action": "pause", "tag": "team:billing"})
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert all(enabled(j) for j in few)


def test_another_tenants_operation_is_not_found(call: Call, few: list[str]) -> None:
    operation = call("POST", BULK, body={"action": "pause", "tag": "team:billing"})[2]
    path = f"{BULK}/{operation['operation_id']}"

    status, _, body = call("GET", path, tenant="globex")
    assert (status, body["error"]["code"]) == (404, "not_found")
    assert call("GET", f"{BULK}/bulk_{'0' * 26}")[0] == 404
    # Another tenant's bulk request never touches this tenant's jobs.
    other = call("POST", BULK, tenant="globex", body={"action": "resume", "tag": "team:billing"})[2]
    assert (other["matched"], enabled(few[0])) == (0, False)


def test_a_tag_scoped_caller_changes_only_the_jobs_it_sees(call: Call) -> None:
    billing = make_jobs(2, tags={"team": "billing"})
    search = make_jobs(1, tags={"team": "search"})

    operation = call(
        "POST", BULK, tags=[("team", "billing")], body={"action": "pause", "name_prefix": "nightly-"}
    )[2]

    assert operation["matched"] == 2
    assert [enabled(j) for j in (*billing, *search)] == [False, False, True]


def test_a_restart_of_the_local_runtime_carries_running_operations_on(
    call: Call, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.bulk_worker import handler as bulk_worker
    from jobsched_local.bulk_recovery import resume_bulk_operations

    ids = make_jobs(5, tags={"team": "billing"})
    monkeypatch.setattr(bulk_worker.BULK, "_page_size", 3)
    operation = call("POST", BULK, body={"action": "pause", "tag": "team:billing"})[2]
    finished = call("POST", BULK, body={"action": "resume", "name_prefix": "nothing-matches"})[2]
    sqs = client_for("sqs", SERVING)
    url = sqs.get_queue_url(QueueName=config.BULK_QUEUE)["QueueUrl"]
    # One page done, then the runtime dies: the in-memory queue loses the next page's message.
    (first,) = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    bulk_worker.handler(sqs_event([first], "arn", SERVING), None)
    sqs.purge_queue(QueueUrl=url)

    assert resume_bulk_operations(client_for("dynamodb", SERVING), sqs) == 1  # the completed one stays
    assert drain_bulk_queue() == 1

    done = call("GET", f"{BULK}/{operation['operation_id']}")[2]
    assert (done["status"], done["matched"], done["changed"]) == ("completed", 5, 5)
    assert not any(enabled(j) for j in ids)
    assert finished["status"] == "completed"
