"""The service's DynamoDB tables, declared once as data.

The CDK data stack (infra/constructs/global_tables.py) and the local runtime's provisioner
(jobsched_local.provision) both build their tables from these definitions, so keys, indexes, stream
view and TTL attribute cannot drift apart; tests/infra checks the synthesized template against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from jobsched import config

AttributeType = Literal["S", "N", "B"]
StreamView = Literal["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"]
# global: one table (data stack, primary region) with a replica in every region; regional: a table of its
# own in every region (regional stacks), holding what that region writes.
Replication = Literal["global", "regional"]


@dataclass(frozen=True)
class KeyAttribute:
    name: str
    type: AttributeType = "S"


@dataclass(frozen=True)
class AutoScaledCapacity:
    """Provisioned capacity units that target tracking keeps at `target_percent` utilization, between
    `minimum` and `maximum` (the stacks' auto scaling; the local tables are made at the minimum)."""

    minimum: int
    maximum: int
    target_percent: int = 70


@dataclass(frozen=True)
class ProvisionedCapacity:
    """Read and write capacity of a table or an index in provisioned mode, each auto scaled."""

    reads: AutoScaledCapacity
    writes: AutoScaledCapacity

    def throughput(self) -> dict[str, int]:
        """CreateTable's ProvisionedThroughput: the auto scaling floor."""
        return {"ReadCapacityUnits": self.reads.minimum, "WriteCapacityUnits": self.writes.minimum}


@dataclass(frozen=True)
class GlobalIndex:
    """A global secondary index projecting every attribute (the only projection the service uses)."""

    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute
    # its own capacity when the table is provisioned (None: on-demand, as its table)
    capacity: ProvisionedCapacity | None = None


@dataclass(frozen=True)
class TableDefinition:
    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute
    indexes: tuple[GlobalIndex, ...]
    stream_view: StreamView
    ttl_attribute: str
    replication: Replication = "global"
    # None: on-demand; else provisioned with auto scaling (the indexes then carry their own capacity)
    capacity: ProvisionedCapacity | None = None

    def key_attributes(self) -> tuple[KeyAttribute, ...]:
        """Every attribute a key schema names (table and indexes), each once."""
        found: dict[str, KeyAttribute] = {}
        for attribute in (self.partition_key, self.sort_key):
            found.setdefault(attribute.name, attribute)
        for index in self.indexes:
            for attribute in (index.partition_key, index.sort_key):
                found.setdefault(attribute.name, attribute)
        return tuple(found.values())

    def create_table_request(self) -> dict[str, Any]:
        """The DynamoDB CreateTable request for this table, in the billing mode the stacks use
        (provisioned tables and indexes at their auto scaling floor)."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "BillingMode": "PAY_PER_REQUEST" if self.capacity is None else "PROVISIONED",
            "AttributeDefinitions": [
                {"AttributeName": a.name, "AttributeType": a.type} for a in self.key_attributes()
            ],
            "KeySchema": _key_schema(self.partition_key, self.sort_key),
            "GlobalSecondaryIndexes": [_index_request(index, self.capacity) for index in self.indexes],
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": self.stream_view},
        }
        if self.capacity is not None:
            request["ProvisionedThroughput"] = self.capacity.throughput()
        return request


def _index_request(index: GlobalIndex, table_capacity: ProvisionedCapacity | None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "IndexName": index.name,
        "KeySchema": _key_schema(index.partition_key, index.sort_key),
        "Projection": {"ProjectionType": "ALL"},
    }
    if table_capacity is not None:
        if index.capacity is None:
            raise ValueError(f"index {index.name} of a provisioned table needs its own capacity")
        request["ProvisionedThroughput"] = index.capacity.throughput()
    return request


def _key_schema(partition: KeyAttribute, sort: KeyAttribute) -> list[dict[str, str]]:
    return [
        {"AttributeName": partition.name, "KeyType": "HASH"},
        {"AttributeName": sort.name, "KeyType": "RANGE"},
    ]


def _pk_sk_table(
    name: str,
    replication: Replication,
    capacity: ProvisionedCapacity | None = None,
    index_capacity: ProvisionedCapacity | None = None,
) -> TableDefinition:
    """Single-table layout: pk/sk, one overloaded gsi1, and a stream with both images.

    schedule-sync reacts to job changes in every region and needs the old image on deletes.
    """
    return TableDefinition(
        name=name,
        partition_key=KeyAttribute("pk"),
        sort_key=KeyAttribute("sk"),
        indexes=(GlobalIndex(config.GSI1, KeyAttribute("gsi1pk"), KeyAttribute("gsi1sk"), index_capacity),),
        stream_view="NEW_AND_OLD_IMAGES",
        ttl_attribute=config.TTL_ATTRIBUTE,
        replication=replication,
        capacity=capacity,
    )


# The jobs table is provisioned with auto scaling (docs/decisions.md, Cost; docs/operations.md, Capacity).
# Its load is API traffic and scheduled runs. At the spec's load (infra/cost/load_profile.json, `make cost`)
# the busiest replica (us-east-1) reads ~230 units/s at the 300 requests/s peak and ~46 at night, and every
# replica writes ~80 units/s at the peak (its own writes and the other regions' replicated ones): 330 and
# 115 provisioned at the 70% target. Each maximum is about three times that, so a burst beyond the peak
# meets capacity before throttling (and DynamoDB's burst capacity: up to 300 s of unused units); the
# model refuses a maximum that cannot carry the profile's peak. The index holds tenant counters, keys and
# clients: a few writes a minute, read by the census and the operator CLI.
JOBS_CAPACITY = ProvisionedCapacity(
    reads=AutoScaledCapacity(minimum=25, maximum=1000), writes=AutoScaledCapacity(minimum=25, maximum=400)
)
JOBS_INDEX_CAPACITY = ProvisionedCapacity(
    reads=AutoScaledCapacity(minimum=5, maximum=100), writes=AutoScaledCapacity(minimum=5, maximum=100)
)
JOBS = _pk_sk_table(config.JOBS_TABLE, "global", JOBS_CAPACITY, JOBS_INDEX_CAPACITY)
# Execution history stays in the job's home region, where its executor writes it (docs/decisions.md):
# replicating it would write and store every execution three times for reads that go to one region.
# Provisioned with auto scaling too (docs/operations.md, "Capacity of the executions table"). Its writes are
# the scheduled fires' claim and finish, each writing the item and its gsi1 running entry: at the spec's load
# ~15 units/s each on the table and the index in us-east-1 (~11 elsewhere), on average; they come in bursts
# at the top of each minute, five minutes and hour (up to ~5,600 units on the table and as many on the
# index in us-east-1 at the top of the hour), which DynamoDB's burst capacity (up to 300 s of unused units)
# carries at a floor of 30. Its reads are the API's (following the day: ~7 units/s at night, ~67 at the
# peak in us-east-1), the executor's overlap checks (~1.5) and the archive run's paced scan (two segments at
# a time at config.ARCHIVE_READ_UNITS_PER_SECOND each: 50 units/s for about 12 hours every third day at
# month 12): a floor of 50 carries the night's reads and the scan's start while auto scaling follows.
# Maxima are about three times what the peak (with a scan) needs. gsi1 holds the running entries: written
# with every claim and finish, read by the census and the stuck-execution checks a few times an hour.
EXECUTIONS_CAPACITY = ProvisionedCapacity(
    reads=AutoScaledCapacity(minimum=50, maximum=500), writes=AutoScaledCapacity(minimum=30, maximum=200)
)
EXECUTIONS_INDEX_CAPACITY = ProvisionedCapacity(
    reads=AutoScaledCapacity(minimum=5, maximum=100), writes=AutoScaledCapacity(minimum=30, maximum=200)
)
EXECUTIONS = _pk_sk_table(config.EXECUTIONS_TABLE, "regional", EXECUTIONS_CAPACITY, EXECUTIONS_INDEX_CAPACITY)
TABLES: tuple[TableDefinition, ...] = (JOBS, EXECUTIONS)
