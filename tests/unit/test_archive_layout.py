"""The execution archive without AWS: the object layout in a folder, merging, paging across the table/archive
seam, the executor's last_execution rule and the archive command's ages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jobsched.errors import NotFound
from jobsched.execution.adapters.archive_store import FolderArchiveStore
from jobsched.execution.adapters.execution_store import decode_execution_token, encode_execution_token
from jobsched.execution.archive import (
    ArchivedHistory,
    ExecutionArchive,
    archive_items,
    decode,
    decode_index,
    execution_day,
    index_key,
    object_key,
)
from jobsched.execution.executor import LAST_EXECUTION_REFRESH, last_execution_changes
from jobsched.execution.fire import Trigger
from jobsched.execution.models import Execution, ExecutionStatus
from jobsched.keyscheme import JobKey
from jobsched_local.archive_commands import archive_dir, parse_age

DAY = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)

JOB = JobKey("acme", "job1")


def item(minute: int, status: str = "succeeded", job_id: str = "job1", day: datetime = DAY) -> dict[str, Any]:
    at = day + timedelta(minutes=minute)
    return {
        "pk": f"TENANT#acme#JOB#{job_id}",
        "sk": "EXEC#x",
        "tenant": "acme",
        "job_id": job_id,
        "execution_id": f"exe_{at.strftime('%Y%m%dT%H%M%SZ')}_x",
        "trigger": "schedule",
        "job_version": 1,
        "scheduled_at": at.isoformat(),
        "status": status,
        "attempts": 1,
        "lease_until": 0,
        "expires_at": 123,
    }


@pytest.fixture
def archive(tmp_path: Path) -> ExecutionArchive:
    return ExecutionArchive(FolderArchiveStore(tmp_path))


def test_one_object_per_job_and_day_newest_first_without_internal_fields(
    archive: ExecutionArchive, tmp_path: Path
) -> None:
    archive.archive(JOB, [item(0), item(5), item(60 * 24)])
    day_one = tmp_path / object_key(JOB, "2026-10-01")
    records = decode(day_one.read_bytes())
    assert [r["execution_id"] for r in records] == [item(5)["execution_id"], item(0)["execution_id"]]
    assert all("lease_until" not in r and "tenant" not in r and "pk" not in r for r in records)
    assert (tmp_path / object_key(JOB, "2026-10-02")).exists()


def test_archiving_again_merges_instead_of_replacing(archive: ExecutionArchive) -> None:
    archive.archive(JOB, [item(0), item(5, "running")])
    archive.archive(JOB, [item(5, "failed"), item(10)])
    page, more = archive.page(JOB, before=None, limit=10, status=None)
    assert [(e.execution_id[13:17], e.status.value) for e in page] == [
        ("0810", "succeeded"),
        ("0805", "failed"),
        ("0800", "succeeded"),
    ]
    assert more is False and all(e.archived for e in page)


def test_pages_walk_days_backwards_and_filter_by_status(archive: ExecutionArchive) -> None:
    archive.archive(JOB, [item(0), item(5, "failed"), item(60 * 24), item(60 * 48 + 1, "failed")])
    first, more = archive.page(JOB, before=None, limit=2, status=None)
    assert [e.scheduled_at.day for e in first] == [3, 2] and more is True
    rest, more = archive.page(JOB, before=first[-1].execution_id, limit=2, status=None)
    assert [e.scheduled_at.minute for e in rest] == [5, 0] and more is False
    failed, _ = archive.page(JOB, before=None, limit=10, status=ExecutionStatus.FAILED)
    assert [e.scheduled_at.day for e in failed] == [3, 1]


def test_get_by_id_finds_the_day_object_and_nothing_for_foreign_ids(archive: ExecutionArchive) -> None:
    archive.archive(JOB, [item(5, "failed")])
    found = archive.get(JOB, item(5)["execution_id"])
    assert found is not None and found.status is ExecutionStatus.FAILED and found.archived
    assert archive.get(JOB, item(6)["execution_id"]) is None
    assert archive.get(JOB, "not-an-id") is None
    assert archive.get(JobKey("globex", "job1"), item(5)["execution_id"]) is None
    assert execution_day("exe_20261001T080500Z_x") == "2026-10-01"


class RecordingStore(FolderArchiveStore):
    """The folder store, recording each request as S3 would bill it."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.requests: list[tuple[str, str]] = []

    def put(self, key: str, data: bytes) -> None:
        self.requests.append(("PUT", key))
        super().put(key, data)

    def get(self, key: str) -> bytes | None:
        self.requests.append(("GET", key))
        return super().get(key)


