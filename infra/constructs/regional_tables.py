"""The global tables as seen from one region: imported by name, so ARNs carry that region."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from jobsched import config


class RegionalTables(Construct):
    """References to the local replicas of the global tables.

    from_table_attributes with the table name builds the ARN from the importing stack's region, and
    global_indexes makes grants cover the index ARNs too (from_table_name would leave them out).
    The stream ARN differs per region and is only known after deployment; nothing needs it yet.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.jobs_table = dynamodb.TableV2.from_table_attributes(
            self, "JobsTable", table_name=config.JOBS_TABLE, global_indexes=[config.GSI1]
        )
        self.executions_table = dynamodb.TableV2.from_table_attributes(
            self, "ExecutionsTable", table_name=config.EXECUTIONS_TABLE, global_indexes=[config.GSI1]
        )
