"""ScheduleControl and region moves on the in-memory jobs table: pause, resume, status, move."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from jobsched.api.auth import Principal
from jobsched.config import Role, Tier
from jobsched.errors import Conflict, Forbidden, InvalidInput, NotFound
from jobsched.jobs.models import Job, JobStatus, ScheduleState
from jobsched.keyscheme import JobKey
from jobsched.scheduling.control import ScheduleControl, jobs_to_move, move_jobs
from tests.support.fakes import InMemoryJobs, stored_job

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
OPERATOR = Principal(tenant="acme", role=Role.OPERATOR, tier=Tier.BASIC, key_id="key_op")
VIEWER = Principal(tenant="acme", role=Role.VIEWER, tier=Tier.BASIC, key_id="key_view")
OTHER = Principal(tenant="globex", role=Role.ADMIN, tier=Tier.BASIC, key_id="key_other")
REGIONS = ("us-east-1", "eu-west-1")


def job(job_id: str, **fields: Any) -> Job:
    return stored_job(job_id, NOW, **fields)


@pytest.fixture
def table() -> InMemoryJobs:
    table = InMemoryJobs()
    for tenant, stored in (
        ("acme", job("job_a")),
        ("acme", job("job_b", region="eu-west-1", schedule_state="pending")),
        ("acme", job("job_done", status="completed", schedule={"expression": "at(2026-11-30T10:00:00)"})),
        ("globex", job("job_g")),
    ):
        table.jobs[JobKey(tenant, stored.job_id)] = stored
    return table


@pytest.fixture
def control(table: InMemoryJobs) -> ScheduleControl:
    return ScheduleControl(table, "us-east-1", clock=lambda: NOW)


def test_pause_disables_the_job_with_its_note_and_a_new_version(
    control: ScheduleControl, table: InMemoryJobs
) -> None:
    paused = control.pause(OPERATOR, "job_a", note="maintenance")

    stored = table.jobs[JobKey("acme", "job_a")]
    assert (paused.enabled, paused.status, paused.version, paused.pause_note) == (
        False,
        JobStatus.PAUSED,
        2,
        "maintenance",
    )
    assert (stored.schedule_state, stored.updated_by, stored.updated_at) == (
        ScheduleState.PENDING,
        "key_op",
        NOW,
    )
    assert paused.next_run_at is None


def test_pausing_twice_writes_once_and_resume_brings_it_back(control: ScheduleControl) -> None:
    control.pause(OPERATOR, "job_a")
    again = control.pause(OPERATOR, "job_a")
    resumed = control.resume(OPERATOR, "job_a")

    assert again.version == 2  # already paused: no write
    assert (resumed.enabled, resumed.status, resumed.version, resumed.pause_note) == (
        True,
        JobStatus.ACTIVE,
        3,
        None,
    )
    assert resumed.next_run_at is not None and resumed.next_run_at > NOW


def test_a_viewer_may_not_pause_or_resume(control: ScheduleControl) -> None:
    with pytest.raises(Forbidden):
        control.pause(VIEWER, "job_a")
    with pytest.raises(Forbidden):
        control.resume(VIEWER, "job_a")


def test_another_tenants_or_an_unknown_job_is_not_found(control: ScheduleControl) -> None:
    with pytest.raises(NotFound):
        control.pause(OTHER, "job_a")
    with pytest.raises(NotFound):
        control.resume(OPERATOR, "job_nope")


def test_a_completed_job_cannot_be_paused_or_resumed(control: ScheduleControl) -> None:
    with pytest.raises(Conflict):
        control.pause(OPERATOR, "job_done")


def test_resuming_a_one_off_in_the_past_is_refused(table: InMemoryJobs, control: ScheduleControl) -> None:
    table.jobs[JobKey("acme", "job_once")] = job(
        "job_once", enabled=False, status="paused", schedule={"expression": "at(2026-11-30T10:00:00)"}
    )
    with pytest.raises(InvalidInput) as refused:
        control.resume(OPERATOR, "job_once")
    assert refused.value.details[0]["field"].startswith("schedule")


def test_a_change_racing_every_attempt_is_a_conflict(table: InMemoryJobs, control: ScheduleControl) -> None:
    table.set_enabled = lambda *args, **kwargs: None  # type: ignore[method-assign]
    with pytest.raises(Conflict):
        control.pause(OPERATOR, "job_a")


def test_status_counts_the_callers_jobs_per_region_and_the_sync_lag(control: ScheduleControl) -> None:
    status = control.status(OPERATOR)

    assert (status.tenant, status.region, status.generated_at) == ("acme", "us-east-1", NOW)
    assert {region: jobs.jobs for region, jobs in status.regions.items()} == {"eu-west-1": 1, "us-east-1": 2}
    assert status.regions["us-east-1"].by_status == {"active": 1, "completed": 1}
    assert status.sync.pending == 1 and status.sync.oldest_pending_seconds == 60.0
    assert [due.job_id for due in status.next_due] == ["job_a", "job_b"]
    assert all(due.at > NOW for due in status.next_due)


def test_moving_a_region_rehomes_its_jobs_once(table: InMemoryJobs) -> None:
    jobs = jobs_to_move(table, "us-east-1", tenant="acme")
    assert jobs == [JobKey("acme", "job_a"), JobKey("acme", "job_done")]

    first = move_jobs(table, jobs, from_region="us-east-1", to_region="eu-west-1", regions=REGIONS)
    second = move_jobs(table, jobs, from_region="us-east-1", to_region="eu-west-1", regions=REGIONS)

    assert (first.moved, first.already_moved, first.failed) == (2, 0, [])
    assert (second.moved, second.already_moved) == (0, 2)
    assert table.jobs[JobKey("acme", "job_a")].region == "eu-west-1"
    assert table.jobs[JobKey("globex", "job_g")].region == "us-east-1"


@pytest.mark.parametrize(("source", "target"), [("us-east-1", "us-east-1"), ("us-east-1", "ap-south-1")])
def test_a_move_needs_two_configured_regions(table: InMemoryJobs, source: str, target: str) -> None:
    with pytest.raises(InvalidInput):
        move_jobs(table, [], from_region=source, to_region=target, regions=REGIONS)
