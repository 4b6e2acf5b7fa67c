"""Execution history in the executions table, one item per execution, newest first under its job.

- keyed by job and execution id (jobsched.keyscheme); execution ids start with the UTC stamp of
  their scheduled time, so the sort key orders a job's history by time (read backwards: newest first).
- lease_until (epoch s, 0 when no attempt is in flight) and active_until (until when the execution counts
  as running for overlap checks) are internal and never returned; expires_at is the 12-month TTL.
- While an execution is running it is also filed in gsi1 under RUNNING#<shard> with gsi1sk = the epoch
  second (zero-padded) after which it is stuck: its lease's end, or while it awaits a retry, the retry's
  time plus a lease. Finishing removes both, so the index holds only running executions and the job census
  counts the stuck ones with a few count-only queries (a sparse index; docs/decisions.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from jobsched.aws.dynamodb import from_item, to_item
from jobsched.errors import NotFound
from jobsched.execution.models import (
    Execution,
    ExecutionStatus,
    NotificationRecord,
    Outcome,
    SkipReason,
    bounded_error,
    expires_at,
)
from jobsched.keyscheme import (
    EXECUTION_PREFIX,
    JobKey,
    execution_id_of,
    execution_item_key,
    execution_pk,
    running_index_pk,
    stuck_after_key,
)
from jobsched.page_tokens import decode_page_token, encode_page_token

if TYPE_CHECKING:
    from jobsched.execution.ports import Claim  # the executor's; the Execution API only reads

OVERLAP_SCAN_LIMIT = 50
_OUTCOME_ATTRIBUTES = ("status_code", "error", "response_excerpt", "duration_ms")


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class DynamoExecutionStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def _key(self, job: JobKey, execution_id: str) -> dict[str, Any]:
        return to_item(execution_item_key(job, execution_id))

    def claim(self, claim: Claim) -> bool:
        message = claim.message
        values: dict[str, Any] = {
            ":tenant": claim.job.tenant,
            ":job_id": claim.job.job_id,
            ":execution_id": claim.execution_id,
            ":trigger": message.trigger.value,
            ":job_version": message.job_version,
            ":scheduled_at": _iso(message.scheduled_time),
            ":now": _iso(claim.now),
            ":now_epoch": _epoch(claim.now),
            ":k": claim.attempt,
            ":max": claim.max_attempts,
            ":running": ExecutionStatus.RUNNING.value,
            ":lease": _epoch(claim.lease_until),
            ":expires": expires_at(message.scheduled_time),
            ":zero": 0,
        }
        sets = [
            "tenant = :tenant",
            "job_id = :job_id",
            "execution_id = :execution_id",
            "#trigger = if_not_exists(#trigger, :trigger)",
            "job_version = if_not_exists(job_version, :job_version)",
            "scheduled_at = :scheduled_at",
            "started_at = if_not_exists(started_at, :now)",
            "attempts = :k",
            "max_attempts = :max",
            "#status = :running",
            "lease_until = :lease",
            "active_until = :lease",
            "expires_at = :expires",
            "entity = :entity",
            "gsi1pk = :running_pk",
            "gsi1sk = :stuck_after",
        ]
        values[":running_pk"] = running_index_pk(claim.execution_id)
        values[":stuck_after"] = stuck_after_key(_epoch(claim.lease_until))
        values[":entity"] = "execution"
        if message.retry_of:
            sets.append("retry_of = :retry_of")
            values[":retry_of"] = message.retry_of
        if message.triggered_by:
            sets.append("triggered_by = :triggered_by")
            values[":triggered_by"] = message.triggered_by
        if message.parent_execution_id:
            sets.append("parent_execution_id = :parent")
            values[":parent"] = message.parent_execution_id
        # New; or a later attempt than the record's; or the same attempt whose claimer died (lease over).
        condition = (
            "attribute_not_exists(pk) OR (#status = :running AND (attempts < :k OR "
            "(attempts = :k AND lease_until > :zero AND lease_until < :now_epoch)))"
        )
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(claim.job, claim.execution_id),
                UpdateExpression="SET " + ", ".join(sets) + " REMOVE next_attempt_at",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status", "#trigger": "trigger"},
                ExpressionAttributeValues=to_item(values),
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def record_notification(self, job: JobKey, execution_id: str, record: NotificationRecord) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=self._key(job, execution_id),
            UpdateExpression="SET notification = :record",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=to_item({":record": record.model_dump(mode="json")}),
        )

    def finish(
        self,
        job: JobKey,
        execution_id: str,
        attempt: int,
        *,
        status: ExecutionStatus,
        finished_at: datetime,
        outcome: Outcome | None,
        skip_reason: SkipReason | None,
    ) -> Execution | None:
        fields: dict[str, Any] = {"#status": status.value, "finished_at": _iso(finished_at)}
        if skip_reason is not None:
            fields["skip_reason"] = skip_reason.value
        fields.update(_outcome_fields(outcome))
        return self._update_attempt(job, execution_id, attempt, fields, active_until=0)

    def await_retry(
        self,
        job: JobKey,
        execution_id: str,
        attempt: int,
        outcome: Outcome,
        next_attempt_at: datetime,
        active_until: datetime,
    ) -> None:
        fields = {"next_attempt_at": _iso(next_attempt_at), **_outcome_fields(outcome)}
        self._update_attempt(job, execution_id, attempt, fields, active_until=_epoch(active_until))

    def _update_attempt(
        self,
        job: JobKey,
        execution_id: str,
        attempt: int,
        fields: dict[str, Any],
        *,
        active_until: int,
    ) -> Execution | None:
        # Every attribute by placeholder: "error", "status" and others are DynamoDB reserved words.
        names = {"#status": "status"}
        values: dict[str, Any] = {":k": attempt, ":running": ExecutionStatus.RUNNING.value, ":zero": 0}
        values[":active"] = active_until
        sets = ["lease_until = :zero", "active_until = :active"]
        # Awaiting a retry: stuck if the retry has not claimed it a lease after its time. Finished: unindexed.
        removes = ["gsi1pk", "gsi1sk"] if active_until == 0 else []
        if active_until != 0:
            sets.append("gsi1sk = :stuck_after")
            values[":stuck_after"] = stuck_after_key(active_until)
        fields = {name.lstrip("#"): value for name, value in fields.items()}
        for index, (name, value) in enumerate(fields.items()):
            names[f"#f{index}"] = name
            values[f":f{index}"] = value
            sets.append(f"#f{index} = :f{index}")
        for index, name in enumerate(_OUTCOME_ATTRIBUTES):
            if name not in fields:
                names[f"#r{index}"] = name
                removes.append(f"#r{index}")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=self._key(job, execution_id),
                UpdateExpression=expression,
                ConditionExpression="attempts = :k AND #status = :running",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None  # a later attempt (or a takeover after a crash) owns the record now
        return execution_from_item(from_item(response["Attributes"]))

    def earlier_run_active(
        self, job: JobKey, execution_id: str, scheduled_at: datetime, now: datetime
    ) -> bool:
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            FilterExpression="#status = :running AND active_until > :now",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(
                {
                    ":pk": execution_pk(job),
                    ":prefix": EXECUTION_PREFIX,
                    ":running": ExecutionStatus.RUNNING.value,
                    ":now": _epoch(now),
                }
            ),
            ScanIndexForward=False,
            Limit=OVERLAP_SCAN_LIMIT,
            ConsistentRead=True,
        )
        mine = (_iso(scheduled_at), execution_id)
        return any(
            (item["scheduled_at"], item["execution_id"]) < mine
            for item in map(from_item, response.get("Items", []))
            if item["execution_id"] != execution_id
        )

    # The API's side: read a tenant's history.

    def get(self, job: JobKey, execution_id: str) -> Execution:
        response = self._client.get_item(TableName=self._table, Key=self._key(job, execution_id))
        if "Item" not in response:
            raise NotFound(f"execution {execution_id} of job {job.job_id} not found")
        return execution_from_item(from_item(response["Item"]))

    def list(
        self,
        job: JobKey,
        *,
        limit: int,
        next_token: str | None,
        status: ExecutionStatus | None,
    ) -> tuple[list[Execution], str | None]:
        values: dict[str, Any] = {":pk": execution_pk(job), ":prefix": EXECUTION_PREFIX}
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if status is not None:
            query["FilterExpression"] = "#status = :status"
            query["ExpressionAttributeNames"] = {"#status": "status"}
            values[":status"] = status.value
        query["ExpressionAttributeValues"] = to_item(values)
        if next_token:
            query["ExclusiveStartKey"] = self._key(job, decode_execution_token(next_token))
        response = self._client.query(**query)
        items = [execution_from_item(from_item(item)) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        token = encode_execution_token(execution_id_of(from_item(last)["sk"])) if last else None
        return items, token

    def latest_failed(self, job: JobKey) -> Execution | None:
        token: str | None = None
        while True:
            items, token = self.list(job, limit=50, next_token=token, status=ExecutionStatus.FAILED)
            if items:
                return items[0]
            if token is None:
                return None


def _outcome_fields(outcome: Outcome | None) -> dict[str, Any]:
    if outcome is None:
        return {}
    fields: dict[str, Any] = {"duration_ms": outcome.duration_ms}
    if outcome.status_code is not None:
        fields["status_code"] = outcome.status_code
    if outcome.error is not None:
        fields["error"] = bounded_error(outcome.error)
    if outcome.response_excerpt is not None:
        fields["response_excerpt"] = outcome.response_excerpt
    return fields


def execution_from_item(item: dict[str, Any]) -> Execution:
    return Execution.model_validate(item)


def encode_execution_token(execution_id: str) -> str:
    return encode_page_token(execution_id)


def decode_execution_token(token: str) -> str:
    return decode_page_token(token, "exe_")
