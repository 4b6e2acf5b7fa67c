"""Every regional stack counts active jobs every five minutes through the census function's live alias."""

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


def test_the_census_may_only_query_the_jobs_table_and_its_index(
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
        resources = statements[0]["Resource"]
        assert len(resources) == 2
        assert "/index/gsi1" in str(resources[1]) and "*" not in str(resources)
