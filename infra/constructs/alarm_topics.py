"""The critical and warning SNS topics of a region, with the subscriptions cdk.json's context names."""

from __future__ import annotations

from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.config import Notifications, NotificationTargets
from jobsched import config


def notification_topic(
    scope: Construct, construct_id: str, name: str, targets: NotificationTargets
) -> sns.Topic:
    """A TLS-only topic with one subscription per configured e-mail address and HTTPS endpoint.

    HTTPS endpoints must confirm the subscription (PagerDuty's SNS integration does; Slack needs AWS Chatbot
    or a relay, because an incoming webhook cannot confirm).
    """
    topic = sns.Topic(scope, construct_id, topic_name=name, display_name=name, enforce_ssl=True)
    for address in targets.emails:
        topic.add_subscription(subscriptions.EmailSubscription(address))
    for url in targets.https_endpoints:
        topic.add_subscription(subscriptions.UrlSubscription(url, protocol=sns.SubscriptionProtocol.HTTPS))
    # Not KMS-encrypted (docs/decisions.md); cdk-nag 3's AwsSolutions pack has no SNS encryption rule, so
    # there is no finding to acknowledge.
    return topic


class AlarmTopics(Construct):
    """Critical alarms page someone (PagerDuty); warnings go to chat (Slack) or e-mail."""

    def __init__(self, scope: Construct, construct_id: str, *, notifications: Notifications) -> None:
        super().__init__(scope, construct_id)
        self.critical = notification_topic(
            self, "Critical", f"{config.SERVICE}-alarms-critical", notifications.critical
        )
        self.warning = notification_topic(
            self, "Warning", f"{config.SERVICE}-alarms-warning", notifications.warning
        )
