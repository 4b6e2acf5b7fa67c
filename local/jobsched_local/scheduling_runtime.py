"""The local runtime's scheduling: schedules rebuilt from the jobs at start, schedule-sync fed from
DynamoDB Local's stream, the schedule clock, and the recovery of executions a crash left running.

Order at start (`SchedulingRuntime.prepare`, before any worker runs): the stream reader takes its
position at the stream's end, then every job's schedule is rebuilt from the table; the feeder then
reads every change made after that position, so a restart neither misses a change nor replays the
stream's history. The clock's marks file keeps what it fired across restarts (see schedule_clock.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

from jobsched import config
from jobsched.aws.dynamodb import from_item, to_item
from jobsched.execution.adapters.fire_queue import SqsFireQueue
from jobsched.execution.fire import FireMessage, execution_id_for
from jobsched.execution.heartbeat import HEARTBEAT_TENANT
from jobsched.jobs.adapters.job_store import FIRE_TOKEN_ATTRIBUTE
from jobsched.keyscheme import JobKey, execution_id_of, execution_item_key, job_item_key
from jobsched.scheduling.catch_up import CatchUp
from jobsched_local.execution_recovery import ExecutionRecovery
from jobsched_local.queue_journal import QueueJournal
from jobsched_local.rebuild import RebuildSummary, rebuild, rebuild_clock
from jobsched_local.schedule_clock import (
    MARKS_FILE,
    JobTimes,
    ScheduleClock,
    ScheduleMarks,
    SummaryLister,
)
from jobsched_local.scheduling_provision import ensure_heartbeat_schedule
from jobsched_local.stream_feeder import (
    STREAMS_CLIENT_CONFIG,
    StreamFeeder,
    StreamReader,
    local_syncs,
    sqs_dead_letters,
)
from jobsched_local.workers import BackgroundWorker

_BATCH_GET = 100  # BatchGetItem's limit


def in_process_client(service: str, region: str) -> Any:
    if service in ("dynamodb", "dynamodbstreams"):
        return boto3.client(service, region_name=region, config=STREAMS_CLIENT_CONFIG)
    return boto3.client(service, region_name=region)


class SchedulingRuntime:
    def __init__(
        self,
        state_dir: Path,
        serving_region: str,
        regions: Sequence[str],
        account: str,
        journal: QueueJournal | None = None,
        heartbeat_token: str | None = None,
    ) -> None:
        self._state_dir = state_dir
        self._journal = journal
        self._heartbeat_token = heartbeat_token
        self._serving = serving_region
        self._regions = list(regions)
        self._account = account
        self._dynamodb = in_process_client("dynamodb", serving_region)
        self._reader = StreamReader(
            self._dynamodb, in_process_client("dynamodbstreams", serving_region), config.JOBS_TABLE
        )

    def prepare(self) -> RebuildSummary:
        """Take the stream's position, then rebuild moto's schedules and API keys from the tables."""
        self._reader.start_at_latest()
        syncs = local_syncs(
            self._regions, self._serving, in_process_client, self._account, clock=rebuild_clock()
        )
        summary = rebuild(self._dynamodb, syncs, in_process_client, self._regions)
        if self._heartbeat_token is not None:
            # The serving region's executor is the one that runs here, so its heartbeat is the one made.
            ensure_heartbeat_schedule(
                in_process_client("scheduler", self._serving),
                self._serving,
                self._account,
                self._heartbeat_token,
            )
        return summary

    def workers(self) -> list[BackgroundWorker]:
        feeder = StreamFeeder(
            self._reader,
            local_syncs(self._regions, self._serving, in_process_client, self._account),
            sqs_dead_letters(in_process_client),
        )
        clock = ScheduleClock(
            self._regions,
            in_process_client,
            ScheduleMarks(self._state_dir / MARKS_FILE),
            job_times=lambda job: job_times(self._dynamodb, job),
            unexecuted=lambda job, times: unexecuted(self._dynamodb, job, times),
            summaries=moto_schedule_summaries(self._account),
        )
        sqs = in_process_client("sqs", self._serving)
        queue = SqsFireQueue(sqs, config.EXECUTION_QUEUE)

        def send(message: FireMessage) -> None:
            # A message made from an execution record carries no fire token: the job's own is added.
            token = fire_token(self._dynamodb, message.job)
            queue.send(message.model_copy(update={"fire_token": token}), 0)

        def send_raw(body: str) -> None:
            url = sqs.get_queue_url(QueueName=config.EXECUTION_QUEUE)["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=body)

        recovery = ExecutionRecovery(self._dynamodb, send, journal=self._journal, send_raw=send_raw)
        return [feeder, clock, recovery]


def moto_schedule_summaries(account: str) -> SummaryLister:
    """The schedule clock's listing, read from moto's Scheduler in this process's memory.

    Every second the clock looks for what changed; through the Scheduler API (botocore and moto's
    response serialization) that listing cost a fifth of the runtime process under load and grows with
    the jobs, while reading the backend's own dict costs microseconds per schedule. Details are still
    read through the API, once per change of a schedule. moto is pinned (requirements.txt): a change of
    its backend's shape fails the clock's integration tests.
    """
    from moto.scheduler.models import scheduler_backends

    def summaries(region: str, group: str) -> list[dict[str, Any]] | None:
        found = scheduler_backends[account][region].schedule_groups.get(group)
        if found is None:
            return None
        return [
            {"Name": s.name, "State": s.state, "LastModificationDate": s.last_modified_date}
            for s in list(found.schedules.values())
        ]

    return summaries


def fire_token(dynamodb: Any, job: JobKey) -> str | None:
    """The job's fire token (None for a job that is gone: the executor then drops the message)."""
    response = dynamodb.get_item(
        TableName=config.JOBS_TABLE,
        Key=to_item(job_item_key(job)),
        ProjectionExpression=FIRE_TOKEN_ATTRIBUTE,
        ConsistentRead=True,
    )
    token = from_item(response.get("Item") or {}).get(FIRE_TOKEN_ATTRIBUTE)
    return str(token) if token else None


