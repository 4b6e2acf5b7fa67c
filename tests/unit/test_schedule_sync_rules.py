"""Schedule mapping and schedule-sync decisions on in-memory fakes (no AWS)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from jobsched.jobs.models import Job, JobStatus, ScheduleState
from jobsched.keyscheme import JobKey
from jobsched.scheduling.adapters.scheduler import fire_token_of, scheduler_input_template
from jobsched.scheduling.adapters.stream_records import handle_stream_event, job_change
from jobsched.scheduling.sync import (
    ChangeKind,
    ExistingSchedule,
    JobChange,
    Outcome,
    ScheduleDefinition,
    ScheduleRejected,
    ScheduleSync,
    render_schedule,
    schedule_name,
    version_in_description,
)
from jobsched_local.stream_feeder import concerns
from tests.support.emf import captured_logs, log_records

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def job(**overrides: Any) -> Job:
    base: dict[str, Any] = {
        "job_id": "job_01abc",
        "name": "report",
        "region": "us-east-1",
        "version": 3,
        "created_at": NOW,
        "updated_at": NOW,
        "created_by": "k",
        "updated_by": "k",
        "status": "active",
        "schedule": {"expression": "cron(0 18 ? * MON-FRI *)", "timezone": "Asia/Tokyo"},
        "target": {"url": "https://example.com/hook"},
    }
    base.update(overrides)
    return Job.model_validate(base)


class FakeGateway:
    def __init__(self) -> None:
        self.schedules: dict[str, ScheduleDefinition] = {}
        self.writes: list[str] = []
        self.reject = False

    def get(self, name: str) -> ExistingSchedule | None:
        found = self.schedules.get(name)
        return (
            ExistingSchedule(f"arn:{name}", found.version, found.enabled, found.fire_token) if found else None
        )

    def create(self, definition: ScheduleDefinition) -> str:
        return self._put("create", definition)

    def update(self, definition: ScheduleDefinition) -> str:
        return self._put("update", definition)

    def delete(self, name: str) -> bool:
        self.writes.append("delete")
        return self.schedules.pop(name, None) is not None

    def _put(self, verb: str, definition: ScheduleDefinition) -> str:
        if self.reject:
            raise ScheduleRejected("the scheduler refused the schedule: bad")
        self.writes.append(verb)
        self.schedules[definition.name] = definition
        return f"arn:{definition.name}"


class FakeStore:
    def __init__(self, current: Job | None) -> None:
        self.job = current
        self.states: list[tuple[ScheduleState, str | None, str | None]] = []
        self.completed = False

    def current(self, job: JobKey) -> Job | None:
        return self.job

    def record_schedule_state(self, job: JobKey, **kw: Any) -> bool:
        self.states.append((kw["state"], kw["arn"], kw["error"]))
        return True

    def mark_completed(self, job: JobKey, *, version: int, at: datetime) -> bool:
        self.completed = True
        return True


def change(
    kind: ChangeKind = ChangeKind.MODIFY, old: int | None = 2, new: int | None = 3, **kw: Any
) -> JobChange:
    return JobChange("1", kind, "acme", "job_01abc", old, new, **kw)


def sync_of(current: Job | None, region: str = "us-east-1") -> tuple[ScheduleSync, FakeGateway, FakeStore]:
    gateway, store = FakeGateway(), FakeStore(current)
    return ScheduleSync(region, gateway, store, clock=lambda: NOW), gateway, store


def test_schedule_names_are_deterministic_and_fit_64_characters() -> None:
    assert schedule_name(JobKey("acme", "job_01abc")) == "acme.job_01abc"
    long_name = schedule_name(JobKey("t" * 63, "job_" + "0" * 26))
    assert len(long_name) <= 64
    assert long_name == schedule_name(JobKey("t" * 63, "job_" + "0" * 26))
    assert long_name != schedule_name(JobKey("t" * 62 + "u", "job_" + "0" * 26))


def test_render_maps_the_job_onto_the_schedule() -> None:
    definition = render_schedule("acme", job(enabled=False, status="paused"))
    assert (definition.expression.text, definition.timezone, definition.enabled) == (
        "cron(0 18 ? * MON-FRI *)",
        "Asia/Tokyo",
        False,
    )
    assert definition.delete_after_completion is False
    assert version_in_description(definition.description) == 3
    assert (definition.job, definition.version) == (JobKey("acme", "job_01abc"), 3)
    assert render_schedule(
        "acme", job(schedule={"expression": "at(2031-01-01T00:00:00)"})
    ).delete_after_completion


def test_render_carries_the_jobs_parsed_expression() -> None:
    current = job()
    # The very value the job model parsed: schedule-sync and the Scheduler adapter never parse again.
    assert render_schedule("acme", current).expression is current.schedule.expression


def test_a_change_creates_then_a_replay_writes_nothing() -> None:
    sync, gateway, store = sync_of(job())
    assert sync.apply(change()) is Outcome.CREATED
    store.job = job(schedule_state="synced", schedule_arn="arn:acme.job_01abc")
    assert sync.apply(change()) is Outcome.UNCHANGED
    assert gateway.writes == ["create"]
    assert store.states == [(ScheduleState.SYNCED, "arn:acme.job_01abc", None)]


def test_own_writes_and_older_records_are_skipped() -> None:
    sync, gateway, _ = sync_of(job())
    assert sync.apply(change(old=3, new=3)) is Outcome.SKIPPED
    assert sync.apply(change(old=1, new=2)) is Outcome.SKIPPED
    assert gateway.writes == []


def test_a_job_elsewhere_deleted_or_completed_loses_its_schedule_here() -> None:
    for current in (job(region="eu-west-1"), None, job(status=JobStatus.COMPLETED)):
        sync, gateway, _ = sync_of(current)
        gateway.schedules["acme.job_01abc"] = render_schedule("acme", job())
        assert (
            sync.apply(change(ChangeKind.REMOVE if current is None else ChangeKind.MODIFY)) is Outcome.DELETED
        )
        assert gateway.schedules == {}


def test_a_refused_definition_is_recorded_as_an_error_not_retried() -> None:
    sync, gateway, store = sync_of(job())
    gateway.reject = True
    assert sync.apply(change()) is Outcome.REJECTED
    assert store.states[0][0] is ScheduleState.ERROR
    assert "refused" in (store.states[0][2] or "")


def test_a_refused_definition_is_reported_with_its_job() -> None:
    gateway, store = FakeGateway(), FakeStore(job())
    gateway.reject = True
    rejected: list[tuple[JobKey, str]] = []
    sync = ScheduleSync(
        "us-east-1",
        gateway,
        store,
        clock=lambda: NOW,
        on_rejected=lambda key, why: rejected.append((key, why)),
    )
    assert sync.process_batch([change()]).failed_record_id is None  # not retried
    assert rejected == [(JobKey("acme", "job_01abc"), "the scheduler refused the schedule: bad")]


def test_an_at_job_in_the_past_is_never_recreated_and_completes_after_its_run() -> None:
    past = job(schedule={"expression": "at(2029-12-31T00:00:00)"})
    sync, gateway, store = sync_of(past)
    assert sync.apply(change()) is Outcome.SKIPPED
    ran = job(
        schedule={"expression": "at(2029-12-31T00:00:00)"},
        last_execution={"execution_id": "e", "status": "succeeded", "scheduled_at": "2029-12-31T00:00:00Z"},
    )
    sync, gateway, store = sync_of(ran)
    assert sync.apply(change(old=3, new=3, ran=True)) is Outcome.COMPLETED
    assert store.completed and gateway.writes == []


def test_the_batch_stops_at_the_first_failure_and_reports_it() -> None:
    class Boom(FakeGateway):
        def get(self, name: str) -> ExistingSchedule | None:
            raise RuntimeError("throttled")

    store = FakeStore(job())
    sync = ScheduleSync("us-east-1", Boom(), store)
    record = {
        "eventName": "MODIFY",
        "dynamodb": {
            "SequenceNumber": "42",
            "Keys": {"pk": {"S": "TENANT#acme"}, "sk": {"S": "JOB#job_01abc"}},
            "OldImage": {"version": {"N": "2"}},
            "NewImage": {"version": {"N": "3"}},
        },
    }
    counter = {
        "eventName": "MODIFY",
        "dynamodb": {"Keys": {"pk": {"S": "TENANT#acme"}, "sk": {"S": "COUNT#jobs"}}},
    }
    assert job_change(counter) is None
    assert handle_stream_event(sync, {"Records": [counter, record]}) == {
        "batchItemFailures": [{"itemIdentifier": "42"}]
    }


def test_a_record_that_cannot_be_read_is_logged_with_its_job_and_reported_after_the_ones_before() -> None:
    store = FakeStore(job())
    gateway = FakeGateway()
    sync = ScheduleSync("us-east-1", gateway, store, clock=lambda: NOW)
    keys = {"pk": {"S": "TENANT#acme"}, "sk": {"S": "JOB#job_01abc"}}
    good = {
        "eventName": "INSERT",
        "dynamodb": {"SequenceNumber": "41", "Keys": keys, "NewImage": {"version": {"N": "3"}}},
    }
    unreadable = {"eventName": "TRUNCATE", "dynamodb": {"SequenceNumber": "42", "Keys": keys}}
    with captured_logs() as logs:
        answer = handle_stream_event(sync, {"Records": [good, unreadable, good]})
    assert answer == {"batchItemFailures": [{"itemIdentifier": "42"}]}
    assert gateway.writes == ["create"]  # the record before it was applied, the one after waits
    [line] = [r for r in log_records(logs) if r["message"] == "schedule-sync failed"]
    assert (line["tenant"], line["job_id"]) == ("acme", "job_01abc")
    assert line["error"].startswith("ValueError: ")


def test_the_schedule_input_carries_the_jobs_fire_token() -> None:
    definition = render_schedule("acme", job(fire_token="tok-A"))
    assert definition.fire_token == "tok-A" and "tok-A" not in repr(definition)
    template = scheduler_input_template(definition.job, definition.version, "tok-A")
    assert json.loads(template.replace("<aws.scheduler.attempt-number>", "1"))["fire_token"] == "tok-A"
    assert fire_token_of(template) == "tok-A"
    assert render_schedule("acme", job()).fire_token is None  # a job from before tokens: none to give
    assert "fire_token" not in scheduler_input_template(JobKey("acme", "job_01abc"), 3, None)
    assert fire_token_of(scheduler_input_template(JobKey("acme", "job_01abc"), 3, None)) is None
    assert fire_token_of("not json") is None and fire_token_of(None) is None


def test_a_job_given_its_token_later_gets_its_schedule_rewritten_at_the_same_version() -> None:
    sync, gateway, store = sync_of(job())
    assert sync.apply(change()) is Outcome.CREATED
    store.job = job(fire_token="tok-late", schedule_state="synced", schedule_arn="arn:acme.job_01abc")
    token_record = {
        "eventName": "MODIFY",
        "dynamodb": {
            "SequenceNumber": "43",
            "Keys": {"pk": {"S": "TENANT#acme"}, "sk": {"S": "JOB#job_01abc"}},
            "OldImage": {"version": {"N": "3"}},
            "NewImage": {"version": {"N": "3"}, "fire_token": {"S": "tok-late"}},
        },
    }
    rekeyed = job_change(token_record)
    assert rekeyed is not None and rekeyed.rekeyed and rekeyed.redefines

    assert sync.apply(rekeyed) is Outcome.UPDATED
    assert gateway.schedules["acme.job_01abc"].fire_token == "tok-late"
    assert sync.apply(rekeyed) is Outcome.UNCHANGED  # a replay of the same record writes nothing
    assert gateway.writes == ["create", "update"]


def test_a_write_that_keeps_version_and_token_does_not_wake_the_sync() -> None:
    same = {
        "eventName": "MODIFY",
        "dynamodb": {
            "Keys": {"pk": {"S": "TENANT#acme"}, "sk": {"S": "JOB#job_01abc"}},
            "OldImage": {"version": {"N": "3"}, "fire_token": {"S": "t"}},
            "NewImage": {"version": {"N": "3"}, "fire_token": {"S": "t"}, "schedule_state": {"S": "synced"}},
        },
    }
    change_ = job_change(same)
    assert change_ is not None and not change_.redefines


def test_a_regions_sync_gets_only_the_records_of_jobs_homed_there_before_or_after() -> None:
    def record(old: str | None, new: str | None) -> dict[str, object]:
        images = {
            name: {"pk": {"S": "TENANT#acme"}, **({"region": {"S": region}} if region else {})}
            for name, region in (("OldImage", old), ("NewImage", new))
            if region is not None or name == "NewImage"
        }
        return {"eventName": "MODIFY", "dynamodb": images}

    moved = record("us-east-1", "eu-west-1")
    assert [concerns(moved, r) for r in ("us-east-1", "eu-west-1", "ap-south-1")] == [True, True, False]
    created = record(None, "ap-south-1")
    assert [concerns(created, r) for r in ("us-east-1", "ap-south-1")] == [False, True]
    no_region = {"eventName": "INSERT", "dynamodb": {"NewImage": {"pk": {"S": "KEY#x"}}}}
    assert concerns(no_region, "us-east-1") and concerns({"eventName": "REMOVE"}, "eu-west-1")
