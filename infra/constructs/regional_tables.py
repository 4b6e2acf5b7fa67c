"""The tables as seen from one region: the jobs global table imported by name (so ARNs carry that region),
and this region's own executions table."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.constructs.global_tables import build_table
from jobsched import tables


class RegionalTables(Construct):
    """The local replica of the jobs table, and the executions table of this region.

    from_table_attributes with the table name builds the ARN from the importing stack's region, and
    global_indexes makes grants cover the index ARNs too (from_table_name would leave them out).
    The jobs table's stream ARN differs per region and is known only at deploy time: schedule-sync's event
    source reads it with a DescribeTable lookup (constructs/scheduling.py), not from here.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.jobs_table = dynamodb.TableV2.from_table_attributes(
            self, "JobsTable", table_name=tables.JOBS.name, global_indexes=_index_names(tables.JOBS)
        )
        assert tables.EXECUTIONS.replication == "regional"
        self.executions_table = build_table(self, "ExecutionsTable", tables.EXECUTIONS, ())
        # The same table by its literal name, for what builds names from it (alarms, dashboards).
        self.executions_table_by_name = dynamodb.TableV2.from_table_attributes(
            self,
            "ExecutionsTableByName",
            table_name=tables.EXECUTIONS.name,
            global_indexes=_index_names(tables.EXECUTIONS),
        )


def _index_names(table: tables.TableDefinition) -> list[str]:
    return [index.name for index in table.indexes]
