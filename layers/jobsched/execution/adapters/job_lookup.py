"""The jobs table as the Execution API reads it.

A history read needs only the job's home region and tags: one GetItem of those two attributes, with no job
model built. Run-now, retry and backfill read the whole job through the job store, imported (with the job
models) by the first of them in a container.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jobsched.aws.dynamodb import from_item, to_item
from jobsched.errors import NotFound
from jobsched.keyscheme import JobKey, job_item_key

if TYPE_CHECKING:
    from jobsched.jobs.adapters.job_store import DynamoJobStore
    from jobsched.jobs.models import Job


class DynamoJobLookup:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name
        self._store: DynamoJobStore | None = None

    def home(self, key: JobKey) -> tuple[str, Mapping[str, str]]:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_item(job_item_key(key)),
            ProjectionExpression="#region, #tags",
            ExpressionAttributeNames={"#region": "region", "#tags": "tags"},  # REGION is a reserved word
        )
        if "Item" not in response:
            raise NotFound(f"job {key.job_id} not found")
        item = from_item(response["Item"])
        return str(item["region"]), item.get("tags") or {}

    def get(self, key: JobKey) -> Job:
        if self._store is None:
            from jobsched.jobs.adapters.job_store import DynamoJobStore

            self._store = DynamoJobStore(self._client, self._table)
        return self._store.get(key)
