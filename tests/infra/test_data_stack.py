"""The data stack: two global tables in the primary region with a replica in every configured region."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from jobsched import config, tables

TABLE_NAMES = (config.JOBS_TABLE, config.EXECUTIONS_TABLE)


def _global_table(template: Template, table_name: str) -> dict[str, Any]:
    tables = template.find_resources("AWS::DynamoDB::GlobalTable", {"Properties": {"TableName": table_name}})
    assert len(tables) == 1, f"expected one global table named {table_name}, found {list(tables)}"
    properties: dict[str, Any] = next(iter(tables.values()))["Properties"]
    return properties


def test_data_stack_holds_exactly_the_two_global_tables(data_stack_template: Template) -> None:
    data_stack_template.resource_count_is("AWS::DynamoDB::GlobalTable", 2)
    data_stack_template.resource_count_is("AWS::DynamoDB::Table", 0)


@pytest.mark.parametrize("table_name", TABLE_NAMES)
def test_global_table_keys_index_billing_stream_and_ttl(
    data_stack_template: Template, table_name: str
) -> None:
    table = _global_table(data_stack_template, table_name)

    assert table["BillingMode"] == "PAY_PER_REQUEST"
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
    assert table["GlobalSecondaryIndexes"] == [
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
def test_the_local_provisioner_creates_what_the_data_stack_synthesizes(
    data_stack_template: Template, definition: tables.TableDefinition
) -> None:
    """The provisioner's CreateTable request (DynamoDB Local) against the synthesized global table."""
    synthesized = _global_table(data_stack_template, definition.name)
    request = definition.create_table_request()

    assert request["TableName"] == synthesized["TableName"]
    assert request["BillingMode"] == synthesized["BillingMode"]
    assert request["KeySchema"] == synthesized["KeySchema"]
    assert sorted(request["AttributeDefinitions"], key=str) == sorted(
        synthesized["AttributeDefinitions"], key=str
    )
    assert request["GlobalSecondaryIndexes"] == synthesized["GlobalSecondaryIndexes"]
    assert (
        request["StreamSpecification"]["StreamViewType"]
        == synthesized["StreamSpecification"]["StreamViewType"]
    )
    assert synthesized["TimeToLiveSpecification"] == {
        "AttributeName": definition.ttl_attribute,
        "Enabled": True,
    }
    assert set(TABLE_NAMES) == {table.name for table in tables.TABLES}


@pytest.mark.parametrize("table_name", TABLE_NAMES)
def test_every_region_holds_a_protected_replica(data_stack_template: Template, table_name: str) -> None:
    replicas = _global_table(data_stack_template, table_name)["Replicas"]

    assert sorted(replica["Region"] for replica in replicas) == sorted(config.REGIONS)
    for replica in replicas:
        assert replica["DeletionProtectionEnabled"] is True, replica["Region"]
        assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert replica["GlobalSecondaryIndexes"] == [{"IndexName": config.GSI1}]


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
