"""At start the runtime rebuilds moto from the tables: schedules by schedule-sync, keys in usage plans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from jobsched import config
from jobsched.aws.dynamodb import to_item
from jobsched.execution.fire import FireMessage
from jobsched.keys.adapters.key_registry import ApiGatewayKeyRegistry
from jobsched.keys.adapters.key_store import DynamoKeyStore
from jobsched.keys.models import KeyService
from jobsched.keyscheme import JobKey, execution_pk, execution_sk
from jobsched_local.execution_recovery import recover
from jobsched_local.key_check import moto_key_registered, remembered_key_check
from jobsched_local.lambda_context import LOCAL_ACCOUNT_ID
from jobsched_local.provision import ensure_api
from jobsched_local.rebuild import placeholder_value, rebuild, rebuild_clock
from jobsched_local.scheduling_runtime import job_times, moto_schedule_summaries, unexecuted
from jobsched_local.stream_feeder import local_syncs
from tests.integration.scheduling_support import (
    REGIONS,
    SERVING,
    client_for,
    future,
    job_service,
    principal,
    schedules,
    spec,
)

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture(autouse=True)
def provisioned(aws: None) -> None:
    from jobsched_local.scheduling_provision import provision_scheduling

    provision_scheduling(REGIONS, client_for)
    for region in REGIONS:
        ensure_api(client_for("apigateway", region))


def run_rebuild(now: datetime | None = None) -> Any:
    clock = rebuild_clock((lambda: now) if now is not None else None)
    syncs = local_syncs(REGIONS, SERVING, client_for, LOCAL_ACCOUNT_ID, clock=clock)
    return rebuild(client_for("dynamodb", SERVING), syncs, client_for, REGIONS)


def test_every_job_gets_its_schedule_back_in_its_home_region_only() -> None:
    jobs = job_service()
    home = jobs.create(principal(), spec(), idempotency_key=None)
    moved = jobs.create(principal(), spec().model_copy(update={"region": "eu-west-1"}), idempotency_key=None)

    summary = run_rebuild()

    assert (summary.jobs, summary.failed) == (2, 0)
    assert [s["Name"] for s in schedules(SERVING)] == [f"acme.{home.job['job_id']}"]
    assert [s["Name"] for s in schedules("eu-west-1")] == [f"acme.{moved.job['job_id']}"]
    assert run_rebuild().jobs == 2  # twice is harmless
    assert len(schedules(SERVING)) == 1


def test_a_one_time_job_that_fell_due_while_down_is_rebuilt_within_the_hour_only() -> None:
    job = job_service().create(principal(), spec(expression=f"at({future(60)})", timezone="UTC"), None).job
    later = datetime.now(UTC) + timedelta(minutes=31)

    run_rebuild(now=later)  # its time passed 30 minutes ago and it never ran: it still fires once
    assert [s["Name"] for s in schedules(SERVING)] == [f"acme.{job['job_id']}"]

    client_for("scheduler", SERVING).delete_schedule(
        Name=f"acme.{job['job_id']}", GroupName=config.SCHEDULE_GROUP
    )
    run_rebuild(now=datetime.now(UTC) + timedelta(hours=2))  # more than an hour late: it stays done
    assert schedules(SERVING) == []


def test_active_keys_are_registered_again_in_every_regions_usage_plan() -> None:
    dynamodb = client_for("dynamodb", SERVING)
    store = DynamoKeyStore(dynamodb, config.JOBS_TABLE)
    service = KeyService(store, [ApiGatewayKeyRegistry(client_for("apigateway", r), r) for r in REGIONS])
    kept, _ = service.create("acme", "standard", "operator")
    revoked, _ = service.create("acme", "basic", "operator")
    service.revoke(revoked.key_id)
    for region in REGIONS:  # what a restart leaves of moto: nothing
        apigateway = boto3.client("apigateway", region_name=region)
        for key in apigateway.get_api_keys()["items"]:
            apigateway.delete_api_key(apiKey=key["id"])

    assert run_rebuild().api_keys == 1

    for region in REGIONS:
        apigateway = boto3.client("apigateway", region_name=region)
        (key,) = apigateway.get_api_keys(includeValues=True)["items"]
        assert (key["name"], key["value"]) == (
            config.api_key_name(kept.key_id),
            placeholder_value(kept.key_id),
        )
        plans = {p["id"]: p["name"] for p in apigateway.get_usage_plans()["items"]}
        members = [
            name
            for plan_id, name in plans.items()
            if key["id"] in {k["id"] for k in apigateway.get_usage_plan_keys(usagePlanId=plan_id)["items"]}
        ]
        assert members == [config.usage_plan_name("standard")]


def test_the_clock_reads_a_jobs_times_and_which_fires_never_ran() -> None:
    job = job_service().create(principal(), spec(), None).job
    dynamodb = client_for("dynamodb", SERVING)
    times = job_times(dynamodb, JobKey("acme", job["job_id"]))
    assert times is not None
    assert [t.isoformat().replace("+00:00", "Z") for t in (times.created_at, times.updated_at)] == [
        job["created_at"],
        job["updated_at"],
    ]
    assert job_times(dynamodb, JobKey("acme", "job_missing")) is None

    ran, lost = datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, 0, 10, tzinfo=UTC)
    execution_id = FireMessage(
        tenant="acme", job_id=job["job_id"], job_version=1, scheduled_time=ran
    ).effective_execution_id
    dynamodb.put_item(
        TableName=config.EXECUTIONS_TABLE,
        Item=to_item(
            {
                "pk": execution_pk(JobKey("acme", job["job_id"])),
                "sk": execution_sk(execution_id),
                "status": "succeeded",
            }
        ),
    )
    assert unexecuted(dynamodb, JobKey("acme", job["job_id"]), [ran, lost]) == [lost]


def test_recovery_sends_again_what_a_running_execution_needs() -> None:
    dynamodb = client_for("dynamodb", SERVING)
    now = datetime.now(UTC)
    base = {"tenant": "acme", "job_id": "job_1", "job_version": 1, "trigger": "schedule", "status": "running"}
    items = {
        "exe_retry": {
            "attempts": 1,
            "lease_until": 0,
            "next_attempt_at": (now - timedelta(minutes=5)).isoformat(),
        },
        "exe_orphan": {"attempts": 2, "lease_until": int(now.timestamp()) - 10},
        "exe_held": {"attempts": 1, "lease_until": int(now.timestamp()) + 600},
    }
    for execution_id, fields in items.items():
        item = {
            **base,
            **fields,
            "execution_id": execution_id,
            "scheduled_at": "2030-01-01T00:00:00Z",
            "pk": execution_pk(JobKey("acme", "job_1")),
            "sk": execution_sk(execution_id),
        }
        dynamodb.put_item(TableName=config.EXECUTIONS_TABLE, Item=to_item(item))
    dynamodb.put_item(
        TableName=config.EXECUTIONS_TABLE,
        Item=to_item({**base, "status": "succeeded", "pk": "TENANT#acme#JOB#job_1", "sk": "EXEC#exe_done"}),
    )
    sent: list[FireMessage] = []

    assert recover(dynamodb, sent.append, now) == 2

    assert sorted((m.execution_id, m.attempt) for m in sent) == [("exe_orphan", 2), ("exe_retry", 2)]


def test_the_gateways_key_check_remembers_a_key_only_while_api_gateway_holds_it() -> None:
    store = DynamoKeyStore(client_for("dynamodb", SERVING), config.JOBS_TABLE)
    service = KeyService(store, [ApiGatewayKeyRegistry(client_for("apigateway", r), r) for r in REGIONS])
    record, value = service.create("acme", "premium", "admin")
    registered = moto_key_registered(LOCAL_ACCOUNT_ID, SERVING)
    check = remembered_key_check(store, registered)
    assert registered(record.key_id) and not registered("key_never_made")
    first = check(value)
    assert first is not None and first.key_id == record.key_id

    service.revoke(record.key_id)  # what `jobsched keys revoke` does before it returns

    assert not registered(record.key_id)
    assert check(value) is None
    assert run_rebuild().api_keys == 0  # and a restart does not bring it back


def test_the_clocks_listing_reads_moto_schedules_from_memory() -> None:
    job_service().create(principal(), spec(), idempotency_key=None)
    run_rebuild()
    summaries = moto_schedule_summaries(LOCAL_ACCOUNT_ID)
    listed = summaries(SERVING, config.SCHEDULE_GROUP)
    assert listed is not None
    assert [(s["Name"], s["State"]) for s in listed] == [(s["Name"], s["State"]) for s in schedules(SERVING)]
    assert summaries(SERVING, "no-such-group") is None
