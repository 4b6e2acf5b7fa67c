"""CDK entry point: the data stack in the primary region and one regional stack per configured region.

`npx cdk synth` runs this file with cdk.json's context (feature flags, regions, tiers); tests call
build_app() with the same context, because `python app.py` alone would not read cdk.json.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Environment, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import CONTEXT_KEYS, InfraConfig
from infra.stacks.data_stack import DataStack, data_stack_name
from infra.stacks.pipeline_stack import PIPELINE_STACK_NAME, PipelineStack
from infra.stacks.regional_stack import RegionalStack, regional_stack_name
from jobsched import config


def _environment(region: str) -> Environment:
    # Region-specific so table replicas and ARNs are concrete; the account comes from the deploying
    # credentials when there are any, and stays a token in offline synths.
    return Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=region)


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> App:
    app = App(context=dict(context) if context is not None else None, outdir=outdir)
    infra_config = InfraConfig.from_context({key: app.node.try_get_context(key) for key in CONTEXT_KEYS})

    data_stack = DataStack(
        app,
        data_stack_name(infra_config.primary_region),
        infra_config=infra_config,
        env=_environment(infra_config.primary_region),
        description="jobsched global tables (primary region, replicas in every other region)",
    )
    for region in infra_config.regions:
        regional_stack = RegionalStack(
            app,
            regional_stack_name(region),
            infra_config=infra_config,
            env=_environment(region),
            description=f"jobsched API and functions in {region}",
        )
        # The functions use the local table replicas, which the data stack creates.
        regional_stack.add_stack_dependency(data_stack)
    if infra_config.pipeline is not None:
        # The release pipeline, only when cdk.json (or -c pipeline=...) names its source and accounts.
        settings = infra_config.pipeline
        PipelineStack(
            app,
            PIPELINE_STACK_NAME,
            infra_config=infra_config,
            settings=settings,
            env=Environment(account=settings.account, region=infra_config.primary_region),
            description="jobsched release pipeline: test, staging, approval, production waves",
        )

    Tags.of(app).add("service", config.SERVICE)
    register_policy_checks(app)
    return app


def register_policy_checks(app: App) -> None:
    """cdk-nag 3 runs as a policy validation plugin after synthesis: an unacknowledged finding fails synth.

    Acknowledgments live next to the construct they concern, each with its reason, and are copied into
    the templates' metadata as an audit trail.
    """
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True))


if __name__ == "__main__":
    build_app().synth()
