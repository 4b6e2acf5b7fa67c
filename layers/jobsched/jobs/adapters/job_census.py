"""How many jobs are active across all tenants: the value of the active_jobs_gauge metric.

Tenants are found through their job counters (gsi1pk = JOBCOUNTERS); each tenant's active jobs are counted
with one count-only Query of its partition per page. At the spec's 10,000 jobs that reads about 2,500
read units per count, a few dollars a month at one count every five minutes.
"""

from __future__ import annotations

from typing import Any

from jobsched.aws.dynamodb import from_item, to_item
from jobsched.config import GSI1
from jobsched.jobs.models import JobStatus
from jobsched.keyscheme import COUNTERS_INDEX_PK, JOB_PREFIX, tenant_pk


def tenants(client: Any, table: str) -> list[str]:
    pages = client.get_paginator("query").paginate(
        TableName=table,
        IndexName=GSI1,
        KeyConditionExpression="gsi1pk = :counters",
        ExpressionAttributeValues=to_item({":counters": COUNTERS_INDEX_PK}),
    )
    return [from_item(item)["gsi1sk"] for page in pages for item in page["Items"]]


def count_active_jobs(client: Any, table: str) -> int:
    total = 0
    for tenant in tenants(client, table):
        pages = client.get_paginator("query").paginate(
            TableName=table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :job)",
            FilterExpression="#status = :active",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(
                {":pk": tenant_pk(tenant), ":job": JOB_PREFIX, ":active": JobStatus.ACTIVE.value}
            ),
            Select="COUNT",
        )
        total += sum(int(page["Count"]) for page in pages)
    return total