def job_times(dynamodb: Any, job: JobKey) -> JobTimes | None:
    response = dynamodb.get_item(
        TableName=config.JOBS_TABLE,
        Key=to_item(job_item_key(job)),
        ProjectionExpression="created_at, updated_at, catch_up",
        ConsistentRead=True,
    )
    item = from_item(response.get("Item") or {})
    if not item.get("created_at") or not item.get("updated_at"):
        return None
    catch_up = CatchUp.model_validate(item["catch_up"]) if item.get("catch_up") else None
    return JobTimes(_time(item["created_at"]), _time(item["updated_at"]), catch_up)


def unexecuted(dynamodb: Any, job: JobKey, times: list[datetime]) -> list[datetime]:
    """Those of the scheduled times for which the executions table has no record.

    The heartbeat has no executions and a missed one is not sent again: it reports the present only.
    """
    if job.tenant == HEARTBEAT_TENANT:
        return []
    by_id = {execution_id_for(job.job_id, t): t for t in times}
    found: set[str] = set()
    ids = list(by_id)
    for start in range(0, len(ids), _BATCH_GET):
        keys = [
            to_item(execution_item_key(job, execution_id)) for execution_id in ids[start : start + _BATCH_GET]
        ]
        request: dict[str, Any] = {
            config.EXECUTIONS_TABLE: {"Keys": keys, "ProjectionExpression": "sk", "ConsistentRead": True}
        }
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(config.EXECUTIONS_TABLE, []):
                found.add(execution_id_of(from_item(item)["sk"]))
            request = response.get("UnprocessedKeys") or {}
    return [t for execution_id, t in by_id.items() if execution_id not in found]


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
