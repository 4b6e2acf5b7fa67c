"""Every regional stack takes the job census (active jobs, schedules in error, stuck executions) every five
minutes through the census function's live alias."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match, Template


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
            for policy in policies.values()
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if statement["Action"] == "dynamodb:Query"
        ]
        assert statements, "no census policy"
        resources = [str(resource) for resource in statements[0]["Resource"]]
        assert len(resources) == 3 and "*" not in str(resources)
        # The jobs table and its gsi1 (tenants' partitions, the counters); the executions table's gsi1 only
        # (the sparse index of running executions), never its items.
        assert sum(":table/jobsched-jobs'" in r for r in resources) == 1
        assert sum(":table/jobsched-jobs/index/gsi1" in r for r in resources) == 1
        assert sum(":table/jobsched-executions/index/gsi1" in r for r in resources) == 1
