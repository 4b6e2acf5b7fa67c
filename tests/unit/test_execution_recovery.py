"""Which message moves an execution a crash left running: the next attempt, the same one, or none yet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jobsched.execution.fire import Trigger
from jobsched_local.execution_recovery import RETRY_GRACE, message_at_start, message_to_resend

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


def running(**fields: Any) -> dict[str, Any]:
    return {
        "tenant": "acme",
        "job_id": "job_1",
        "execution_id": "exe_1",
        "job_version": 3,
        "scheduled_at": "2030-01-01T11:00:00Z",
        "trigger": "schedule",
        "attempts": 2,
        "status": "running",
        **fields,
    }


def test_an_overdue_retry_is_sent_as_the_next_attempt() -> None:
    overdue = (NOW - RETRY_GRACE - timedelta(seconds=1)).isoformat()
    message = message_to_resend(running(next_attempt_at=overdue, lease_until=0, retry_of="exe_0"), NOW)
    assert message is not None
    assert (message.execution_id, message.attempt, message.job_version) == ("exe_1", 3, 3)
    assert message.scheduled_time == datetime(2030, 1, 1, 11, tzinfo=UTC)
    assert (message.trigger, message.retry_of) == (Trigger.SCHEDULE, "exe_0")


def test_a_retry_still_on_its_way_is_left_alone() -> None:
    assert message_to_resend(running(next_attempt_at=NOW.isoformat(), lease_until=0), NOW) is None


def test_an_attempt_whose_lease_passed_is_sent_again_as_the_same_attempt() -> None:
    message = message_to_resend(running(lease_until=int(NOW.timestamp()) - 1), NOW)
    assert message is not None and message.attempt == 2


def test_an_attempt_within_its_lease_is_left_to_its_claimer() -> None:
    assert message_to_resend(running(lease_until=int(NOW.timestamp()) + 60), NOW) is None
    assert message_to_resend(running(lease_until=0), NOW) is None


def test_at_start_an_attempt_in_flight_is_sent_again_whatever_its_lease() -> None:
    message = message_at_start(running(lease_until=int(NOW.timestamp()) + 600), NOW)
    assert (message.execution_id, message.attempt, message.not_before) == ("exe_1", 2, None)


def test_at_start_an_awaited_retry_is_sent_as_the_next_attempt_not_before_its_time() -> None:
    later = NOW + timedelta(minutes=5)
    message = message_at_start(running(next_attempt_at=later.isoformat(), lease_until=0), NOW)
    assert (message.attempt, message.not_before) == (3, later)
    overdue = message_at_start(running(next_attempt_at=(NOW - timedelta(1)).isoformat()), NOW)
    assert (overdue.attempt, overdue.not_before) == (3, None)