def test_the_day_index_names_every_day_and_is_written_before_the_day_objects(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    archive = ExecutionArchive(store)
    archive.archive(JOB, [item(0), item(60 * 24)])
    assert store.requests[:2] == [("GET", index_key(JOB)), ("PUT", index_key(JOB))]
    assert decode_index(store.get(index_key(JOB))) == ["2026-10-01", "2026-10-02"]
    archive.archive(JOB, [item(60 * 48)])
    assert decode_index(store.get(index_key(JOB))) == ["2026-10-01", "2026-10-02", "2026-10-03"]
    # Days already named: the index is read, not rewritten.
    store.requests.clear()
    archive.archive(JOB, [item(5)])
    assert ("PUT", index_key(JOB)) not in store.requests


def test_a_page_reads_the_index_and_the_days_it_needs_and_nothing_else(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    archive = ExecutionArchive(store)
    archive.archive(JOB, [item(0), item(5), item(60 * 24), item(60 * 48)])
    store.requests.clear()
    page, more = archive.page(JOB, before=None, limit=2, status=None)
    assert [e.execution_id[4:17] for e in page] == ["20261003T0800", "20261002T0800"] and more is True
    assert store.requests == [
        ("GET", index_key(JOB)),
        ("GET", object_key(JOB, "2026-10-03")),
        ("GET", object_key(JOB, "2026-10-02")),
        ("GET", object_key(JOB, "2026-10-01")),
    ]


def test_a_job_never_archived_costs_one_get(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    assert ExecutionArchive(store).page(JOB, before=None, limit=5, status=None) == ([], False)
    assert store.requests == [("GET", index_key(JOB))]


def test_a_day_the_index_names_without_its_object_reads_as_empty(tmp_path: Path) -> None:
    store = FolderArchiveStore(tmp_path)
    archive = ExecutionArchive(store)
    archive.archive(JOB, [item(0)])
    store.put(index_key(JOB), b'{"days":["2026-10-01","2026-10-05"]}')  # a run stopped after the index
    page, more = archive.page(JOB, before=None, limit=5, status=None)
    assert [e.execution_id for e in page] == [item(0)["execution_id"]] and more is False


@pytest.mark.parametrize(
    ("data", "days"),
    [
        (b"not json", []),
        (b"[]", []),
        (b'{"days": "2026-10-01"}', []),
        (b'{"other": 1}', []),
        (b'{"days": [1, "../x", "2026-10-02", "2026-10-01"]}', ["2026-10-01", "2026-10-02"]),
    ],
)
def test_an_index_names_only_the_valid_days_it_holds(data: bytes, days: list[str]) -> None:
    assert decode_index(data) == days


def test_archive_items_groups_a_scan_by_job(archive: ExecutionArchive) -> None:
    run = archive_items(archive, [item(0), item(5), item(0, job_id="job2")])
    assert (run.executions, run.jobs) == (3, 2)


def test_the_folder_store_refuses_keys_that_leave_it(tmp_path: Path) -> None:
    store = FolderArchiveStore(tmp_path / "archive")
    for key in ("executions/../../etc/passwd", "/abs", "executions//x", "executions/a b"):
        with pytest.raises(ValueError, match="not an archive key"):
            store.put(key, b"x")
        assert store.get(key) is None
    store.put("executions/acme/job1/2026-10-01.jsonl.gz", b"data")
    assert store.get("executions/acme/job1/2026-10-01.jsonl.gz") == b"data"


class FakeTable:
    """The table side: executions in memory, newest first, paged like DynamoExecutionStore."""

    def __init__(self, executions: list[Execution]) -> None:
        self.items = sorted(executions, key=lambda e: e.execution_id, reverse=True)

    def get(self, job: JobKey, execution_id: str) -> Execution:
        for execution in self.items:
            if execution.execution_id == execution_id:
                return execution
        raise NotFound("no such execution")

    def list(
        self, job: JobKey, *, limit: int, next_token: str | None, status: ExecutionStatus | None
    ) -> tuple[list[Execution], str | None]:
        after = decode_execution_token(next_token) if next_token else None
        rest = [e for e in self.items if after is None or e.execution_id < after]
        page = rest[:limit]
        more = len(rest) > limit
        return [e for e in page if status is None or e.status is status], (
            encode_execution_token(page[-1].execution_id) if more else None
        )

    def latest_failed(self, job: JobKey) -> Execution | None:
        return next((e for e in self.items if e.status is ExecutionStatus.FAILED), None)


def history(archive: ExecutionArchive, recent: list[dict[str, Any]]) -> ArchivedHistory:
    table = FakeTable([Execution.model_validate(r) for r in recent])
    return ArchivedHistory(
        table, archive, encode_token=encode_execution_token, decode_token=decode_execution_token
    )


def test_the_token_crosses_from_the_table_into_the_archive(archive: ExecutionArchive) -> None:
    archive.archive(JOB, [item(0), item(5, "failed"), item(10)])
    recent_day = DAY + timedelta(days=40)
    both = history(archive, [item(0, day=recent_day), item(5, day=recent_day)])
    seen: list[tuple[int, bool]] = []
    token = None
    while True:
        page, token = both.list(JOB, limit=2, next_token=token, status=None)
        seen += [(e.scheduled_at.day, e.archived) for e in page]
        if token is None:
            break
    assert seen == [(10, False), (10, False), (1, True), (1, True), (1, True)]
    assert both.get(JOB, item(5)["execution_id"]).archived is True
    with pytest.raises(NotFound):
        both.get(JOB, item(7)["execution_id"])
    assert both.latest_failed(JOB) is None  # retry's default looks at recent history only


def test_an_empty_table_reads_the_archive_alone(archive: ExecutionArchive) -> None:
    archive.archive(JOB, [item(0)])
    page, token = history(archive, []).list(JOB, limit=5, next_token=None, status=None)
    assert [e.archived for e in page] == [True] and token is None


def summary(status: str, at: datetime) -> Any:
    return Execution.model_validate({**item(0), "status": status, "scheduled_at": at.isoformat()}).summary()


@pytest.mark.parametrize(
    ("recorded", "status", "trigger", "later", "writes"),
    [
        (None, "succeeded", Trigger.SCHEDULE, timedelta(0), True),
        ("succeeded", "succeeded", Trigger.SCHEDULE, timedelta(minutes=5), False),
        ("succeeded", "failed", Trigger.SCHEDULE, timedelta(minutes=5), True),
        ("succeeded", "succeeded", Trigger.SCHEDULE, LAST_EXECUTION_REFRESH, True),
        ("succeeded", "succeeded", Trigger.MANUAL, timedelta(minutes=1), True),
    ],
)
def test_a_scheduled_run_like_the_last_one_rewrites_the_job_at_most_hourly(
    recorded: str | None, status: str, trigger: Trigger, later: timedelta, writes: bool
) -> None:
    finished = Execution.model_validate(
        {**item(0), "status": status, "trigger": trigger.value, "scheduled_at": (DAY + later).isoformat()}
    )
    last = summary(recorded, DAY) if recorded else None
    assert last_execution_changes(last, finished) is writes


def test_archive_ages_and_folder(tmp_path: Path) -> None:
    assert parse_age("30d") == timedelta(days=30)
    assert parse_age("0s") == timedelta(0)
    assert parse_age(" 12h ") == timedelta(hours=12)
    with pytest.raises(ValueError, match="not an age"):
        parse_age("30 days")
    assert archive_dir(tmp_path) == tmp_path.resolve() / "archive"


def test_the_archive_command_refuses_an_age_it_cannot_read(capsys: pytest.CaptureFixture[str]) -> None:
    from jobsched_cli.main import main

    assert main(["archive", "run", "--older-than", "3 weeks"]) != 0
    assert "--older-than" in capsys.readouterr().err
