"""The tables: the jobs global table (data stack, primary region, a replica in every configured region), and
an executions table of its own in every regional stack."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from jobsched import config, tables

TABLE_NAMES = (config.JOBS_TABLE, config.EXECUTIONS_TABLE)
GLOBAL_TABLE_NAMES = (config.JOBS_TABLE,)
# both tables are provisioned with auto scaling (docs/operations.md, Capacity)
BILLING_MODES = {config.JOBS_TABLE: "PROVISIONED", config.EXECUTIONS_TABLE: "PROVISIONED"}


def _auto_scaling(kind: str, capacity: tables.AutoScaledCapacity) -> dict[str, Any]:
    return {
        f"{kind}CapacityAutoScalingSettings": {
            "MinCapacity": capacity.minimum,
            "MaxCapacity": capacity.maximum,
            "TargetTrackingScalingPolicyConfiguration": {"TargetValue": capacity.target_percent},
        }
    }


def _global_table(template: Template, table_name: str) -> dict[str, Any]:
    tables = template.find_resources("AWS::DynamoDB::GlobalTable", {"Properties": {"TableName": table_name}})
    assert len(tables) == 1, f"expected one global table named {table_name}, found {list(tables)}"
    properties: dict[str, Any] = next(iter(tables.values()))["Properties"]
    return properties


def _template_of(table_name: str, data: Template, regional: dict[str, Template]) -> Template:
    """The template a table is declared in: the data stack for global tables, a regional stack otherwise."""
    return data if table_name in GLOBAL_TABLE_NAMES else regional[config.PRIMARY_REGION]


def test_data_stack_holds_exactly_the_jobs_global_table(data_stack_template: Template) -> None:
    data_stack_template.resource_count_is("AWS::DynamoDB::GlobalTable", 1)
    data_stack_template.resource_count_is("AWS::DynamoDB::Table", 0)
    assert {t.name for t in tables.TABLES if t.replication == "global"} == set(GLOBAL_TABLE_NAMES)


def test_every_region_has_its_own_executions_table_with_point_in_time_recovery(
    regional_templates: dict[str, Template],
) -> None:
    """History stays in the job's home region: one replica (the stack's region), protected, recoverable."""
    for region, template in regional_templates.items():
        replicas = _global_table(template, config.EXECUTIONS_TABLE)["Replicas"]
        assert [replica["Region"] for replica in replicas] == [region]
        assert replicas[0]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert replicas[0]["DeletionProtectionEnabled"] is True


@pytest.mark.parametrize("table_name", TABLE_NAMES)
def test_table_keys_index_billing_stream_and_ttl(
    data_stack_template: Template, regional_templates: dict[str, Template], table_name: str
) -> None:
    table = _global_table(_template_of(table_name, data_stack_template, regional_templates), table_name)

    assert table["BillingMode"] == BILLING_MODES[table_name]
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert sorted((a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]) == [
        ("gsi1pk", "S"),
        ("gsi1sk", "S"),
        ("pk", "S"),
        ("sk", "S"),
    ]
    assert [
        {k: v for k, v in index.items() if k != "WriteProvisionedThroughputSettings"}
        for index in table["GlobalSecondaryIndexes"]
    ] == [
        {
            "IndexName": config.GSI1,
            "KeySchema": [
                {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["TimeToLiveSpecification"] == {"AttributeName": config.TTL_ATTRIBUTE, "Enabled": True}


@pytest.mark.parametrize("definition", tables.TABLES, ids=lambda t: t.name)
def test_the_local_provisioner_creates_what_the_stacks_synthesize(
    data_stack_template: Template, regional_templates: dict[str, Template], definition: tables.TableDefinition
) -> None:
    """The provisioner's CreateTable request (DynamoDB Local) against the synthesized table."""
    template = _template_of(definition.name, data_stack_template, regional_templates)
    synthesized = _global_table(template, definition.name)
    request = definition.create_table_request()

    assert request["TableName"] == synthesized["TableName"]
    assert request["BillingMode"] == synthesized["BillingMode"]
    assert request["KeySchema"] == synthesized["KeySchema"]
    assert sorted(request["AttributeDefinitions"], key=str) == sorted(
        synthesized["AttributeDefinitions"], key=str
    )
    assert [(i["IndexName"], i["KeySchema"], i["Projection"]) for i in request["GlobalSecondaryIndexes"]] == [
        (i["IndexName"], i["KeySchema"], i["Projection"]) for i in synthesized["GlobalSecondaryIndexes"]
    ]
    if definition.capacity is not None:
        # DynamoDB Local has no auto scaling: the local table and its indexes are made at the floor
        assert request["ProvisionedThroughput"] == {
            "ReadCapacityUnits": definition.capacity.reads.minimum,
            "WriteCapacityUnits": definition.capacity.writes.minimum,
        }
        assert all(
            index["ProvisionedThroughput"]["WriteCapacityUnits"] >= 1
            for index in request["GlobalSecondaryIndexes"]
        )
    else:
        assert "ProvisionedThroughput" not in request
    assert (
        request["StreamSpecification"]["StreamViewType"]
        == synthesized["StreamSpecification"]["StreamViewType"]
    )
    assert synthesized["TimeToLiveSpecification"] == {
        "AttributeName": definition.ttl_attribute,
        "Enabled": True,
    }
    assert set(TABLE_NAMES) == {table.name for table in tables.TABLES}


