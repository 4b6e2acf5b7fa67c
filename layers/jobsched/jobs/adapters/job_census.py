"""The job census: active jobs, schedules in `error` and stuck executions across all tenants.

Tenants are found through their job counters (gsi1pk = JOBCOUNTERS); each tenant's jobs are read with one
Query of its partition per page, projected to the two attributes counted (a projection reads as many units
as a count-only query). At the spec's 10,000 jobs that reads about 2,500 read units per census, a few
dollars a month at one census every five minutes. Stuck executions are counted in the executions table's
sparse index of running executions (execution.adapters.execution_store), count-only, one query per shard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobsched.aws.dynamodb import from_item, to_item
from jobsched.config import GSI1
from jobsched.jobs.states import JobStatus, ScheduleState
from jobsched.keyscheme import (
    COUNTERS_INDEX_PK,
    JOB_PREFIX,
    RUNNING_INDEX_PREFIX,
    RUNNING_SHARDS,
    stuck_after_key,
    tenant_pk,
)


@dataclass(frozen=True)
class JobCensus:
    active_jobs: int
    schedules_in_error: int
    stuck_executions: int


def tenants(client: Any, table: str) -> list[str]:
    pages = client.get_paginator("query").paginate(
        TableName=table,
        IndexName=GSI1,
        KeyConditionExpression="gsi1pk = :counters",
        ExpressionAttributeValues=to_item({":counters": COUNTERS_INDEX_PK}),
    )
    return [from_item(item)["gsi1sk"] for page in pages for item in page["Items"]]


def count_jobs(client: Any, table: str) -> tuple[int, int]:
    """(active jobs, jobs whose schedule is in state error) across all tenants."""
    active = in_error = 0
    for tenant in tenants(client, table):
        pages = client.get_paginator("query").paginate(
            TableName=table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :job)",
            ProjectionExpression="#status, schedule_state",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item({":pk": tenant_pk(tenant), ":job": JOB_PREFIX}),
        )
        for page in pages:
            for item in map(from_item, page["Items"]):
                active += item.get("status") == JobStatus.ACTIVE.value
                in_error += item.get("schedule_state") == ScheduleState.ERROR.value
    return active, in_error


def count_active_jobs(client: Any, table: str) -> int:
    return count_jobs(client, table)[0]


def count_stuck_executions(client: Any, executions_table: str, now: datetime) -> int:
    """Executions still `running` after their lease (or a lease after their retry was due)."""
    total = 0
    for shard in range(RUNNING_SHARDS):
        pages = client.get_paginator("query").paginate(
            TableName=executions_table,
            IndexName=GSI1,
            KeyConditionExpression="gsi1pk = :shard AND gsi1sk < :now",
            ExpressionAttributeValues=to_item(
                {":shard": f"{RUNNING_INDEX_PREFIX}{shard}", ":now": stuck_after_key(int(now.timestamp()))}
            ),
            Select="COUNT",
        )
        total += sum(int(page["Count"]) for page in pages)
    return total


def take_census(client: Any, jobs_table: str, executions_table: str, now: datetime) -> JobCensus:
    active, in_error = count_jobs(client, jobs_table)
    return JobCensus(active, in_error, count_stuck_executions(client, executions_table, now))
