"""JobService on the in-memory jobs table: create, read, list, replace, delete, idempotency, versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jobsched.api.auth import Principal
from jobsched.config import Role, Tier
from jobsched.errors import Conflict, Forbidden, InvalidInput, LimitExceeded, NotFound, PreconditionFailed
from jobsched.jobs.models import JobSpec, JobStatus
from jobsched.jobs.ports import JobFilters
from jobsched.jobs.service import JobService
from jobsched.keyscheme import JobKey
from jobsched.settings import Settings
from tests.support.fakes import InMemoryJobs

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
OPERATOR = Principal(tenant="acme", role=Role.OPERATOR, tier=Tier.STANDARD, key_id="key_op")
VIEWER = Principal(tenant="acme", role=Role.VIEWER, tier=Tier.STANDARD, key_id="key_view")
ADMIN = Principal(tenant="acme", role=Role.ADMIN, tier=Tier.STANDARD, key_id="key_admin")
OTHER = Principal(tenant="globex", role=Role.ADMIN, tier=Tier.STANDARD, key_id="key_other")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def spec(**overrides: Any) -> JobSpec:
    body: dict[str, Any] = {
        "name": "nightly report",
        "tags": {"team": "billing"},
        "schedule": {"expression": "rate(1 hour)"},
        "target": {"type": "http", "url": "https://hooks.example.com/report"},
    }
    return JobSpec.model_validate(body | overrides)


@pytest.fixture
def table() -> InMemoryJobs:
    return InMemoryJobs()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(table: InMemoryJobs, clock: Clock) -> JobService:
    settings = Settings(region="us-east-1", regions=("us-east-1", "eu-west-1"), max_jobs_per_tenant=3)
    # A public address for every host: no DNS lookups in unit tests.
    return JobService(table, settings, clock=clock, resolver=lambda host, port: ["93.184.216.34"])


def test_create_stores_the_job_under_the_callers_tenant_with_a_secret_and_a_fire_token(
    service: JobService, table: InMemoryJobs
) -> None:
    created = service.create(OPERATOR, spec())

    job_id = created.job["job_id"]
    stored = table.jobs[JobKey("acme", job_id)]
    assert (created.job["version"], created.job["region"], created.job["status"]) == (
        1,
        "us-east-1",
        "active",
    )
    assert created.job["webhook_secret"].startswith("whsec_")
    assert table.secrets[JobKey("acme", job_id)] == created.job["webhook_secret"]
    assert stored.fire_token is not None and "fire_token" not in created.job
    assert (stored.created_by, stored.created_at) == ("key_op", NOW)
    assert created.job["next_run_at"] == "2026-12-01T10:00:00Z"
    assert table.counts == {"acme": 1}


def test_a_viewer_may_read_but_not_write(service: JobService) -> None:
    job_id = service.create(OPERATOR, spec()).job["job_id"]

    assert service.get(VIEWER, job_id).job_id == job_id
    for write in (
        lambda: service.create(VIEWER, spec()),
        lambda: service.replace(VIEWER, job_id, spec(), None),
        lambda: service.delete(VIEWER, job_id),
        lambda: service.rotate_webhook_secret(VIEWER, job_id),
    ):
        with pytest.raises(Forbidden):
            write()


def test_another_tenants_job_is_not_found(service: JobService) -> None:
    job_id = service.create(OPERATOR, spec()).job["job_id"]

    with pytest.raises(NotFound):
        service.get(OTHER, job_id)
    with pytest.raises(NotFound):
        service.delete(OTHER, job_id)
    assert service.list(OTHER, limit=10, next_token=None, filters=JobFilters()).items == []


def test_a_home_region_outside_the_configured_ones_is_refused(service: JobService) -> None:
    with pytest.raises(InvalidInput) as refused:
        service.create(OPERATOR, spec(region="ap-south-1"))
    assert refused.value.details == [{"field": "region", "message": "must be one of: us-east-1, eu-west-1"}]


def test_a_private_target_is_refused_at_create() -> None:
    settings = Settings(region="us-east-1", regions=("us-east-1",))
    service = JobService(InMemoryJobs(), settings, clock=Clock(), resolver=lambda host, port: ["10.0.0.7"])
    with pytest.raises(InvalidInput) as refused:
        service.create(OPERATOR, spec())
    assert [detail["field"] for detail in refused.value.details] == ["target.url"]


def test_the_tenants_job_limit_holds(service: JobService) -> None:
    for _ in range(3):
        service.create(OPERATOR, spec())
    with pytest.raises(LimitExceeded):
        service.create(OPERATOR, spec())
    assert service.create(OTHER, spec()).job["version"] == 1  # another tenant has its own count


def test_the_same_idempotency_key_and_body_replays_the_first_answer(
    service: JobService, table: InMemoryJobs
) -> None:
    first = service.create(OPERATOR, spec(), idempotency_key="create-1")
    again = service.create(OPERATOR, spec(), idempotency_key="create-1")

    assert again.replayed and not first.replayed
    assert again.job == first.job
    assert again.job["webhook_secret"] == first.job["webhook_secret"]
    assert len(table.jobs) == 1


def test_the_same_idempotency_key_with_another_body_is_a_conflict(service: JobService) -> None:
    service.create(OPERATOR, spec(), idempotency_key="create-1")
    with pytest.raises(Conflict):
        service.create(OPERATOR, spec(name="another"), idempotency_key="create-1")


def test_an_idempotency_key_counts_only_for_24_hours(service: JobService, clock: Clock) -> None:
    first = service.create(OPERATOR, spec(), idempotency_key="create-1")
    clock.now += timedelta(hours=24, seconds=1)
    later = service.create(OPERATOR, spec(), idempotency_key="create-1")
    assert not later.replayed and later.job["job_id"] != first.job["job_id"]


def test_replace_bumps_the_version_and_checks_if_match(service: JobService, clock: Clock) -> None:
    job_id = service.create(OPERATOR, spec()).job["job_id"]
    clock.now += timedelta(minutes=5)

    replaced = service.replace(OPERATOR, job_id, spec(name="renamed", enabled=False), '"1"')

    assert (replaced.name, replaced.version, replaced.status) == ("renamed", 2, JobStatus.PAUSED)
    assert (replaced.updated_at, replaced.created_at) == (clock.now, NOW)
    with pytest.raises(PreconditionFailed):
        service.replace(OPERATOR, job_id, spec(), '"1"')  # stale: the job is at version 2 now
    with pytest.raises(PreconditionFailed):
        service.replace(OPERATOR, job_id, spec(), '"two"')
    assert service.replace(OPERATOR, job_id, spec(), "*").version == 3


def test_replace_or_delete_of_a_missing_job_is_not_found(service: JobService) -> None:
    with pytest.raises(NotFound):
        service.replace(OPERATOR, "job_missing", spec(), None)
    with pytest.raises(NotFound):
        service.delete(OPERATOR, "job_missing")


def test_delete_checks_if_match_and_frees_the_tenants_count(service: JobService, table: InMemoryJobs) -> None:
    job_id = service.create(OPERATOR, spec()).job["job_id"]

    with pytest.raises(PreconditionFailed):
        service.delete(OPERATOR, job_id, '"7"')
    service.delete(OPERATOR, job_id, '"1"')

    assert table.counts == {"acme": 0}
    # The job item is gone, so who deleted it is in the tenant's audit trail.
    assert table.audit == [("acme", "job.deleted", job_id, OPERATOR.key_id)]
    with pytest.raises(NotFound):
        service.get(OPERATOR, job_id)


def test_rotating_the_webhook_secret_replaces_it_without_a_new_version(
    service: JobService, table: InMemoryJobs
) -> None:
    created = service.create(OPERATOR, spec())
    job_id = created.job["job_id"]

    with pytest.raises(Forbidden):
        service.rotate_webhook_secret(OPERATOR, job_id)  # rotating a secret is an admin's alone
    secret = service.rotate_webhook_secret(ADMIN, job_id)

    assert secret != created.job["webhook_secret"] and table.secrets[JobKey("acme", job_id)] == secret
    assert service.get(OPERATOR, job_id).version == 1
    assert table.audit == [("acme", "job.webhook_secret_rotated", job_id, ADMIN.key_id)]


def test_list_pages_through_the_tenants_jobs_in_creation_order(service: JobService, clock: Clock) -> None:
    ids = []
    for index in range(3):
        clock.now += timedelta(seconds=1)
        ids.append(service.create(OPERATOR, spec(name=f"job {index}")).job["job_id"])

    first = service.list(OPERATOR, limit=2, next_token=None, filters=JobFilters())
    assert [job.job_id for job in first.items] == ids[:2] and first.next_token is not None
    second = service.list(OPERATOR, limit=2, next_token=first.next_token, filters=JobFilters())
    assert [job.job_id for job in second.items] == ids[2:] and second.next_token is None


def test_list_filters_by_status_and_name(service: JobService) -> None:
    service.create(OPERATOR, spec(name="report a"))
    paused = service.create(OPERATOR, spec(name="cleanup", enabled=False)).job["job_id"]

    by_status = service.list(OPERATOR, limit=10, next_token=None, filters=JobFilters(status=JobStatus.PAUSED))
    by_name = service.list(OPERATOR, limit=10, next_token=None, filters=JobFilters(name_prefix="report"))
    assert [job.job_id for job in by_status.items] == [paused]
    assert [job.name for job in by_name.items] == ["report a"]
