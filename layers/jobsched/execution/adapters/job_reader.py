"""The executor's view of the jobs table: a job with its webhook secret, and the last_execution summary.

The summary is written with its own update that leaves `version` alone, so it never makes a scheduled fire
look stale and never conflicts with a caller's If-Match.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from jobsched.aws.dynamodb import from_item, to_item
from jobsched.execution.ports import LoadedJob
from jobsched.jobs.adapters.job_store import job_from_item
from jobsched.jobs.models import LastExecution
from jobsched.keyscheme import JobKey, job_item_key

WEBHOOK_SECRET_ATTRIBUTE = "webhook_secret"  # noqa: S105 (an attribute name)
# Where the job stands for failure notices (jobsched.execution.notifications); not part of the job model.
HEALTH_ATTRIBUTE, HEALTH_OK, HEALTH_FAILING = "notified_health", "ok", "failing"


class DynamoJobReader:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def load(self, job: JobKey) -> LoadedJob | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_item(job_item_key(job)),
            ConsistentRead=True,
        )
        if "Item" not in response:
            return None
        item = from_item(response["Item"])
        secret = item.get(WEBHOOK_SECRET_ATTRIBUTE)
        return LoadedJob(job=job_from_item(item), webhook_secret=secret if isinstance(secret, str) else None)

    def record_last_execution(self, job: JobKey, summary: LastExecution) -> None:
        document = summary.model_dump(mode="json")
        with suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.update_item(
                TableName=self._table,
                Key=to_item(job_item_key(job)),
                UpdateExpression="SET last_execution = :summary",
                # An older execution finishing late must not hide a newer one.
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(last_execution) "
                "OR last_execution.scheduled_at <= :at)",
                ExpressionAttributeValues=to_item({":summary": document, ":at": document["scheduled_at"]}),
            )

    def mark(self, job: JobKey, *, failing: bool) -> bool:
        """Move `notified_health` to failing (from healthy or unset) or back to healthy (from failing only);
        True if this write made the change (the version stays, as for last_execution)."""
        new, condition = (
            (HEALTH_FAILING, "attribute_not_exists(#health) OR #health = :healthy")
            if failing
            else (HEALTH_OK, "#health = :failing")
        )
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item(job_item_key(job)),
                UpdateExpression="SET #health = :new",
                ConditionExpression=f"attribute_exists(pk) AND ({condition})",
                ExpressionAttributeNames={"#health": HEALTH_ATTRIBUTE},
                ExpressionAttributeValues=to_item(
                    {":new": new, ":healthy": HEALTH_OK}
                    if failing
                    else {":new": new, ":failing": HEALTH_FAILING}
                ),
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True
