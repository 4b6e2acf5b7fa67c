"""Jobs in the jobs table, one DynamoDB call per operation.

Every item of a tenant sits under pk = TENANT#<tenant> (jobsched.keyscheme), so a request can only ever
address its own tenant's items (the tenant comes from the authorizer, never from the request):
- job:          the job (job_id is a ULID: sort order = creation order)
- job counter:  job_count, kept by the same transaction as create/delete; filed under gsi1 for the census
- idempotency:  body hash, first response, expires_at TTL after 24 h

A job item also holds two secrets no response carries: webhook_secret and fire_token (docs/security.md).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobsched.aws.dynamodb import from_item, to_item
from jobsched.errors import Conflict, LimitExceeded, NotFound, PreconditionFailed
from jobsched.jobs.models import STORED, Job, JobSpec, ScheduleState, runs_document, status_for
from jobsched.keyscheme import (
    COUNTERS_INDEX_PK,
    JOB_PREFIX,
    JobKey,
    counter_key,
    idempotency_key,
    job_id_of,
    job_item_key,
    tenant_pk,
)

if TYPE_CHECKING:
    # Annotations only: the ports' values are the Job API's (the Schedule and Execution APIs, the executor and
    # schedule-sync read jobs through this module without them).
    from jobsched.jobs.ports import IdempotencyClaim, JobFilters

_MUTABLE_FIELDS = tuple(JobSpec.model_fields)
FIRE_TOKEN_ATTRIBUTE = "fire_token"  # noqa: S105 (an attribute name)


def job_item(tenant: str, job: Job) -> dict[str, Any]:
    return {
        **job_item_key(JobKey(tenant, job.job_id)),
        "entity": "job",
        "tenant": tenant,
        **job.model_dump(mode="json"),
        # Excluded from every dump of the model, so written here explicitly.
        **({FIRE_TOKEN_ATTRIBUTE: job.fire_token} if job.fire_token else {}),
    }


def job_from_item(item: dict[str, Any]) -> Job:
    return Job.model_validate(item, context=STORED)


class DynamoJobStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def create(
        self,
        tenant: str,
        job: Job,
        response: dict[str, Any],
        max_jobs: int,
        claim: IdempotencyClaim | None,
        webhook_secret: str | None = None,
    ) -> None:
        # The secret sits on the job item (encrypted at rest like every item); Job does not read it back.
        item = job_item(tenant, job) | ({"webhook_secret": webhook_secret} if webhook_secret else {})
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": self._table,
                    "Key": to_item(counter_key(tenant)),
                    "UpdateExpression": "SET job_count = if_not_exists(job_count, :zero) + :one, "
                    "gsi1pk = :counters, gsi1sk = :tenant",
                    "ConditionExpression": "attribute_not_exists(job_count) OR job_count < :max",
                    "ExpressionAttributeValues": to_item(
                        {
                            ":zero": 0,
                            ":one": 1,
                            ":max": max_jobs,
                            ":counters": COUNTERS_INDEX_PK,
                            ":tenant": tenant,
                        }
                    ),
                }
            },
        ]
        if claim is not None:
            actions.append(self._claim_action(tenant, job, response, claim))
        try:
            self._client.transact_write_items(TransactItems=actions)
        except self._client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if claim is not None and len(reasons) > 2 and reasons[2] == "ConditionalCheckFailed":
                self._replay(tenant, claim)
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise LimitExceeded(
                    f"this tenant already has {max_jobs} jobs, the most it may have; delete jobs first"
                ) from None
            if "TransactionConflict" in reasons:
                raise Conflict("a concurrent request changed the same items; retry the request") from None
            raise

    def get(self, key: JobKey) -> Job:
        response = self._client.get_item(TableName=self._table, Key=to_item(job_item_key(key)))
        if "Item" not in response:
            raise _not_found(key.job_id)
        return job_from_item(from_item(response["Item"]))

    def rotate_webhook_secret(self, key: JobKey, secret: str, at: datetime, by: str) -> None:
        # No version bump: the job's definition did not change, and a stale schedule must not look stale.
        # Who rotated it goes to the tenant's audit trail in the same transaction.
        update = {
            "TableName": self._table,
            "Key": to_item(job_item_key(key)),
            "UpdateExpression": "SET webhook_secret = :secret, webhook_secret_rotated_at = :at, "
            "webhook_secret_rotated_by = :by",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": to_item({":secret": secret, ":at": at.isoformat(), ":by": by}),
        }
        audit = _audit_put(self._table, key, "job.webhook_secret_rotated", at, by)
        try:
            self._client.transact_write_items(TransactItems=[{"Update": update}, audit])
        except self._client.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons", [])
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                raise _not_found(key.job_id) from None
            raise

    def replace(
        self,
        key: JobKey,
        spec: JobSpec,
        *,
        expected_version: int | None,
        at: datetime,
        by: str,
        fire_token: str | None = None,
        next_runs: list[datetime] | None = None,
    ) -> Job:
        """Replace the caller's fields; ``next_runs`` is the new stored preview (None: drop it, so reads
        compute it)."""
        fields = spec.model_dump(mode="json")
        names = {f"#{name}": name for name in _MUTABLE_FIELDS}
        # An optional field left out (None, e.g. notifications) is removed from the item, not written.
        cleared = [name for name in _MUTABLE_FIELDS if fields[name] is None]
        values: dict[str, Any] = {f":{name}": fields[name] for name in _MUTABLE_FIELDS if name not in cleared}
        sets = [f"#{name} = :{name}" for name in _MUTABLE_FIELDS if name not in cleared]
        sets += [
            "#status = :status",
            "#version = #version + :one",
            "updated_at = :at",
            "updated_by = :by",
            "schedule_state = :pending",
        ]
        names.update({"#status": "status", "#version": "version"})
        values.update(
            {":status": status_for(spec.enabled).value, ":one": 1, ":at": at.isoformat(), ":by": by}
        )
        values[":pending"] = ScheduleState.PENDING.value
        if fire_token is not None:
            # A job made before fire tokens existed gets one with its next change; a token is never replaced.
            sets.append(f"{FIRE_TOKEN_ATTRIBUTE} = if_not_exists({FIRE_TOKEN_ATTRIBUTE}, :fire_token)")
            values[":fire_token"] = fire_token
        removes = ["schedule_error", *(f"#{name}" for name in cleared)]
        if next_runs is None:
            removes.append("next_runs")
        else:
            sets.append("next_runs = :next_runs")
            values[":next_runs"] = runs_document(next_runs)
        condition = "attribute_exists(pk)"
        if expected_version is not None:
            condition += " AND #version = :expected"
            values[":expected"] = expected_version
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=to_item(job_item_key(key)),
                UpdateExpression="SET " + ", ".join(sets) + " REMOVE " + ", ".join(removes),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._client.exceptions.ConditionalCheckFailedException as exc:
            raise _not_found(key.job_id) if "Item" not in exc.response else _stale(key.job_id) from None
        return job_from_item(from_item(response["Attributes"]))

    def delete(self, key: JobKey, *, expected_version: int | None, at: datetime, by: str) -> None:
        delete: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_item(job_item_key(key)),
            "ConditionExpression": "attribute_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if expected_version is not None:
            delete["ConditionExpression"] += " AND #version = :expected"
            delete["ExpressionAttributeNames"] = {"#version": "version"}
            delete["ExpressionAttributeValues"] = to_item({":expected": expected_version})
        count = {
            "TableName": self._table,
            "Key": to_item(counter_key(key.tenant)),
            "UpdateExpression": "SET job_count = job_count - :one",
            "ConditionExpression": "job_count > :zero",
            "ExpressionAttributeValues": to_item({":one": 1, ":zero": 0}),
        }
        try:
            # The job item goes, so who deleted it is kept in the tenant's audit trail (same transaction).
            audit = _audit_put(self._table, key, "job.deleted", at, by)
            self._client.transact_write_items(TransactItems=[{"Delete": delete}, {"Update": count}, audit])
        except self._client.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons", [])
            first = reasons[0] if reasons else {}
            if first.get("Code") == "ConditionalCheckFailed":
                raise (_stale(key.job_id) if first.get("Item") else _not_found(key.job_id)) from None
            raise

    def list(
        self, tenant: str, limit: int, start_after: str | None, filters: JobFilters
    ) -> tuple[list[Job], str | None]:
        values: dict[str, Any] = {":pk": tenant_pk(tenant), ":prefix": JOB_PREFIX}
        names: dict[str, str] = {}
        clauses: list[str] = []
        if filters.status is not None:
            names["#status"] = "status"
            values[":status"] = filters.status.value
            clauses.append("#status = :status")
        if filters.enabled is not None:
            values[":enabled"] = filters.enabled
            clauses.append("enabled = :enabled")
        if filters.tag is not None:
            names["#tag"] = filters.tag[0]
            values[":tag"] = filters.tag[1]
            clauses.append("tags.#tag = :tag")
        for index, (key, value) in enumerate(filters.scope_tags):
            names[f"#scope{index}"] = key
            values[f":scope{index}"] = value
            clauses.append(f"tags.#scope{index} = :scope{index}")
        if filters.name_prefix:
            names["#name"] = "name"
            values[":name_prefix"] = filters.name_prefix
            clauses.append("begins_with(#name, :name_prefix)")
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_item(values),
            "Limit": limit,
        }
        if names:
            query["ExpressionAttributeNames"] = names
        if clauses:
            query["FilterExpression"] = " AND ".join(clauses)
        if start_after is not None:
            query["ExclusiveStartKey"] = to_item(job_item_key(JobKey(tenant, start_after)))
        response = self._client.query(**query)
        jobs = [job_from_item(from_item(item)) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return jobs, (job_id_of(from_item(last)["sk"]) if last else None)

    def _claim_action(
        self, tenant: str, job: Job, response: dict[str, Any], claim: IdempotencyClaim
    ) -> dict[str, Any]:
        item = {
            **idempotency_key(tenant, claim.key),
            "entity": "idempotency",
            "body_hash": claim.body_hash,
            "job_id": job.job_id,
            "response": json.dumps(response, separators=(",", ":")),
            "expires_at": int(claim.expires_at.timestamp()),
        }
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_item(item),
                # TTL deletes lazily (up to days late): an expired record counts as absent.
                "ConditionExpression": "attribute_not_exists(pk) OR expires_at < :now",
                "ExpressionAttributeValues": to_item({":now": int(job.created_at.timestamp())}),
            }
        }

    def _replay(self, tenant: str, claim: IdempotencyClaim) -> None:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_item(idempotency_key(tenant, claim.key)),
            ConsistentRead=True,
        )
        record = from_item(response.get("Item", {}))
        if record.get("body_hash") == claim.body_hash:
            from jobsched.jobs.ports import IdempotentReplay  # loaded by the Job API, whose creates replay

            raise IdempotentReplay(json.loads(record["response"]))
        # Here, not at import: the executor and schedule-sync read jobs through this module, not the service.
        from jobsched.jobs.service import idempotency_conflict

        raise idempotency_conflict()


def _audit_put(table: str, key: JobKey, action: str, at: datetime, by: str) -> dict[str, Any]:
    """A transaction's Put of the audit record of a write to the job (imported here: only deletes and
    rotations write one, and the other routes' cold starts need not load the audit model)."""
    from jobsched.keys.adapters.audit_log import audit_item
    from jobsched.keys.admin import AuditAction, AuditRecord, new_audit_id

    record = AuditRecord(
        audit_id=new_audit_id(at), at=at, actor=by, action=AuditAction(action), target=key.job_id
    )
    return {
        "Put": {
            "TableName": table,
            "Item": audit_item(key.tenant, record),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _not_found(job_id: str) -> NotFound:
    return NotFound(f"job {job_id} not found")


def _stale(job_id: str) -> PreconditionFailed:
    return PreconditionFailed(f"job {job_id} has changed since that version (If-Match); read it again")
