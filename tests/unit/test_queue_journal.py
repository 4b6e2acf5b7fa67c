"""The execution queue's journal: accepted messages on disk, replayed at start until they have a record."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jobsched import config
from jobsched.execution.fire import FireMessage, Trigger
from jobsched.keyscheme import JobKey
from jobsched_local.queue_journal import KEEP_UNCLAIMED, SEND_MESSAGE_TARGET, QueueJournal

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
QUEUE_URL = f"http://127.0.0.1:4566/123456789012/{config.EXECUTION_QUEUE}"


def body(execution_id: str) -> str:
    message = FireMessage(
        tenant="acme",
        job_id="job_1",
        job_version=1,
        scheduled_time=NOW,
        trigger=Trigger.MANUAL,
        execution_id=execution_id,
        fire_token="token",
    )
    return message.model_dump_json()


def send_message(queue_url: str, message_body: str) -> bytes:
    return json.dumps({"QueueUrl": queue_url, "MessageBody": message_body}).encode()


def test_only_accepted_sends_to_the_execution_queue_are_kept_and_they_survive_a_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal"
    journal = QueueJournal(path, now=lambda: NOW)
    journal.record(SEND_MESSAGE_TARGET, send_message(QUEUE_URL, body("man_1")))
    journal.record(SEND_MESSAGE_TARGET, send_message(QUEUE_URL.replace("executions", "other"), "{}"))
    journal.record("AmazonSQS.ReceiveMessage", send_message(QUEUE_URL, body("man_2")))
    journal.record(SEND_MESSAGE_TARGET, b"not json")
    journal.close()

    reopened = QueueJournal(path, now=lambda: NOW)
    assert [entry.body for entry in reopened.entries] == [body("man_1")]


def test_replay_sends_what_never_made_a_record_and_keeps_it_until_it_does(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    journal = QueueJournal(path, now=lambda: NOW)
    for execution_id in ("man_ran", "man_lost"):
        journal.record(SEND_MESSAGE_TARGET, send_message(QUEUE_URL, body(execution_id)))
    records = {"man_ran"}
    sent: list[str] = []

    def has_record(job: JobKey, execution_id: str) -> bool:
        assert job == JobKey("acme", "job_1")
        return execution_id in records

    assert journal.replay(has_record, sent.append) == 1
    assert sent == [body("man_lost")]
    assert [e.body for e in QueueJournal(path).entries] == [body("man_lost")]

    records.add("man_lost")
    assert journal.compact(has_record) == []
    assert QueueJournal(path).entries == []


def test_a_message_that_never_gets_a_record_is_dropped_after_a_week(tmp_path: Path) -> None:
    clock = [NOW]
    journal = QueueJournal(tmp_path / "journal", now=lambda: clock[0])
    journal.record(SEND_MESSAGE_TARGET, send_message(QUEUE_URL, body("man_rejected")))
    assert len(journal.compact(lambda *_: False)) == 1
    clock[0] = NOW + KEEP_UNCLAIMED + timedelta(seconds=1)
    assert journal.compact(lambda *_: False) == []


def test_a_line_torn_by_a_crash_is_skipped_and_the_next_append_starts_a_new_line(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    journal = QueueJournal(path, now=lambda: NOW)
    journal.record(SEND_MESSAGE_TARGET, send_message(QUEUE_URL, body("man_1")))
    journal.close()
    with path.open("a", encoding="utf-8") as file:
        file.write('{"body": "torn')

    reopened = QueueJournal(path, now=lambda: NOW)
    reopened.record(SEND_MESSAGE_TARGET, send_message(QUEUE_URL, body("man_2")))
    reopened.close()
    assert [e.body for e in QueueJournal(path).entries] == [body("man_1"), body("man_2")]
