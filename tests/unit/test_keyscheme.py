"""The item key scheme: the spellings the tables hold (a change here would be a data migration)."""

from __future__ import annotations

import pytest

from jobsched import keyscheme
from jobsched.keyscheme import JobKey

JOB = JobKey("acme", "job_01J")


def test_every_key_is_spelled_as_the_tables_hold_it() -> None:
    assert keyscheme.job_item_key(JOB) == {"pk": "TENANT#acme", "sk": "JOB#job_01J"}
    assert keyscheme.counter_key("acme") == {"pk": "TENANT#acme", "sk": "COUNT#jobs"}
    assert keyscheme.idempotency_key("acme", "k-1") == {"pk": "TENANT#acme", "sk": "IDEMPOTENCY#k-1"}
    assert keyscheme.execution_item_key(JOB, "exe_1") == {"pk": "TENANT#acme#JOB#job_01J", "sk": "EXEC#exe_1"}
    assert keyscheme.api_key_item_key("ab12") == {"pk": "APIKEY#ab12", "sk": "APIKEY"}
    assert keyscheme.access_pk("acme") == "ACCESS#acme"
    assert keyscheme.access_target_sk("arn:aws:sqs:us-east-1:1:q") == "TARGET#arn:aws:sqs:us-east-1:1:q"
    assert keyscheme.drill_key("eu-west-1") == {"pk": "REGION#eu-west-1", "sk": "HEALTH_DRILL"}
    assert keyscheme.usage_key_item_key("acme") == {"pk": "TENANT#acme", "sk": "USAGEKEY"}
    assert keyscheme.client_item_key("cl_1") == {"pk": "CLIENT#cl_1", "sk": "CLIENT"}
    assert keyscheme.audit_sk("01J") == "AUDIT#01J"
    assert keyscheme.audit_id_of("AUDIT#01J") == "01J"
    assert (keyscheme.COUNTERS_INDEX_PK, keyscheme.KEYS_INDEX_PK) == ("JOBCOUNTERS", "APIKEYS")
    assert keyscheme.CLIENTS_INDEX_PK == "CLIENTS"
    assert keyscheme.partitions(keyscheme.TENANT_PREFIX) == "TENANT#*"


def test_a_job_items_key_reads_back_as_its_job() -> None:
    key = keyscheme.job_item_key(JOB)
    assert keyscheme.job_key_of(key["pk"], key["sk"]) == JOB
    assert keyscheme.job_id_of(key["sk"]) == "job_01J"
    assert keyscheme.execution_id_of("EXEC#exe_1") == "exe_1"


@pytest.mark.parametrize(
    ("pk", "sk"),
    [
        ("TENANT#acme", "COUNT#jobs"),
        ("TENANT#acme", "IDEMPOTENCY#k"),
        ("APIKEY#ab", "APIKEY"),
        ("ACCESS#a", "PROFILE"),
        ("TENANT#acme", "USAGEKEY"),
        ("TENANT#acme", "AUDIT#01J"),
        ("CLIENT#cl_1", "CLIENT"),
    ],
)
def test_other_items_are_not_jobs(pk: str, sk: str) -> None:
    assert keyscheme.job_key_of(pk, sk) is None


def test_a_job_key_is_a_value() -> None:
    assert JobKey("acme", "job_01J") == JOB and hash(JobKey("acme", "job_01J")) == hash(JOB)
    assert str(JOB) == "acme/job_01J"
    with pytest.raises(AttributeError):
        JOB.tenant = "other"  # type: ignore[misc]
