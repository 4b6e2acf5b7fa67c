"""The job census counts active jobs across tenants, and its function emits them as active_jobs_gauge."""

from __future__ import annotations

import importlib
from typing import Any

import boto3
import pytest

from jobsched import config, telemetry
from jobsched.api.auth import Principal
from jobsched.config import Role, Tier
from jobsched.jobs.adapters.job_census import count_active_jobs, tenants
from jobsched.jobs.adapters.job_store import DynamoJobStore
from jobsched.jobs.models import JobSpec
from jobsched.jobs.service import JobService
from jobsched.settings import Settings
from tests.support.emf import emitted_metrics, named

pytestmark = pytest.mark.usefixtures("aws")


def create(tenant: str, **overrides: Any) -> dict[str, Any]:
    service = JobService(
        DynamoJobStore(boto3.client("dynamodb"), config.JOBS_TABLE),
        Settings(region="us-east-1"),
        resolver=lambda host, port: ["93.184.215.14"],
    )
    spec = {
        "name": "report",
        "schedule": {"expression": "rate(5 minutes)"},
        "target": {"url": "https://hooks.example.com/r"},
    } | overrides
    principal = Principal(tenant=tenant, role=Role.ADMIN, tier=Tier.BASIC, key_id="key_census")
    return service.create(principal, JobSpec.model_validate(spec)).job


def test_active_jobs_of_every_tenant_are_counted_and_paused_ones_are_not() -> None:
    client = boto3.client("dynamodb")
    assert count_active_jobs(client, config.JOBS_TABLE) == 0
    for _ in range(3):
        create("acme")
    create("acme", enabled=False)
    create("globex")
    create("initech", enabled=False)
    assert sorted(tenants(client, config.JOBS_TABLE)) == ["acme", "globex", "initech"]
    assert count_active_jobs(client, config.JOBS_TABLE) == 4


def test_the_census_function_emits_the_gauge(capsys: pytest.CaptureFixture[str]) -> None:
    create("acme")
    create("globex")
    census = importlib.import_module("functions.job_metrics.handler")
    assert census.handler({}, None) == {"active_jobs": 2, "schedules_in_error": 0, "stuck_executions": 0}
    [gauge] = named(emitted_metrics(capsys.readouterr().out), telemetry.ACTIVE_JOBS_GAUGE)
    assert gauge.values == [2.0]
