"""The rate tiers as API Gateway usage plans: keys are added to a plan when a tenant is onboarded."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_apigateway as apigw
from constructs import Construct

from infra.config import TierSettings
from jobsched import config


class TierUsagePlans(Construct):
    """One usage plan per tier (jobsched-basic, -standard, -premium) on the API's stage.

    Usage plans count quotas by day, week or month, so a tier's hourly figure becomes a daily quota;
    the per-key rate and burst carry the hourly spirit (see jobsched.config.TierLimits).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rest_api: apigw.RestApi,
        tiers: Mapping[config.Tier, TierSettings],
    ) -> None:
        super().__init__(scope, construct_id)
        self.plans: dict[config.Tier, apigw.UsagePlan] = {}
        for tier, limits in tiers.items():
            plan = apigw.UsagePlan(
                self,
                f"{tier.value.capitalize()}Plan",
                name=config.usage_plan_name(tier),
                description=f"{tier.value} tier: {limits.requests_per_hour} requests per hour",
                throttle=apigw.ThrottleSettings(rate_limit=limits.rate_per_second, burst_limit=limits.burst),
                quota=apigw.QuotaSettings(limit=limits.daily_quota, period=apigw.Period.DAY),
            )
            plan.add_api_stage(api=rest_api, stage=rest_api.deployment_stage)
            self.plans[tier] = plan
