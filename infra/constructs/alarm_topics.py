"""The critical and warning SNS topics of a region, with the subscriptions cdk.json's context names."""

from __future__ import annotations

from aws_cdk import Annotations, Stack
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.config import Notifications, NotificationTargets
from jobsched import config


def notification_topic(
    scope: Construct,
    construct_id: str,
    name: str,
    targets: NotificationTargets,
    *,
    warn_if_empty: bool = True,
) -> sns.Topic:
    """A TLS-only topic with one subscription per configured e-mail address, HTTPS endpoint and chat webhook.

    HTTPS endpoints and chat webhooks must confirm the subscription (PagerDuty's SNS integration does; a
    Slack or Teams incoming webhook cannot, so a chat webhook is a relay that does, docs/operations.md).
    With nobody to tell, synth warns on the stack (visible in `cdk synth`).
    """
    topic = sns.Topic(scope, construct_id, topic_name=name, display_name=name, enforce_ssl=True)
    for address in targets.emails:
        topic.add_subscription(subscriptions.EmailSubscription(address))
    for url in (*targets.https_endpoints, *targets.chat_webhooks):
        topic.add_subscription(subscriptions.UrlSubscription(url, protocol=sns.SubscriptionProtocol.HTTPS))
    if targets.empty and warn_if_empty:
        warn_no_subscriber(scope, name)
    # Not KMS-encrypted (docs/decisions.md); cdk-nag 3's AwsSolutions pack has no SNS encryption rule, so
    # there is no finding to acknowledge.
    return topic


def warn_no_subscriber(scope: Construct, topic_name: str) -> None:
    Annotations.of(Stack.of(scope)).add_warning_v2(
        f"jobsched:noSubscriber:{topic_name}",
        f"SNS topic {topic_name} has no subscriber: its notifications reach nobody. Add e-mails, "
        "https_endpoints or chat_webhooks under operations.notifications in cdk.json (docs/operations.md).",
    )


class AlarmTopics(Construct):
    """Critical alarms page someone (PagerDuty); warnings go to chat (Slack) or e-mail."""

    def __init__(self, scope: Construct, construct_id: str, *, notifications: Notifications) -> None:
        super().__init__(scope, construct_id)
        self.critical = notification_topic(
            self, "Critical", f"{config.SERVICE}-alarms-critical", notifications.critical
        )
        self.warning = notification_topic(
            self,
            "Warning",
            f"{config.SERVICE}-alarms-warning",
            notifications.warning,
            # Only the topics that must reach someone warn: critical (pages) and the budget.
            warn_if_empty=False,
        )
