"""The tables' item key scheme, declared once: every pk/sk/gsi1 value the service writes, and how to read
one back.

Jobs table (pk, sk; gsi1pk, gsi1sk):
- job:          TENANT#<tenant>, JOB#<job_id>
- job counter:  TENANT#<tenant>, COUNT#jobs           (gsi1pk JOBCOUNTERS, gsi1sk <tenant>)
- idempotency:  TENANT#<tenant>, IDEMPOTENCY#<key>
- bulk pause/resume operation: TENANT#<tenant>, BULKOP#<operation_id> (expires_at: 7 days on)
- API key:      APIKEY#<sha256 of the value>, APIKEY  (gsi1pk APIKEYS, gsi1sk <key_id>)
- usage key:    TENANT#<tenant>, USAGEKEY              (the API key a tenant's token callers count against)
- OAuth client: CLIENT#<client_id>, CLIENT             (gsi1pk CLIENTS, gsi1sk <client_id>)
- audit record: TENANT#<tenant>, AUDIT#<audit_id>
- target grant: ACCESS#<tenant>, PROFILE | TARGET#<arn>
- drill marker: REGION#<region>, HEALTH_DRILL
- heartbeat:    HEARTBEAT#<region>, HEARTBEAT
Executions table: TENANT#<tenant>#JOB#<job_id>, EXEC#<execution_id>; a running execution is also filed
under gsi1pk RUNNING#<shard>, gsi1sk <its lease end, zero-padded epoch seconds> (a sparse index).

Every adapter that builds or parses a key, the local runtime's rebuild and recovery, the stack's IAM
leading-key conditions and the schedule-sync stream filter use these. The layout is what the tables hold:
changing a spelling here is a data migration.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

TENANT_PREFIX = "TENANT#"
JOB_PREFIX = "JOB#"
EXECUTION_PREFIX = "EXEC#"
IDEMPOTENCY_PREFIX = "IDEMPOTENCY#"
BULK_OPERATION_PREFIX = "BULKOP#"
COUNTER_SK = "COUNT#jobs"
# Every tenant's job counter is also filed under this gsi1 key, so the tenants can be listed without a Scan.
COUNTERS_INDEX_PK = "JOBCOUNTERS"
API_KEY_PREFIX = "APIKEY#"
API_KEY_SK = "APIKEY"
# Every key record is filed under this gsi1 key (gsi1sk = key id), so an operator can list and revoke keys.
KEYS_INDEX_PK = "APIKEYS"
# A tenant's usage key (the API key its token callers are counted against): TENANT#<tenant>, USAGEKEY.
USAGE_KEY_SK = "USAGEKEY"
# An OAuth client's record; every one is also filed under this gsi1 key (gsi1sk = client id), to list them.
CLIENT_PREFIX = "CLIENT#"
CLIENT_SK = "CLIENT"
CLIENTS_INDEX_PK = "CLIENTS"
# A tenant's audit of key and client management: TENANT#<tenant>, AUDIT#<audit id> (ULIDs sort by time).
AUDIT_PREFIX = "AUDIT#"
ACCESS_PREFIX = "ACCESS#"
ACCESS_PROFILE_SK = "PROFILE"
ACCESS_TARGET_PREFIX = "TARGET#"
REGION_PREFIX = "REGION#"
# The dead man's switch's items: a partition of their own per region, so the executor may write no other.
HEARTBEAT_PK_PREFIX = "HEARTBEAT#"
HEARTBEAT_SK = "HEARTBEAT"
# Running executions spread over this many gsi1 partitions, so no index partition takes every claim.
RUNNING_SHARDS = 4
RUNNING_INDEX_PREFIX = "RUNNING#"
DRILL_SK = "HEALTH_DRILL"


@dataclass(frozen=True, order=True)
class JobKey:
    """A job's identity: its tenant and its id, which always travel together."""

    tenant: str
    job_id: str

    def __str__(self) -> str:
        return f"{self.tenant}/{self.job_id}"


