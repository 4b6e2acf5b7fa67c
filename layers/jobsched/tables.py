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
class GlobalIndex:
    """A global secondary index projecting every attribute (the only projection the service uses)."""

    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute


@dataclass(frozen=True)
class TableDefinition:
    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute
    indexes: tuple[GlobalIndex, ...]
    stream_view: StreamView
    ttl_attribute: str
    replication: Replication = "global"

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
        """The DynamoDB CreateTable request for this table (on-demand billing, as the stacks use)."""
        return {
            "TableName": self.name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": a.name, "AttributeType": a.type} for a in self.key_attributes()
            ],
            "KeySchema": _key_schema(self.partition_key, self.sort_key),
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": index.name,
                    "KeySchema": _key_schema(index.partition_key, index.sort_key),
                    "Projection": {"ProjectionType": "ALL"},
                }
                for index in self.indexes
            ],
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": self.stream_view},
        }


def _key_schema(partition: KeyAttribute, sort: KeyAttribute) -> list[dict[str, str]]:
    return [
        {"AttributeName": partition.name, "KeyType": "HASH"},
        {"AttributeName": sort.name, "KeyType": "RANGE"},
    ]


def _pk_sk_table(name: str, replication: Replication) -> TableDefinition:
    """Single-table layout: pk/sk, one overloaded gsi1, and a stream with both images.

    schedule-sync reacts to job changes in every region and needs the old image on deletes.
    """
    return TableDefinition(
        name=name,
        partition_key=KeyAttribute("pk"),
        sort_key=KeyAttribute("sk"),
        indexes=(GlobalIndex(config.GSI1, KeyAttribute("gsi1pk"), KeyAttribute("gsi1sk")),),
        stream_view="NEW_AND_OLD_IMAGES",
        ttl_attribute=config.TTL_ATTRIBUTE,
        replication=replication,
    )


JOBS = _pk_sk_table(config.JOBS_TABLE, "global")
# Execution history stays in the job's home region, where its executor writes it (docs/decisions.md):
# replicating it would write and store every execution three times for reads that go to one region.
EXECUTIONS = _pk_sk_table(config.EXECUTIONS_TABLE, "regional")
TABLES: tuple[TableDefinition, ...] = (JOBS, EXECUTIONS)
