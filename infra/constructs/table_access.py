"""Item-level grants on the shared tables: a function may touch only the partitions its code addresses.

The jobs table also holds API key records (pk APIKEY#...) and the operators' target grants (pk ACCESS#...),
as jobsched.keyscheme spells them.
A function serving tenants' requests gets its actions on the table only where every partition key of the
request matches its prefixes (the dynamodb:LeadingKeys condition key), never on an index, and never Scan
(a Scan has no partition key, and ForAllValues over no keys is true).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam

from jobsched.keyscheme import ACCESS_PREFIX, TENANT_PREFIX, partitions

# Tenants' jobs, counters and idempotency records (jobs table); executions (TENANT#<t>#JOB#<j>).
TENANT_PARTITIONS = (partitions(TENANT_PREFIX),)
# What operators granted a tenant for AWS targets (jobsched_cli.tenant_commands writes it).
ACCESS_PARTITIONS = (partitions(ACCESS_PREFIX),)
READ_ACTIONS = ("GetItem", "BatchGetItem", "Query")
WRITE_ACTIONS = ("PutItem", "UpdateItem", "DeleteItem")


def grant_partitions(
    principal: iam.IGrantable,
    table: dynamodb.ITableV2,
    actions: Sequence[str],
    partitions: Sequence[str],
) -> None:
    """`actions` (no dynamodb: prefix) on `table`'s items whose partition key matches `partitions`."""
    statement = iam.PolicyStatement(
        actions=[f"dynamodb:{action}" for action in actions],
        resources=[table.table_arn],
        conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(partitions)}},
    )
    principal.grant_principal.add_to_principal_policy(statement)
