"""The release pipeline (CDK Pipelines), in its own stack in the primary region of the pipeline account.

source (a CodeStar/CodeConnections connection: repository, branch)
  -> Synth: `make test` (lint, types, synth, every test with the coverage gate) then `cdk synth`
  -> the pipeline updates itself
  -> Staging: the data and regional stacks in one region of the staging account; smoke test
  -> manual approval
  -> Production wave 1: us-east-1 (the data stack with the global tables, and its regional stack); smoke test
  -> Production wave 2: eu-west-1 and ap-south-1 side by side; a smoke test after each
The smoke test is tools/smoke_test.py against the stage's ApiUrl output, with the stage's smoke key from
Secrets Manager. A failed step stops the pipeline; the functions' CodeDeploy canaries roll back by themselves.
Only synthesized when cdk.json (or -c pipeline=...) names the pipeline; `make pipeline` deploys it.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    CfnOutput,
    Environment,
    Stack,
    Stage,
    Validations,
    pipelines,
)
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import InfraConfig, PipelineSettings
from infra.stacks.data_stack import DataStack, data_stack_name
from infra.stacks.regional_stack import RegionalStack, regional_stack_name
from jobsched import config

PIPELINE_STACK_NAME = f"{config.SERVICE}-pipeline"
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
# What `make test` needs on the build image (python3.11, Node 20 for the CDK CLI, Java 17 for DynamoDB
# Local in the end-to-end tests), chosen with CodeBuild's runtime-versions; the install phase shows them.
RUNTIME_VERSIONS = {"python": "3.11", "nodejs": "20", "java": "corretto17"}
INSTALL_COMMANDS = ("python3.11 --version", "node --version", "java -version")
SMOKE_COMMAND = 'python3 tools/smoke_test.py "$API_URL" "$SMOKE_API_KEY" --target-url "$SMOKE_TARGET_URL"'
# cdk-nag findings on what CDK Pipelines generates, and why each is acceptable.
ARTIFACT_BUCKET_REASON = (
    "The pipeline's artifact buckets (here and the replication buckets in the other regions) hold build "
    "artifacts only; CloudTrail records access to them, and a log bucket would need its own lifecycle for no "
    "reader."
)
GENERATED_WILDCARDS_REASON = (
    "CDK Pipelines grants its CodeBuild and pipeline roles the artifact bucket's objects (<bucket>/*), its "
    "log groups and report groups by name pattern, KMS data-key actions on the pipeline's key and the "
    "bootstrap roles it assumes; CDK generates these statements and scopes them to the pipeline's own "
    "resources. The smoke steps read their stage's key secret (<name>-* is Secrets Manager's random suffix)."
)


class ReleaseStage(Stage):
    """What one step of the release deploys: optionally the data stack, and one regional stack."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        infra_config: InfraConfig,
        region: str,
        with_data_stack: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        account = self.account
        data_stack = None
        if with_data_stack:
            data_stack = DataStack(
                self,
                "Data",
                stack_name=data_stack_name(infra_config.primary_region),
                infra_config=infra_config,
                env=Environment(account=account, region=infra_config.primary_region),
            )
        self.regional_stack = RegionalStack(
            self,
            "Regional",
            stack_name=regional_stack_name(region),
            infra_config=infra_config,
            env=Environment(account=account, region=region),
        )
        if data_stack is not None:
            self.regional_stack.add_stack_dependency(data_stack)


class PipelineStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        infra_config: InfraConfig,
        settings: PipelineSettings,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.source = pipelines.CodePipelineSource.connection(
            settings.repository, settings.branch, connection_arn=settings.connection_arn
        )
        synth = pipelines.ShellStep(
            "Synth",
            input=self.source,
            install_commands=list(INSTALL_COMMANDS),
            # The whole gate: lint, types, synth and every test with the coverage floor (pyproject.toml).
            commands=["make test", "npx --no-install cdk synth"],
            primary_output_directory="cdk.out",
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=f"{config.SERVICE}-release",
            synth=synth,
            # Staging is another account: artifacts are encrypted with a key both accounts may use.
            cross_account_keys=True,
            enable_key_rotation=True,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE)
            ),
            synth_code_build_defaults=pipelines.CodeBuildOptions(
                partial_build_spec=codebuild.BuildSpec.from_object(
                    {"phases": {"install": {"runtime-versions": RUNTIME_VERSIONS}}}
                )
            ),
        )

        staging_config = infra_config.model_copy(
            update={"regions": (settings.staging_region,), "primary_region": settings.staging_region}
        )
        staging = ReleaseStage(
            self,
            "Staging",
            infra_config=staging_config,
            region=settings.staging_region,
            with_data_stack=True,
            env=Environment(account=settings.staging_account, region=settings.staging_region),
        )
        self.pipeline.add_stage(
            staging, post=[self._smoke_test("Staging", staging, settings.staging_smoke_key_secret, settings)]
        )

        first, *rest = _production_order(infra_config)
        first_wave = self.pipeline.add_wave(
            f"Production-{first}",
            pre=[
                pipelines.ManualApprovalStep(
                    "PromoteToProduction",
                    comment="Staging passed its smoke test. Approve to release to production, "
                    f"{first} first, then {', '.join(rest) or 'no other region'}.",
                )
            ],
        )
        self._add_production_stage(first_wave, infra_config, first, settings, with_data_stack=True)
        if rest:
            wave = self.pipeline.add_wave("Production-" + "-".join(rest))
            for region in rest:
                self._add_production_stage(wave, infra_config, region, settings, with_data_stack=False)
        self.pipeline.build_pipeline()
        self._acknowledge_generated_findings()

    def _add_production_stage(
        self,
        wave: pipelines.Wave,
        infra_config: InfraConfig,
        region: str,
        settings: PipelineSettings,
        *,
        with_data_stack: bool,
    ) -> None:
        stage = ReleaseStage(
            self,
            f"Production-{region}",
            infra_config=infra_config,
            region=region,
            with_data_stack=with_data_stack,
            env=Environment(account=settings.account, region=region),
        )
        smoke = self._smoke_test(
            f"Production-{region}", stage, settings.production_smoke_key_secret, settings
        )
        wave.add_stage(stage, post=[smoke])

    def _smoke_test(
        self, name: str, stage: ReleaseStage, key_secret: str, settings: PipelineSettings
    ) -> pipelines.CodeBuildStep:
        api_url: CfnOutput = stage.regional_stack.api_url_output
        return pipelines.CodeBuildStep(
            f"SmokeTest-{name}",
            input=self.source,
            commands=[SMOKE_COMMAND],
            env={"SMOKE_TARGET_URL": settings.smoke_target_url},
            env_from_cfn_outputs={"API_URL": api_url},
            build_environment=codebuild.BuildEnvironment(
                build_image=BUILD_IMAGE,
                environment_variables={
                    "SMOKE_API_KEY": codebuild.BuildEnvironmentVariable(
                        type=codebuild.BuildEnvironmentVariableType.SECRETS_MANAGER, value=key_secret
                    )
                },
            ),
            role_policy_statements=[
                iam.PolicyStatement(
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[
                        self.format_arn(
                            service="secretsmanager",
                            resource="secret",
                            resource_name=f"{key_secret}-*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    ],
                )
            ],
        )

    def _acknowledge_generated_findings(self) -> None:
        """cdk-nag findings on what CDK Pipelines generates, each acknowledged with its reason above.

        The wildcard findings name each action and resource; they are read from the generated policies
        (spelled as cdk-nag prints them) rather than copied here, so a CDK upgrade cannot leave one behind.
        """
        Validations.of(self).acknowledge(Acknowledgment(id="AwsSolutions-S1", reason=ARTIFACT_BUCKET_REASON))
        for construct in self.node.find_all():
            if (
                isinstance(construct, iam.CfnPolicy)
                and construct.node.scope is not None
                and Stack.of(construct) is self  # not the stages' own stacks (their findings are theirs)
            ):
                ids = wildcard_findings(self.resolve(construct.policy_document))
                Validations.of(construct.node.scope).acknowledge(
                    *[Acknowledgment(id=finding, reason=GENERATED_WILDCARDS_REASON) for finding in ids]
                )
        # CodePipeline's artifact replication buckets in the other regions, in support stacks CDK adds.
        for support in self.pipeline.pipeline.cross_region_support.values():
            Validations.of(support.stack).acknowledge(
                Acknowledgment(id="AwsSolutions-S1", reason=ARTIFACT_BUCKET_REASON)
            )


def wildcard_findings(document: Any) -> list[str]:
    """The AwsSolutions-IAM5 finding ids of a resolved policy document: wildcard actions and resources."""
    found: list[str] = []
    for statement in document.get("Statement", []) if isinstance(document, dict) else []:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        for action in [actions] if isinstance(actions, str) else actions:
            if "*" in action:
                found.append(f"AwsSolutions-IAM5[Action::{action}]")
        for resource in resources if isinstance(resources, list) else [resources]:
            shown = _as_nag_shows(resource)
            if "*" in shown:
                found.append(f"AwsSolutions-IAM5[Resource::{shown}]")
    return sorted(set(found))


def _as_nag_shows(value: Any) -> str:
    """A resolved CloudFormation value as cdk-nag spells it: <LogicalId>, <LogicalId.Attribute>, joins."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        resource, attribute = value["Fn::GetAtt"]
        return f"<{resource}.{attribute}>"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_as_nag_shows(part) for part in parts)
    return str(value)


def _production_order(infra_config: InfraConfig) -> list[str]:
    """The primary region first (it holds the global tables), then the others in configured order."""
    return [infra_config.primary_region, *infra_config.replica_regions]
