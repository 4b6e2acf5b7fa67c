"""The job item's scheduling fields: sync results, pause/resume, completion, home-region moves.

Same item layout as adapters/job_store.py (pk TENANT#<tenant>, sk JOB#<job_id>). Every write is one
conditional UpdateItem on the version it read, so two writers never undo each other in a region.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from jobsched.aws.dynamodb import from_item, to_item
from jobsched.errors import NotFound
from jobsched.jobs.adapters.job_store import FIRE_TOKEN_ATTRIBUTE, job_from_item
from jobsched.jobs.models import Job, JobStatus, ScheduleState, runs_document
from jobsched.keyscheme import JOB_PREFIX, JobKey, job_item_key, tenant_pk


class DynamoJobScheduleStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def current(self, job: JobKey) -> Job | None:
        response = self._client.get_item(TableName=self._table, Key=self._key(job), ConsistentRead=True)
        return job_from_item(from_item(response["Item"])) if "Item" in response else None

    def record_schedule_state(
        self,
        job: JobKey,
        *,
        version: int,
        state: ScheduleState,
        arn: str | None,
        error: str | None,
        at: datetime,
    ) -> bool:
        # The version stays: this is the sync's own result, and a new version would wake the sync again.
        sets = ["schedule_state = :state", "schedule_synced_at = :at"]
        removes = []
        values: dict[str, Any] = {":state": state.value, ":at": at.isoformat(), ":version": version}
        for field, value in (("schedule_arn", arn), ("schedule_error", error)):
            if value is None:
                removes.append(field)
            else:
                sets.append(f"{field} = :{field}")
                values[f":{field}"] = value
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        return self._conditional_update(job, expression, values, "#version = :version")

    def mark_completed(self, job: JobKey, *, version: int, at: datetime) -> bool:
        values = {
            ":completed": JobStatus.COMPLETED.value,
            ":at": at.isoformat(),
            ":version": version,
            ":one": 1,
            ":pending": ScheduleState.PENDING.value,
        }
        expression = (
            "SET #status = :completed, updated_at = :at, #version = #version + :one, "
            "schedule_state = :pending"
        )
        return self._conditional_update(job, expression, values, "#version = :version")

    def set_enabled(
        self,
        job: JobKey,
        *,
        enabled: bool,
        note: str | None,
        version: int,
        at: datetime,
        by: str,
        next_runs: list[datetime] | None = None,
    ) -> Job | None:
        """Pause or resume at the version read; None when the job changed meanwhile (read again).
        ``next_runs`` is the new stored preview (None: drop it, so reads compute it)."""
        values: dict[str, Any] = {
            ":enabled": enabled,
            ":status": (JobStatus.ACTIVE if enabled else JobStatus.PAUSED).value,
            ":at": at.isoformat(),
            ":by": by,
            ":one": 1,
            ":pending": ScheduleState.PENDING.value,
            ":version": version,
        }
        sets = (
            "SET enabled = :enabled, #status = :status, updated_at = :at, updated_by = :by, "
            "#version = #version + :one, schedule_state = :pending"
        )
        removes = []
        if note is not None:
            sets += ", pause_note = :note"
            values[":note"] = note
        else:
            removes.append("pause_note")
        if next_runs is not None:
            sets += ", next_runs = :next_runs"
            values[":next_runs"] = runs_document(next_runs)
        else:
            removes.append("next_runs")
        expression = sets + (" REMOVE " + ", ".join(removes) if removes else "")
        return self._update_returning(job, expression, values)

    def move(self, job: JobKey, *, from_region: str, to_region: str, at: datetime) -> bool:
        """Change the home region if it still is `from_region`; False when it is not (moved already)."""
        values = {
            ":from": from_region,
            ":to": to_region,
            ":at": at.isoformat(),
            ":one": 1,
            ":pending": ScheduleState.PENDING.value,
        }
        expression = (
            "SET #region = :to, updated_at = :at, #version = #version + :one, schedule_state = :pending"
        )
        return self._conditional_update(job, expression, values, "#region = :from")

    def jobs_in_region(self, region: str, tenant: str | None = None) -> Iterator[JobKey]:
        """Every job homed in `region`: one tenant by query, all tenants by a scan."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "ProjectionExpression": "tenant, job_id",
            "ExpressionAttributeNames": {"#region": "region"},
            "ConsistentRead": True,
        }
        values: dict[str, Any] = {":region": region, ":prefix": JOB_PREFIX}
        if tenant is not None:
            request["KeyConditionExpression"] = "pk = :pk AND begins_with(sk, :prefix)"
            request["FilterExpression"] = "#region = :region"
            values[":pk"] = tenant_pk(tenant)
            operation = self._client.query
        else:
            request["FilterExpression"] = "begins_with(sk, :prefix) AND #region = :region"
            operation = self._client.scan
        request["ExpressionAttributeValues"] = to_item(values)
        while True:
            page = operation(**request)
            for item in page.get("Items", []):
                plain = from_item(item)
                yield JobKey(str(plain["tenant"]), str(plain["job_id"]))
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def tenant_jobs(self, tenant: str) -> Iterator[Job]:
        """Every job of a tenant (the status page), in pages, with only the fields it reads."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_item({":pk": tenant_pk(tenant), ":prefix": JOB_PREFIX}),
        }
        while True:
            page = self._client.query(**request)
            for item in page.get("Items", []):
                yield job_from_item(from_item(item))
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def tenant_jobs_page(self, tenant: str, after: str | None, limit: int) -> tuple[list[Job], str | None]:
        """Up to `limit` of a tenant's jobs after job id `after`, in id order, and the cursor of the next page
        (None on the last). One Query: a bulk operation's page is bounded work."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_item({":pk": tenant_pk(tenant), ":prefix": JOB_PREFIX}),
            "Limit": limit,
            "ConsistentRead": True,
        }
        if after is not None:
            request["ExclusiveStartKey"] = self._key(JobKey(tenant, after))
        page = self._client.query(**request)
        jobs = [job_from_item(from_item(item)) for item in page.get("Items", [])]
        return jobs, (jobs[-1].job_id if jobs and "LastEvaluatedKey" in page else None)

    def jobs_without_fire_token(self) -> Iterator[JobKey]:
        """Every job made before fire tokens existed (a scan: a one-off migration)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "ProjectionExpression": "tenant, job_id",
            "FilterExpression": f"begins_with(sk, :prefix) AND attribute_not_exists({FIRE_TOKEN_ATTRIBUTE})",
            "ExpressionAttributeValues": to_item({":prefix": JOB_PREFIX}),
            "ConsistentRead": True,
        }
        while True:
            page = self._client.scan(**request)
            for item in page.get("Items", []):
                plain = from_item(item)
                yield JobKey(str(plain["tenant"]), str(plain["job_id"]))
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def issue_fire_token(self, job: JobKey, token: str) -> bool:
        """Give the job `token` unless it has one; the version stays (schedule-sync sees the new token)."""
        return self._conditional_update(
            job,
            f"SET {FIRE_TOKEN_ATTRIBUTE} = :token",
            {":token": token},
            f"attribute_not_exists({FIRE_TOKEN_ATTRIBUTE})",
        )

    def _key(self, job: JobKey) -> dict[str, Any]:
        return to_item(job_item_key(job))

    def _conditional_update(
        self, job: JobKey, expression: str, values: dict[str, Any], condition: str
    ) -> bool:
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": self._key(job),
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(pk) AND " + condition,
            "ExpressionAttributeValues": to_item(values),
        }
        names = _names(expression + condition)
        if names:  # DynamoDB refuses an empty ExpressionAttributeNames
            request["ExpressionAttributeNames"] = names
        try:
            self._client.update_item(**request)
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _update_returning(self, job: JobKey, expression: str, values: dict[str, Any]) -> Job | None:
        condition = "attribute_exists(pk) AND #version = :version"
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=self._key(job),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=_names(expression + condition),
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._client.exceptions.ConditionalCheckFailedException as exc:
            if "Item" not in exc.response:
                raise NotFound(f"job {job.job_id} not found") from None
            return None
        return job_from_item(from_item(response["Attributes"]))


def _names(text: str) -> dict[str, str]:
    return {f"#{name}": name for name in ("status", "version", "region", "name") if f"#{name}" in text}
