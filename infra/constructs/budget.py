"""The monthly cost budget of the account, with an alert at a share of it (deployed once, primary region)."""

from __future__ import annotations

from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import BudgetSettings, NotificationTargets
from infra.constructs.alarm_topics import notification_topic
from jobsched import config


class CostBudget(Construct):
    """A COST budget in USD per month. It alerts when actual spend passes the threshold, and when the
    month's forecast passes the whole budget, by SNS (which fans out to the configured subscribers) and
    directly by e-mail to the configured addresses.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: BudgetSettings, targets: NotificationTargets
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = notification_topic(self, "Topic", f"{config.SERVICE}-budget", targets)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["sns:Publish"],
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                resources=[self.topic.topic_arn],
            )
        )
        subscribers = [
            budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=self.topic.topic_arn)
        ]
        # Budgets allows at most one SNS subscriber per notification; e-mail goes direct as well.
        subscribers += [
            budgets.CfnBudget.SubscriberProperty(subscription_type="EMAIL", address=address)
            for address in targets.emails[:10]
        ]
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=f"{config.SERVICE}-monthly",
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=settings.monthly_limit_usd, unit="USD"),
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type="ACTUAL",
                        comparison_operator="GREATER_THAN",
                        threshold=settings.alert_threshold_percent,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=subscribers,
                ),
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type="FORECASTED",
                        comparison_operator="GREATER_THAN",
                        threshold=100,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=subscribers,
                ),
            ],
        )
        self.budget.node.add_dependency(self.topic)
