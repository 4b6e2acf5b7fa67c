"""The two DynamoDB global tables (jobs, executions), created once, in the primary region."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from jobsched import tables
from jobsched.tables import KeyAttribute, TableDefinition

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


def _attribute(attribute: KeyAttribute) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=attribute.name, type=_ATTRIBUTE_TYPES[attribute.type])


class GlobalTables(Construct):
    """Creates both tables with a replica in every other configured region.

    The names are fixed (not generated) because every regional stack imports the tables by name;
    an object reference across regions would silently point IAM grants at the primary region.
    """

    def __init__(self, scope: Construct, construct_id: str, *, replica_regions: tuple[str, ...]) -> None:
        super().__init__(scope, construct_id)
        self.jobs_table = self._global_table("JobsTable", tables.JOBS, replica_regions)
        self.executions_table = self._global_table("ExecutionsTable", tables.EXECUTIONS, replica_regions)

    def _global_table(
        self, construct_id: str, table: TableDefinition, replica_regions: tuple[str, ...]
    ) -> dynamodb.TableV2:
        """The table as jobsched.tables declares it (keys, indexes, stream, TTL), made global."""
        return dynamodb.TableV2(
            self,
            construct_id,
            table_name=table.name,
            partition_key=_attribute(table.partition_key),
            sort_key=_attribute(table.sort_key),
            billing=dynamodb.Billing.on_demand(),
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name=index.name,
                    partition_key=_attribute(index.partition_key),
                    sort_key=_attribute(index.sort_key),
                    projection_type=dynamodb.ProjectionType.ALL,
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
            replicas=[dynamodb.ReplicaTableProps(region=region) for region in replica_regions],
        )
