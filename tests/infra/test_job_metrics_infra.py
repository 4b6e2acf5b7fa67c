"""Every regional stack takes the job census (active jobs, schedules in error, stuck executions) every five
minutes through the census function's live alias."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match, Template

from jobsched import config


def test_the_census_runs_every_five_minutes_on_its_alias(regional_templates: dict[str, Template]) -> None:
    for template in regional_templates.values():
        rules = template.find_resources(
            "AWS::Events::Rule", {"Properties": {"ScheduleExpression": "rate(5 minutes)"}}
        )
        assert len(rules) == 1
        [rule] = rules.values()
        [target] = rule["Properties"]["Targets"]
        aliases = template.find_resources("AWS::Lambda::Alias")
        assert target["Arn"]["Ref"] in aliases


def test_the_census_may_only_query_the_jobs_table_its_index_and_the_executions_index(
    regional_templates: dict[str, Template],
) -> None:
    for template in regional_templates.values():
        policies = template.find_resources(
            "AWS::IAM::Policy",
            {
                "Properties": {
                    "PolicyDocument": {
                        "Statement": Match.array_with([Match.object_like({"Action": "dynamodb:Query"})])
                    }
                }
            },
        )
        statements: list[dict[str, Any]] = [
            statement
            for logical_id, policy in policies.items()
            if "JobMetrics" in logical_id  # the census function's own role policy
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if statement["Action"] == "dynamodb:Query"
        ]
        assert statements, "no census policy"
        [statement] = statements
        resources = statement["Resource"]
        # The jobs table (tenants' partitions), its counters' index, and the executions table's index of
        # running executions (stuck ones): never the executions table itself, never a wildcard.
        assert len(resources) == 3 and "*" not in str(resources)
        jobs, jobs_index, executions_index = (json.dumps(resource) for resource in resources)
        index = f'/index/{config.GSI1}"'
        assert config.JOBS_TABLE in jobs and "/index/" not in jobs
        assert config.JOBS_TABLE in jobs_index and jobs_index.endswith(index + "]]}")
        [executions_table] = template.find_resources(
            "AWS::DynamoDB::GlobalTable", {"Properties": {"TableName": config.EXECUTIONS_TABLE}}
        )
        assert f'"{executions_table}", "Arn"' in executions_index and executions_index.endswith(index + "]]}")
