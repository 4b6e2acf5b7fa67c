"""The two DynamoDB global tables (jobs, executions), created once, in the primary region."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from jobsched import config

PARTITION_KEY = "pk"
SORT_KEY = "sk"
GSI1_PARTITION_KEY = "gsi1pk"
GSI1_SORT_KEY = "gsi1sk"


def _string_attribute(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class GlobalTables(Construct):
    """Creates both tables with a replica in every other configured region.

    The names are fixed (not generated) because every regional stack imports the tables by name;
    an object reference across regions would silently point IAM grants at the primary region.
    """

    def __init__(self, scope: Construct, construct_id: str, *, replica_regions: tuple[str, ...]) -> None:
        super().__init__(scope, construct_id)
        self.jobs_table = self._global_table("JobsTable", config.JOBS_TABLE, replica_regions)
        self.executions_table = self._global_table(
            "ExecutionsTable", config.EXECUTIONS_TABLE, replica_regions
        )

    def _global_table(
        self, construct_id: str, table_name: str, replica_regions: tuple[str, ...]
    ) -> dynamodb.TableV2:
        return dynamodb.TableV2(
            self,
            construct_id,
            table_name=table_name,
            partition_key=_string_attribute(PARTITION_KEY),
            sort_key=_string_attribute(SORT_KEY),
            billing=dynamodb.Billing.on_demand(),
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name=config.GSI1,
                    partition_key=_string_attribute(GSI1_PARTITION_KEY),
                    sort_key=_string_attribute(GSI1_SORT_KEY),
                    projection_type=dynamodb.ProjectionType.ALL,
                )
            ],
            # schedule-sync reacts to job changes in every region, and needs the old image on deletes.
            dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            time_to_live_attribute=config.TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
            replicas=[dynamodb.ReplicaTableProps(region=region) for region in replica_regions],
        )
