"""The job model: what a caller may send, and the messages that name the offending field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from jobsched.jobs.adapters.job_store import job_from_item
from jobsched.jobs.models import Job, JobSpec, JobStatus, JobView, Schedule, runs_document, stored_preview
from jobsched.scheduling.expressions import ScheduleKind

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def spec(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "nightly report",
        "schedule": {"expression": "cron(0 18 ? * MON-FRI *)", "timezone": "Asia/Tokyo"},
        "target": {"type": "http", "url": "https://hooks.example.com/report"},
    }
    base.update(overrides)
    return base


def fields_of(error: ValidationError) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in error.errors()}


def test_defaults_fill_in() -> None:
    job = JobSpec.model_validate(spec())
    assert (job.priority, job.enabled, job.overlap_policy.value) == (5, True, "allow")
    assert (job.retry_policy.max_attempts, job.retry_policy.backoff_seconds) == (3, 30)
    assert job.target.method == "POST" and job.target.timeout_seconds == 30
    assert job.schedule.flexible_window_minutes == 0


def test_target_type_defaults_to_http() -> None:
    job = JobSpec.model_validate(spec(target={"url": "https://example.com/x"}))
    assert job.target.type == "http"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 129}, "name"),
        ({"priority": 10}, "priority"),
        ({"priority": 10**30}, "priority"),
        ({"priority": "high"}, "priority"),
        ({"tags": {f"k{i}": "v" for i in range(51)}}, "tags"),
        ({"schedule": {"expression": "cron(bogus)"}}, "schedule.expression"),
        ({"schedule": {"expression": "rate(1 minutes)"}}, "schedule.expression"),
        ({"schedule": {"expression": "rate(5 minute)"}}, "schedule.expression"),
        ({"schedule": {"expression": 5}}, "schedule.expression"),
        ({"schedule": {"expression": "rate(" + "1" * 300 + " minutes)"}}, "schedule.expression"),
        ({"schedule": {"expression": "rate(1 minute)", "timezone": "Nowhere/City"}}, "schedule.timezone"),
        (
            {"schedule": {"expression": "rate(1 minute)", "flexible_window_minutes": 1441}},
            "schedule.flexible_window_minutes",
        ),
        ({"target": {"type": "http", "url": "ftp://example.com"}}, "target.http.url"),
        ({"target": {"type": "carrier-pigeon", "url": "https://x"}}, "target"),
        ({"target": {"url": "https://x", "timeout_seconds": 901}}, "target.http.timeout_seconds"),
        ({"target": {"url": "https://x", "body": "x" * (64 * 1024 + 1)}}, "target.http.body"),
        (
            {"target": {"url": "https://x", "headers": {"bad header": "v"}}},
            "target.http.headers.bad header.[key]",
        ),
        (
            {"target": {"url": "https://x", "headers": {"X-Ok": "a\r\nInjected: 1"}}},
            "target.http.headers.X-Ok",
        ),
        ({"retry_policy": {"max_attempts": 11}}, "retry_policy.max_attempts"),
        ({"overlap_policy": "sometimes"}, "overlap_policy"),
        ({"job_id": "job_mine"}, "job_id"),
        ({"tenant": "someone-else"}, "tenant"),
        ({"version": 7}, "version"),
        ({"created_by": "me"}, "created_by"),
    ],
)
def test_bad_fields_are_named(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        JobSpec.model_validate(spec(**overrides))
    assert field in fields_of(caught.value)


def test_end_before_start_is_refused() -> None:
    with pytest.raises(ValidationError, match="end_at must be after start_at"):
        Schedule.model_validate(
            {
                "expression": "rate(1 hour)",
                "start_at": "2027-01-02T00:00:00Z",
                "end_at": "2027-01-01T00:00:00Z",
            }
        )


def test_window_without_offset_is_read_in_the_schedule_time_zone() -> None:
    schedule = Schedule.model_validate(
        {"expression": "rate(1 hour)", "timezone": "Asia/Kolkata", "start_at": "2027-01-01T05:30:00"}
    )
    assert schedule.start_at == datetime(2027, 1, 1, 0, 0, tzinfo=UTC)


def test_at_in_the_past_or_in_a_dst_gap_is_a_problem() -> None:
    past = Schedule.model_validate({"expression": "at(2020-01-01T00:00:00)"})
    field, why = past.first_fire_problem(NOW) or ("", "")
    assert (field, "in the past" in why) == ("schedule.expression", True)
    gap = Schedule.model_validate({"expression": "at(2027-03-14T02:30:00)", "timezone": "America/New_York"})
    field, why = gap.first_fire_problem(NOW) or ("", "")
    assert (field, "does not exist" in why) == ("schedule.expression", True)
    future = Schedule.model_validate(
        {"expression": "at(2027-03-14T03:30:00)", "timezone": "America/New_York"}
    )
    assert future.first_fire_problem(NOW) is None
    assert Schedule.model_validate({"expression": "rate(5 minutes)"}).first_fire_problem(NOW) is None


def _stored(**overrides: Any) -> Job:
    data = {
        **spec(),
        "job_id": "job_01",
        "region": "us-east-1",
        "version": 3,
        "created_at": NOW,
        "updated_at": NOW,
        "created_by": "key_a",
        "updated_by": "key_a",
        "status": JobStatus.ACTIVE,
    }
    data.update(overrides)
    return Job.model_validate(data)


def test_view_previews_five_runs_and_etag_follows_version() -> None:
    view = JobView.of(_stored(), NOW)
    assert len(view.next_runs) == 5 and view.next_run_at == view.next_runs[0]
    assert view.next_run_at == datetime(2026, 11, 30, 9, tzinfo=UTC)
    assert _stored().etag == '"3"'


def test_paused_job_has_no_next_runs() -> None:
    view = JobView.of(_stored(enabled=False, status=JobStatus.PAUSED), NOW)
    assert view.next_runs == [] and view.next_run_at is None


def test_stored_at_job_in_the_past_still_loads() -> None:
    job = _stored(schedule={"expression": "at(2020-01-01T00:00:00)"}, status=JobStatus.COMPLETED)
    assert JobView.of(job, NOW).next_runs == []


def test_a_current_stored_preview_is_copied_not_computed() -> None:
    # A preview no schedule would produce: if the read computed it, these times could not come back.
    kept = [datetime(2026, 12, 24, 9, tzinfo=UTC), datetime(2026, 12, 25, 9, tzinfo=UTC)]
    view = JobView.of(_stored(next_runs=kept), NOW)
    assert view.next_runs == kept and view.next_run_at == kept[0]


def test_a_stored_preview_whose_first_run_has_passed_is_computed_again() -> None:
    passed = [datetime(2026, 11, 26, 9, tzinfo=UTC), datetime(2026, 12, 24, 9, tzinfo=UTC)]
    view = JobView.of(_stored(next_runs=passed), NOW)
    assert view.next_runs == JobView.of(_stored(), NOW).next_runs
    assert view.next_run_at == datetime(2026, 11, 30, 9, tzinfo=UTC)


def test_an_empty_stored_preview_stays_empty_and_a_paused_job_shows_none() -> None:
    assert JobView.of(_stored(next_runs=[]), NOW).next_runs == []
    kept = [datetime(2026, 12, 24, 9, tzinfo=UTC)]
    assert JobView.of(_stored(enabled=False, status=JobStatus.PAUSED, next_runs=kept), NOW).next_runs == []


def test_stored_preview_is_what_a_read_at_write_time_shows() -> None:
    job = _stored()
    assert (
        stored_preview(job.schedule, True, NOW, created_at=job.created_at) == JobView.of(job, NOW).next_runs
    )
    assert stored_preview(job.schedule, False, NOW, created_at=job.created_at) == []


def test_a_rate_without_start_needs_the_creation_time_for_its_stored_preview() -> None:
    rate = Schedule.model_validate({"expression": "rate(7 minutes)"})
    assert stored_preview(rate, True, NOW, created_at=None) is None
    assert stored_preview(rate, True, NOW, created_at=NOW)[:2] == [
        datetime(2026, 11, 27, 12, 7, tzinfo=UTC),
        datetime(2026, 11, 27, 12, 14, tzinfo=UTC),
    ]
    started = Schedule.model_validate({"expression": "rate(7 minutes)", "start_at": "2026-11-27T12:01:00Z"})
    assert stored_preview(started, True, NOW, created_at=None)[0] == datetime(2026, 11, 27, 12, 1, tzinfo=UTC)
    assert runs_document([datetime(2026, 11, 27, 12, 1, tzinfo=UTC)]) == ["2026-11-27T12:01:00Z"]


def test_the_schedule_holds_the_parsed_expression_and_writes_the_same_text_back() -> None:
    job = JobSpec.model_validate(spec(schedule={"expression": "rate(5 minutes)"}))
    assert job.schedule.expression.kind is ScheduleKind.RATE
    assert job.schedule.expression.rate == timedelta(minutes=5)
    assert job.model_dump(mode="json")["schedule"]["expression"] == "rate(5 minutes)"
    assert json.loads(job.model_dump_json())["schedule"]["expression"] == "rate(5 minutes)"


def test_a_model_built_from_another_carries_its_parsed_expression() -> None:
    spec_model = JobSpec.model_validate(spec())
    job = Job.model_validate(
        {
            **dict(spec_model),
            "job_id": "job_1",
            "region": "us-east-1",
            "version": 1,
            "created_at": NOW,
            "updated_at": NOW,
            "created_by": "key",
            "updated_by": "key",
            "status": "active",
        }
    )
    assert job.schedule.expression is spec_model.schedule.expression


def test_a_stored_job_from_before_the_rate_unit_rule_still_loads() -> None:
    item = {
        **spec(schedule={"expression": "rate(5 minute)"}),
        "job_id": "job_1",
        "region": "us-east-1",
        "version": 1,
        "created_at": NOW.isoformat(),
        "updated_at": NOW.isoformat(),
        "created_by": "key",
        "updated_by": "key",
        "status": "active",
    }
    with pytest.raises(ValidationError):
        Job.model_validate(item)
    assert job_from_item(item).schedule.expression.rate == timedelta(minutes=5)
