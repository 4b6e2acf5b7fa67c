"""Shared set-up of the scheduling tests on moto: jobs written by the Job API's store, the stream fed to
one schedule-sync per region (as the local runtime does), and helpers to read the schedules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3

from jobsched import config
from jobsched.api.auth import Principal
from jobsched.config import Role, Tier
from jobsched.jobs.adapters.job_store import DynamoJobStore
from jobsched.jobs.models import JobSpec
from jobsched.jobs.service import JobService
from jobsched.settings import Settings
from jobsched.targets.adapters.dns import resolve_host
from jobsched_local.lambda_context import LOCAL_ACCOUNT_ID as ACCOUNT_ID
from jobsched_local.scheduling_provision import provision_scheduling
from jobsched_local.stream_feeder import STREAMS_CLIENT_CONFIG, StreamFeeder, StreamReader, local_syncs

REGIONS = ("us-east-1", "eu-west-1")
SERVING = "us-east-1"


def client_for(service: str, region: str) -> Any:
    if service in ("dynamodb", "dynamodbstreams"):
        return boto3.client(service, region_name=region, config=STREAMS_CLIENT_CONFIG)
    return boto3.client(service, region_name=region)


def principal(tenant: str = "acme", role: Role = Role.ADMIN) -> Principal:
    return Principal(tenant=tenant, role=role, tier=Tier.PREMIUM, key_id="key_test")


def job_service() -> JobService:
    settings = Settings(region=SERVING, regions=REGIONS)
    store = DynamoJobStore(client_for("dynamodb", SERVING), config.JOBS_TABLE)
    return JobService(store, settings, resolver=resolve_host)


def spec(**schedule: Any) -> JobSpec:
    return JobSpec.model_validate(
        {
            "name": "report",
            "schedule": {"expression": "cron(0 18 ? * MON-FRI *)", "timezone": "Asia/Tokyo", **schedule},
            "target": {"url": "https://hooks.example.com/report"},
        }
    )


class Harness:
    def __init__(self, dead: list[tuple[str, Any]] | None = None) -> None:
        provision_scheduling(REGIONS, client_for)
        self.syncs = local_syncs(REGIONS, SERVING, client_for, ACCOUNT_ID)
        self.reader = StreamReader(
            client_for("dynamodb", SERVING), client_for("dynamodbstreams", SERVING), config.JOBS_TABLE
        )
        self.dead: list[tuple[str, Any]] = dead if dead is not None else []
        self.feeder = StreamFeeder(self.reader, self.syncs, lambda r, recs: self.dead.append((r, recs)))

    def settle(self, rounds: int = 4) -> None:
        """Feed until the sync's own writes have been read back too."""
        for _ in range(rounds):
            self.feeder.feed()


def schedules(region: str) -> list[dict[str, Any]]:
    scheduler = client_for("scheduler", region)
    names = [s["Name"] for s in scheduler.list_schedules(GroupName=config.SCHEDULE_GROUP)["Schedules"]]
    return [scheduler.get_schedule(Name=name, GroupName=config.SCHEDULE_GROUP) for name in names]


def stored(tenant: str, job_id: str) -> dict[str, Any]:
    from jobsched.aws.dynamodb import from_item
    from jobsched.keyscheme import job_sk, tenant_pk

    item = client_for("dynamodb", SERVING).get_item(
        TableName=config.JOBS_TABLE,
        Key={"pk": {"S": tenant_pk(tenant)}, "sk": {"S": job_sk(job_id)}},
        ConsistentRead=True,
    )
    return from_item(item["Item"])


def future(seconds: int) -> str:
    return datetime.fromtimestamp(datetime.now(UTC).timestamp() + seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