def tenant_pk(tenant: str) -> str:
    return f"{TENANT_PREFIX}{tenant}"


def job_sk(job_id: str) -> str:
    return f"{JOB_PREFIX}{job_id}"


def job_item_key(key: JobKey) -> dict[str, str]:
    """The job item's primary key (plain values; the adapters serialise them)."""
    return {"pk": tenant_pk(key.tenant), "sk": job_sk(key.job_id)}


def job_key_of(pk: object, sk: object) -> JobKey | None:
    """The job a jobs-table key addresses, or None when it is not a job item (a counter, a key record, …)."""
    pk, sk = str(pk), str(sk)
    if not (pk.startswith(TENANT_PREFIX) and sk.startswith(JOB_PREFIX)):
        return None
    return JobKey(pk.removeprefix(TENANT_PREFIX), sk.removeprefix(JOB_PREFIX))


def job_id_of(sk: object) -> str:
    return str(sk).removeprefix(JOB_PREFIX)


def counter_key(tenant: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant), "sk": COUNTER_SK}


def idempotency_key(tenant: str, idempotency_key: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant), "sk": f"{IDEMPOTENCY_PREFIX}{idempotency_key}"}


def bulk_operation_key(tenant: str, operation_id: str) -> dict[str, str]:
    """A bulk pause/resume operation's item: in its tenant's partition, so no other tenant can address it."""
    return {"pk": tenant_pk(tenant), "sk": f"{BULK_OPERATION_PREFIX}{operation_id}"}


def execution_pk(key: JobKey) -> str:
    return f"{TENANT_PREFIX}{key.tenant}#{JOB_PREFIX}{key.job_id}"


def execution_sk(execution_id: str) -> str:
    return f"{EXECUTION_PREFIX}{execution_id}"


def execution_item_key(key: JobKey, execution_id: str) -> dict[str, str]:
    return {"pk": execution_pk(key), "sk": execution_sk(execution_id)}


def running_index_pk(execution_id: str) -> str:
    shard = int(hashlib.sha256(execution_id.encode()).hexdigest()[:8], 16) % RUNNING_SHARDS
    return f"{RUNNING_INDEX_PREFIX}{shard}"


def stuck_after_key(epoch_seconds: int) -> str:
    """gsi1sk of a running execution: sorts as the time does (zero-padded epoch seconds)."""
    return f"{epoch_seconds:012d}"


def heartbeat_key(region: str) -> dict[str, str]:
    return {"pk": f"{HEARTBEAT_PK_PREFIX}{region}", "sk": HEARTBEAT_SK}


def execution_id_of(sk: object) -> str:
    return str(sk).removeprefix(EXECUTION_PREFIX)


def api_key_pk(key_hash: str) -> str:
    return f"{API_KEY_PREFIX}{key_hash}"


def api_key_item_key(key_hash: str) -> dict[str, str]:
    return {"pk": api_key_pk(key_hash), "sk": API_KEY_SK}


def usage_key_item_key(tenant: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant), "sk": USAGE_KEY_SK}


def client_item_key(client_id: str) -> dict[str, str]:
    return {"pk": f"{CLIENT_PREFIX}{client_id}", "sk": CLIENT_SK}


def audit_sk(audit_id: str) -> str:
    return f"{AUDIT_PREFIX}{audit_id}"


def audit_id_of(sk: object) -> str:
    return str(sk).removeprefix(AUDIT_PREFIX)


def access_pk(tenant: str) -> str:
    return f"{ACCESS_PREFIX}{tenant}"


def access_target_sk(arn: str) -> str:
    return f"{ACCESS_TARGET_PREFIX}{arn}"


def drill_key(region: str) -> dict[str, str]:
    return {"pk": f"{REGION_PREFIX}{region}", "sk": DRILL_SK}


def partitions(prefix: str) -> str:
    """An IAM dynamodb:LeadingKeys pattern for every partition that starts with `prefix`."""
    return f"{prefix}*"
