"""Operations in the templates: 4 dashboards, the alarms on their topics, canary deployments, budget."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.config import InfraConfig, InfraConfigError
from infra.constructs.dashboards import DASHBOARDS, dashboard_name
from jobsched import config

CRITICAL = {
    "ServiceDown": 0.5,
    "ApiErrorRate": 0.05,
    "ApiLatencyP95": 2000,
    f"DynamoDbErrors-{config.JOBS_TABLE}": 0,
    f"DynamoDbThrottles-{config.JOBS_TABLE}": 0,
    f"DynamoDbErrors-{config.EXECUTIONS_TABLE}": 0,
    f"DynamoDbThrottles-{config.EXECUTIONS_TABLE}": 0,
    "DeadLetterQueueNotEmpty": 0,
    "FiresRejected": 0,
}
WARNING = {
    "ApiErrorRate": 0.02,
    "ApiLatencyP95": 1000,
    "JobExecutionFailures": 0.1,
    "WafBlockedRequests": 3000,
    # constructs/execution_archive.py: a daily archive run failed (its DLQ), or the archiver raised.
    "ArchiverFailed": 0,
    "ArchiverErrors": 0,
}


def _of_type(resources: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in resources.items() if value["Type"] == kind}


def _alarms_by_name(resources: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        alarm["Properties"]["AlarmName"]: alarm["Properties"]
        for alarm in _of_type(resources, "AWS::CloudWatch::Alarm").values()
    }


def _topic_id(resources: dict[str, dict[str, Any]], name: str) -> str:
    (topic_id,) = [
        key
        for key, topic in _of_type(resources, "AWS::SNS::Topic").items()
        if topic["Properties"]["TopicName"] == name
    ]
    return topic_id


def test_four_dashboards_named_as_the_spec_names_them(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    names = sorted(
        d["Properties"]["DashboardName"] for d in _of_type(resources, "AWS::CloudWatch::Dashboard").values()
    )

    assert names == sorted(dashboard_name(region, slug) for slug in DASHBOARDS.values())
    assert names == sorted(
        f"jobsched-{region}-{slug}"
        for slug in (
            "application-performance",
            "infrastructure-health",
            "business-metrics",
            "error-rate-and-latency",
        )
    )


@pytest.mark.parametrize(("severity", "expected"), [("critical", CRITICAL), ("warning", WARNING)])
def test_alarm_thresholds_and_actions_on_their_topic(
    resources: dict[str, dict[str, Any]], region: str, severity: str, expected: dict[str, float]
) -> None:
    alarms = _alarms_by_name(resources)
    topic = {"Ref": _topic_id(resources, f"jobsched-alarms-{severity}")}
    prefix = f"jobsched-{region}-{severity}-"

    assert {name.removeprefix(prefix) for name in alarms if name.startswith(prefix)} == set(expected)
    for name, threshold in expected.items():
        alarm = alarms[prefix + name]
        assert alarm["Threshold"] == threshold, name
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold", name
        assert alarm["AlarmActions"] == [topic], name
        assert alarm["OKActions"] == [topic], name


def test_api_alarms_read_the_stage_metrics(resources: dict[str, dict[str, Any]], region: str) -> None:
    alarms = _alarms_by_name(resources)
    latency = alarms[f"jobsched-{region}-critical-ApiLatencyP95"]

    assert (latency["Namespace"], latency["MetricName"], latency["ExtendedStatistic"]) == (
        "AWS/ApiGateway",
        "Latency",
        "p95",
    )
    assert {"Name": "Stage", "Value": config.API_STAGE} in latency["Dimensions"]
    service_down = alarms[f"jobsched-{region}-critical-ServiceDown"]
    assert (service_down["MetricName"], service_down["Statistic"], service_down["Period"]) == (
        "5XXError",
        "Average",
        60,
    )
    assert service_down["EvaluationPeriods"] == 1


def test_execution_failure_alarm_divides_failed_by_finished(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    alarm = _alarms_by_name(resources)[f"jobsched-{region}-warning-JobExecutionFailures"]
    queries = {query["Id"]: query for query in alarm["Metrics"]}

    assert queries["expr_1"]["Expression"] == "failed / (succeeded + failed)" or any(
        query.get("Expression") == "failed / (succeeded + failed)" for query in alarm["Metrics"]
    )
    outcomes = {
        dimension["Value"]
        for query in alarm["Metrics"]
        if "MetricStat" in query
        for dimension in query["MetricStat"]["Metric"]["Dimensions"]
        if dimension["Name"] == "outcome"
    }
    assert outcomes == {"failed", "succeeded"}


def test_every_function_has_a_live_alias_and_a_canary_deployment_group_that_rolls_back_on_alarms(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    functions = _of_type(resources, "AWS::Lambda::Function")
    aliases = _of_type(resources, "AWS::Lambda::Alias")
    groups = _of_type(resources, "AWS::CodeDeploy::DeploymentGroup")
    (deployment_config,) = _of_type(resources, "AWS::CodeDeploy::DeploymentConfig").values()
    alarm_ids = {
        alarm["Properties"]["AlarmName"]: key
        for key, alarm in _of_type(resources, "AWS::CloudWatch::Alarm").items()
    }
    rollback = {
        f"jobsched-{region}-critical-{name}"
        for name in CRITICAL
        if name not in ("DeadLetterQueueNotEmpty", "FiresRejected")
    }

    assert {alias["Properties"]["FunctionName"]["Ref"] for alias in aliases.values()} == set(functions)
    assert {alias["Properties"]["Name"] for alias in aliases.values()} == {"live"}
    for alias in aliases.values():
        assert alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["DeploymentGroupName"]["Ref"] in groups
    assert deployment_config["Properties"]["TrafficRoutingConfig"] == {
        "Type": "TimeBasedCanary",
        "TimeBasedCanary": {"CanaryPercentage": 10, "CanaryInterval": 10},
    }
    assert len(groups) == len(functions)
    for group in groups.values():
        properties = group["Properties"]
        assert properties["AutoRollbackConfiguration"] == {
            "Enabled": True,
            "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST", "DEPLOYMENT_STOP_ON_ALARM"],
        }
        assert properties["AlarmConfiguration"]["Enabled"] is True
        assert {alarm["Name"]["Ref"] for alarm in properties["AlarmConfiguration"]["Alarms"]} == {
            alarm_ids[name] for name in rollback
        }


def test_topics_have_no_subscriptions_by_default(resources: dict[str, dict[str, Any]]) -> None:
    assert _of_type(resources, "AWS::SNS::Subscription") == {}
    assert sorted(t["Properties"]["TopicName"] for t in _of_type(resources, "AWS::SNS::Topic").values()) == [
        "jobsched-alarms-critical",
        "jobsched-alarms-warning",
    ]


def test_primary_template_holds_the_monthly_budget_with_an_alert_at_80_percent(
    data_stack_template: Template,
) -> None:
    (budget,) = data_stack_template.find_resources("AWS::Budgets::Budget").values()
    properties = budget["Properties"]

    assert properties["Budget"]["BudgetLimit"] == {"Amount": 5000, "Unit": "USD"}
    assert (properties["Budget"]["BudgetType"], properties["Budget"]["TimeUnit"]) == ("COST", "MONTHLY")
    actual = [
        n
        for n in properties["NotificationsWithSubscribers"]
        if n["Notification"]["NotificationType"] == "ACTUAL"
    ]
    assert [n["Notification"]["Threshold"] for n in actual] == [80]
    (subscriber,) = actual[0]["Subscribers"]
    assert subscriber["SubscriptionType"] == "SNS"


def test_regional_templates_hold_no_budget(regional_templates: dict[str, Template]) -> None:
    for template in regional_templates.values():
        template.resource_count_is("AWS::Budgets::Budget", 0)


def test_notification_targets_and_canary_settings_come_from_context() -> None:
    parsed = InfraConfig.from_context(
        {
            "operations": {
                "notifications": {
                    "critical": {"https_endpoints": ["https://events.pagerduty.com/integration/x/enqueue"]},
                    "warning": {"emails": ["ops@example.com"]},
                },
                "budget": {"monthly_limit_usd": 7000, "alert_threshold_percent": 90},
                "deployment": {"canary_percent": 20, "canary_interval_minutes": 30},
            }
        }
    )

    assert parsed.operations.notifications.warning.emails == ("ops@example.com",)
    assert parsed.operations.budget.monthly_limit_usd == 7000
    assert parsed.operations.deployment.canary_interval_minutes == 30


@pytest.mark.parametrize(
    "operations",
    [
        {"notifications": {"critical": {"https_endpoints": ["http://plain.example.com"]}}},
        {"notifications": {"warning": {"emails": ["not-an-address"]}}},
        {"deployment": {"canary_percent": 100}},
        {"budget": {"monthly_limit_usd": 0}},
    ],
)
def test_invalid_operations_context_is_rejected(operations: dict[str, Any]) -> None:
    with pytest.raises(InfraConfigError, match="operations"):
        InfraConfig.from_context({"operations": operations})


def test_a_rejected_fire_pages_on_the_metric_the_executor_emits(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    from jobsched import telemetry

    alarm = _alarms_by_name(resources)[f"jobsched-{region}-critical-FiresRejected"]

    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        config.METRICS_NAMESPACE,
        telemetry.FIRES_REJECTED_TOTAL,
        "Sum",
    )
    assert alarm["Dimensions"] == [{"Name": "service", "Value": config.SERVICE}]
    assert (alarm["Threshold"], alarm["EvaluationPeriods"]) == (0, 1)
