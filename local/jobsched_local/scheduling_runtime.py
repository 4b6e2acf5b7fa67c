"""The local runtime's scheduling workers: schedule-sync fed from the stream, and the schedule clock.

Both use in-process clients of moto. The stream feeder starts from the stream's beginning, so the items a
restart restores (which appear as INSERT records) rebuild every schedule; the clock's marks file keeps
what it fired across restarts (see schedule_clock.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3

from jobsched import config
from jobsched_local.schedule_clock import MARKS_FILE, ScheduleClock, ScheduleMarks
from jobsched_local.stream_feeder import (
    STREAMS_CLIENT_CONFIG,
    StreamFeeder,
    StreamReader,
    local_syncs,
    sqs_dead_letters,
)
from jobsched_local.workers import BackgroundWorker


def in_process_client(service: str, region: str) -> Any:
    if service in ("dynamodb", "dynamodbstreams"):
        return boto3.client(service, region_name=region, config=STREAMS_CLIENT_CONFIG)
    return boto3.client(service, region_name=region)


def scheduling_workers(
    state_dir: Path, serving_region: str, regions: Sequence[str], account: str
) -> list[BackgroundWorker]:
    reader = StreamReader(
        in_process_client("dynamodb", serving_region),
        in_process_client("dynamodbstreams", serving_region),
        config.JOBS_TABLE,
    )
    feeder = StreamFeeder(
        reader,
        local_syncs(regions, serving_region, in_process_client, account),
        sqs_dead_letters(in_process_client),
    )
    clock = ScheduleClock(regions, in_process_client, ScheduleMarks(state_dir / MARKS_FILE))
    return [feeder, clock]