@pytest.mark.parametrize("table_name", GLOBAL_TABLE_NAMES)
def test_every_region_holds_a_protected_replica(data_stack_template: Template, table_name: str) -> None:
    replicas = _global_table(data_stack_template, table_name)["Replicas"]

    assert sorted(replica["Region"] for replica in replicas) == sorted(config.REGIONS)
    for replica in replicas:
        assert replica["DeletionProtectionEnabled"] is True, replica["Region"]
        # each replica has the index (its read capacity: test_the_jobs_table_is_provisioned_...)
        assert [index["IndexName"] for index in replica["GlobalSecondaryIndexes"]] == [config.GSI1]
    # Point-in-time recovery on the primary replica only: the others are copies of it.
    recovery = {
        r["Region"]: r["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] for r in replicas
    }
    assert recovery == {region: region == config.PRIMARY_REGION for region in config.REGIONS}


def test_tables_are_retained_when_the_stack_goes(data_stack_template: Template) -> None:
    data_stack_template.all_resources(
        "AWS::DynamoDB::GlobalTable", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    )


def test_data_stack_is_tagged_with_the_service(data_stack_template: Template) -> None:
    data_stack_template.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "Replicas": Match.array_with(
                [Match.object_like({"Tags": [{"Key": "service", "Value": "jobsched"}]})]
            )
        },
    )


def test_the_jobs_table_is_provisioned_with_auto_scaling_in_every_replica(
    data_stack_template: Template,
) -> None:
    """Reads and writes of the table and its index follow target tracking between the floor and the maximum
    jobsched.tables declares; the write capacity (the same in every replica, as global tables require) is
    set once on the table, the read capacity per replica."""
    table = _global_table(data_stack_template, config.JOBS_TABLE)
    capacity, index_capacity = tables.JOBS_CAPACITY, tables.JOBS_INDEX_CAPACITY
    assert index_capacity is not None and tables.JOBS.indexes[0].capacity == index_capacity

    assert sorted(replica["Region"] for replica in table["Replicas"]) == sorted(config.REGIONS)
    _assert_auto_scaled(table, capacity, index_capacity)


def test_every_executions_table_is_provisioned_with_auto_scaling(
    regional_templates: dict[str, Template],
) -> None:
    """Each region's table and its running-entry index follow target tracking between the floor and the
    maximum jobsched.tables declares (the archiver's paced scan is what lets the reads be provisioned)."""
    capacity, index_capacity = tables.EXECUTIONS_CAPACITY, tables.EXECUTIONS_INDEX_CAPACITY
    assert tables.EXECUTIONS.capacity == capacity and tables.EXECUTIONS.indexes[0].capacity == index_capacity
    for region, template in regional_templates.items():
        table = _global_table(template, config.EXECUTIONS_TABLE)
        assert table["BillingMode"] == "PROVISIONED"
        assert [replica["Region"] for replica in table["Replicas"]] == [region]
        _assert_auto_scaled(table, capacity, index_capacity)


def _assert_auto_scaled(
    table: dict[str, Any], capacity: tables.ProvisionedCapacity, index_capacity: tables.ProvisionedCapacity
) -> None:
    """The table's writes, each replica's reads and its gsi1's follow the capacities jobsched.tables sets."""
    assert table["WriteProvisionedThroughputSettings"] == _auto_scaling("Write", capacity.writes)
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["WriteProvisionedThroughputSettings"] == _auto_scaling("Write", index_capacity.writes)
    for replica in table["Replicas"]:
        assert replica["ReadProvisionedThroughputSettings"] == _auto_scaling("Read", capacity.reads)
        assert replica["GlobalSecondaryIndexes"] == [
            {
                "IndexName": config.GSI1,
                "ReadProvisionedThroughputSettings": _auto_scaling("Read", index_capacity.reads),
            }
        ]
    for limits in (capacity.reads, capacity.writes, index_capacity.reads, index_capacity.writes):
        assert 0 < limits.minimum < limits.maximum and limits.target_percent == 70
