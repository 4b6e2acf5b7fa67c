"""Every synthesized template passes cfn-lint and cdk-nag (AwsSolutions), acknowledgments included."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Acknowledgment, App, Duration, Stack, Validations
from aws_cdk import aws_sqs as sqs
from cfnlint.api import ManualArgs, lint_file  # type: ignore[import-untyped]

from app import build_app, register_policy_checks
from tests.infra.conftest import VALIDATION_REPORT, load_cdk_json

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
    # The scheduler's and schedule-sync's dead-letter queues are DLQs themselves (constructs/scheduling.py).
    "AwsSolutions-SQS3",
    # The execution archive (constructs/execution_archive.py): no server access logs for a bucket only the
    # service's functions use; the archiver writes day objects in its region's bucket; the Execution API
    # reads them in every region's (a job's history is in its home region).
    "AwsSolutions-S1",
    "AwsSolutions-IAM5[Resource::<ExecutionArchiveBucket04FEAA81.Arn>/*]",
    *(
        f"AwsSolutions-IAM5[Resource::arn:aws:s3:::jobsched-archive-<AWS::AccountId>-{region}/*]"
        for region in ("us-east-1", "eu-west-1", "ap-south-1")
    ),
    # The user pool without the Plus feature plan (constructs/user_directory.py).
    "AwsSolutions-COG8",
    # The Identity API registers keys in every region's usage plans (constructs/identity_api_routes.py).
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:apigateway:*::/apikeys]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:apigateway:*::/apikeys/*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:apigateway:*::/usageplans]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:apigateway:*::/usageplans/*/keys]",
    # ... and makes OAuth clients in the primary region's user pool, whose id is only known at run time.
    "AwsSolutions-IAM5[Resource::arn:aws:cognito-idp:us-east-1:<AWS::AccountId>:userpool/*]",
}
# Execution (per regional stack): the executor may call the buses, queues, functions, topics and state
# machines cdk.json's execution_targets allow for allow-listed targets (default: the account's own in its
# region), and assume any tenant's target role (with an ExternalId). No function is granted a table index.
EXECUTION_ACKNOWLEDGMENTS = {
    "AwsSolutions-IAM5[Resource::arn:aws:events:{region}:<AWS::AccountId>:event-bus/*]": "<target-buses>",
    "AwsSolutions-IAM5[Resource::arn:aws:sqs:{region}:<AWS::AccountId>:*]": "<target-queues>",
    "AwsSolutions-IAM5[Resource::arn:aws:lambda:{region}:<AWS::AccountId>:function:*]": "<target-functions>",
    "AwsSolutions-IAM5[Resource::arn:aws:sns:{region}:<AWS::AccountId>:*]": "<target-topics>",
    "AwsSolutions-IAM5[Resource::arn:aws:states:{region}:<AWS::AccountId>:stateMachine:*]": "<machines>",
    "AwsSolutions-IAM5[Resource::arn:aws:iam::*:role/*]": "<tenant-roles>",
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
                rule_id = rule["id"].replace(
                    SCHEDULES_WILDCARD_ACKNOWLEDGMENT.format(region=region), "<schedules>"
                )
                for pattern, name in EXECUTION_ACKNOWLEDGMENTS.items():
                    rule_id = rule_id.replace(pattern.format(region=region), name)
                acknowledged.setdefault(rule_id, set()).add(stack_name)

    regional_stacks = {name for name in synthesized.stack_names if not name.startswith("jobsched-data-")}
    assert set(acknowledged) == EXPECTED_ACKNOWLEDGMENTS | {"<schedules>"} | set(
        EXECUTION_ACKNOWLEDGMENTS.values()
    )
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


Finding = tuple[str, str]  # (construct path, cdk-nag finding id)


class _RecordedValidations:
    """Stands in for Validations.of(scope): records each acknowledgment instead of making it."""

    def __init__(self, scope: Any, recorded: set[Finding]) -> None:
        self._path = scope.node.path
        self._recorded = recorded

    def acknowledge(self, *acknowledgments: Acknowledgment) -> None:
        self._recorded.update((self._path, acknowledgment.id) for acknowledgment in acknowledgments)


def dead_acknowledgments(build: Callable[[str], App], monkeypatch: pytest.MonkeyPatch) -> set[Finding]:
    """Synthesize with every acknowledgment left out: those whose finding does not come back are dead.

    An acknowledgment is alive when cdk-nag reports its finding id on its scope or a resource under it.
    """
    acknowledged: set[Finding] = set()
    real_of = Validations.of

    def recording_of(scope: Any) -> Any:
        # The app itself gets the real object: that is where the policy plugin is registered.
        return real_of(scope) if isinstance(scope, App) else _RecordedValidations(scope, acknowledged)

    with tempfile.TemporaryDirectory() as outdir, monkeypatch.context() as patch:
        patch.setattr(Validations, "of", staticmethod(recording_of))
        app = build(outdir)
        with pytest.raises(RuntimeError, match="ValidationFailed"):
            app.synth()
        report = json.loads((Path(outdir) / VALIDATION_REPORT).read_text())
    findings = {
        (construct["constructPath"], violation["ruleName"])
        for plugin in report["pluginReports"]
        for violation in plugin.get("violations", [])
        for construct in violation["violatingConstructs"]
    }

    def alive(scope: str, finding_id: str) -> bool:
        return any(
            (path == scope or path.startswith(scope + "/"))
            and (rule == finding_id or rule.startswith(finding_id + "["))
            for path, rule in findings
        )

    return {(scope, finding_id) for scope, finding_id in acknowledged if not alive(scope, finding_id)}


def test_every_acknowledgment_still_matches_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the acknowledgments left out, each one's finding must come back on its scope."""
    context = load_cdk_json()["context"]
    monkeypatch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
    dead = dead_acknowledgments(lambda outdir: build_app(context=context, outdir=outdir), monkeypatch)
    assert dead == set()


def _queues_app(outdir: str) -> App:
    app = App(outdir=outdir)
    stack = Stack(app, "Queues")
    # A true acknowledgment: this queue has no dead-letter queue, and says why.
    lonely = sqs.Queue(stack, "Lonely", enforce_ssl=True)
    Validations.of(lonely).acknowledge(
        Acknowledgment(id="AwsSolutions-SQS3", reason="Its messages are rebuilt from a table, never lost.")
    )
    dead_letters = sqs.Queue(stack, "DeadLetters", enforce_ssl=True)
    main = sqs.Queue(
        stack,
        "Main",
        enforce_ssl=True,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=3),
        visibility_timeout=Duration.seconds(30),
    )
    # Stale: this queue has a dead-letter queue, so the finding it acknowledges never comes.
    Validations.of(main).acknowledge(
        Acknowledgment(
            id="AwsSolutions-SQS3", reason="Left over from before the queue got a dead-letter queue."
        )
    )
    register_policy_checks(app)
    return app


def test_the_dead_acknowledgment_check_finds_a_stale_one(monkeypatch: pytest.MonkeyPatch) -> None:
    with tempfile.TemporaryDirectory() as outdir:
        _queues_app(outdir).synth()  # the acknowledgments as written pass the policy gate
    assert dead_acknowledgments(_queues_app, monkeypatch) == {("Queues/Main", "AwsSolutions-SQS3")}
