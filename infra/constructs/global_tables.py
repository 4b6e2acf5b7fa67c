"""The jobs global table, created once in the primary region; and how every service table is built."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from jobsched import tables
from jobsched.tables import AutoScaledCapacity, KeyAttribute, ProvisionedCapacity, TableDefinition

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


def _attribute(attribute: KeyAttribute) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=attribute.name, type=_ATTRIBUTE_TYPES[attribute.type])


def _autoscaled(capacity: AutoScaledCapacity) -> dynamodb.Capacity:
    return dynamodb.Capacity.autoscaled(
        min_capacity=capacity.minimum,
        max_capacity=capacity.maximum,
        target_utilization_percent=capacity.target_percent,
    )


def _billing(capacity: ProvisionedCapacity | None) -> dynamodb.Billing:
    """On-demand, or provisioned with target-tracking auto scaling of reads and writes (a global table's
    write capacity must be auto scaled, and is the same in every replica)."""
    if capacity is None:
        return dynamodb.Billing.on_demand()
    return dynamodb.Billing.provisioned(
        read_capacity=_autoscaled(capacity.reads), write_capacity=_autoscaled(capacity.writes)
    )


class GlobalTables(Construct):
    """Creates the global tables (jobsched.tables: replication "global") with a replica in every other
    configured region; the regional ones are made by each regional stack (regional_tables.py).

    The names are fixed (not generated) because every regional stack imports the tables by name;
    an object reference across regions would silently point IAM grants at the primary region.
    """

    def __init__(self, scope: Construct, construct_id: str, *, replica_regions: tuple[str, ...]) -> None:
        super().__init__(scope, construct_id)
        assert tables.JOBS.replication == "global"
        self.jobs_table = build_table(self, "JobsTable", tables.JOBS, replica_regions)


def build_table(
    scope: Construct, construct_id: str, table: TableDefinition, replica_regions: tuple[str, ...]
) -> dynamodb.TableV2:
    """The table as jobsched.tables declares it (keys, indexes, stream, TTL), with these replicas.

    Point-in-time recovery only where nothing else can rebuild the data: on a global table's primary
    replica (the other replicas are copies of it: a restore there is re-replicated), and on a regional
    table (the last 30 days of a region's history exist nowhere else; the archive has older days).
    """
    return dynamodb.TableV2(
        scope,
        construct_id,
        table_name=table.name,
        partition_key=_attribute(table.partition_key),
        sort_key=_attribute(table.sort_key),
        billing=_billing(table.capacity),
        global_secondary_indexes=[
            dynamodb.GlobalSecondaryIndexPropsV2(
                index_name=index.name,
                partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key),
                projection_type=dynamodb.ProjectionType.ALL,
                read_capacity=_autoscaled(index.capacity.reads) if index.capacity else None,
                write_capacity=_autoscaled(index.capacity.writes) if index.capacity else None,
            )
            for index in table.indexes
        ],
        dynamo_stream=dynamodb.StreamViewType(table.stream_view),
        time_to_live_attribute=table.ttl_attribute,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        deletion_protection=True,
        removal_policy=RemovalPolicy.RETAIN,
        replicas=[
            dynamodb.ReplicaTableProps(
                region=region,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=False
                ),
            )
            for region in replica_regions
        ],
    )
