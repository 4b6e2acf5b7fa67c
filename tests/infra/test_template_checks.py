"""Every synthesized template passes cfn-lint and cdk-nag (AwsSolutions), acknowledgments included."""

from __future__ import annotations

import tempfile
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sqs as sqs
from cfnlint.api import ManualArgs, lint_file  # type: ignore[import-untyped]

from app import register_policy_checks

# Warnings cfn-lint may raise on CDK output, each with the reason it does not apply.
IGNORED_CFN_LINT_RULES = {
    # CDK makes each function DependsOn its role and role policy so the policy exists before the first
    # invocation; cfn-lint sees the role's dependency as already implied by the Role GetAtt.
    "W3005",
}
# Every cdk-nag finding the app acknowledges. A new one must be added here, in review, on purpose.
EXPECTED_ACKNOWLEDGMENTS = {
    "AwsSolutions-APIG4",
    "AwsSolutions-COG4",
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]",
    "AwsSolutions-IAM5[Resource::*]",
    "AwsSolutions-L1",
    "AwsSolutions-SNS2",
    # The scheduler's and schedule-sync's dead-letter queues are DLQs themselves (constructs/scheduling.py).
    "AwsSolutions-SQS3",
}
INDEX_WILDCARD_ACKNOWLEDGMENT = (
    "AwsSolutions-IAM5[Resource::arn:aws:dynamodb:{region}:<AWS::AccountId>:table/jobsched-jobs/index/*]"
)
# Execution (per regional stack): the executor and the Execution API use the executions table's gsi1 pattern;
# the executor may call the EventBridge buses and SQS queues cdk.json's execution_targets allow (default:
# the account's own in its region), since each job names its own bus or queue.
EXECUTION_ACKNOWLEDGMENTS = {
    "AwsSolutions-IAM5[Resource::arn:aws:dynamodb:{region}:<AWS::AccountId>:table/jobsched-executions"
    "/index/*]": "<executions-index>",
    "AwsSolutions-IAM5[Resource::arn:aws:events:{region}:<AWS::AccountId>:event-bus/*]": "<target-buses>",
    "AwsSolutions-IAM5[Resource::arn:aws:sqs:{region}:<AWS::AccountId>:*]": "<target-queues>",
}

# schedule-sync manages the schedules of the service's own group: schedule/jobsched/* in each region.
SCHEDULES_WILDCARD_ACKNOWLEDGMENT = (
    "AwsSolutions-IAM5[Resource::arn:aws:scheduler:{region}:<AWS::AccountId>:schedule/jobsched/*]"
)


def _stack_region(stack_name: str) -> str:
    # Stack names carry their region: jobsched-data-<primary region> and jobsched-<region>.
    return stack_name.removeprefix("jobsched-").removeprefix("data-")


def test_cfn_lint_finds_no_errors_or_unexplained_warnings(every_synth: Any) -> None:
    synthesized = every_synth
    problems = []
    for stack_name in synthesized.stack_names:
        config = ManualArgs(
            regions=[_stack_region(stack_name)],
            ignore_checks=sorted(IGNORED_CFN_LINT_RULES),
        )
        matches = lint_file(synthesized.template_path(stack_name), config=config)
        problems += [f"{stack_name}: {match}" for match in matches if not match.rule.id.startswith("I")]
    assert problems == []


def test_cdk_nag_report_has_no_unacknowledged_findings(every_synth: Any) -> None:
    report = every_synth.validation_report()

    failed = [plugin for plugin in report["pluginReports"] if plugin.get("conclusion") != "success"]
    assert failed == []


def test_every_acknowledgment_is_expected_and_explained(every_synth: Any) -> None:
    synthesized = every_synth
    acknowledged: dict[str, set[str]] = {}
    for stack_name in synthesized.stack_names:
        region = _stack_region(stack_name)
        for resource in synthesized.template_json(stack_name)["Resources"].values():
            for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
                assert len(rule["reason"]) >= 40, f"{rule['id']} needs a real reason, got {rule['reason']!r}"
                rule_id = rule["id"].replace(INDEX_WILDCARD_ACKNOWLEDGMENT.format(region=region), "<index>")
                rule_id = rule_id.replace(
                    SCHEDULES_WILDCARD_ACKNOWLEDGMENT.format(region=region), "<schedules>"
                )
                for pattern, name in EXECUTION_ACKNOWLEDGMENTS.items():
                    rule_id = rule_id.replace(pattern.format(region=region), name)
                acknowledged.setdefault(rule_id, set()).add(stack_name)

    regional_stacks = {name for name in synthesized.stack_names if not name.startswith("jobsched-data-")}
    assert set(acknowledged) == EXPECTED_ACKNOWLEDGMENTS | {"<index>", "<schedules>"} | set(
        EXECUTION_ACKNOWLEDGMENTS.values()
    )
    assert acknowledged["<index>"] == regional_stacks
    assert acknowledged["<schedules>"] == regional_stacks
    assert all(acknowledged[name] == regional_stacks for name in EXECUTION_ACKNOWLEDGMENTS.values())


def test_the_policy_gate_fails_synth_on_an_unacknowledged_finding() -> None:
    # The same registration build_app uses, on a queue without a dead-letter queue or TLS-only policy.
    with tempfile.TemporaryDirectory() as outdir:
        app = App(outdir=outdir)
        sqs.Queue(Stack(app, "NonCompliant"), "Queue")
        register_policy_checks(app)

        with pytest.raises(RuntimeError, match=r"AwsSolutions-SQS3"):
            app.synth()
