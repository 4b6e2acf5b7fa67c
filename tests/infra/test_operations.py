"""Operations in the templates: 4 dashboards, the alarms on their topics, canary deployments, budget."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.config import InfraConfig, InfraConfigError
from infra.constructs.dashboards import DASHBOARD, SECTIONS, dashboard_name
from infra.stacks.data_stack import data_stack_name
from infra.stacks.regional_stack import regional_stack_name
from jobsched import config
from tests.infra.conftest import SynthesizedApp, load_cdk_json, synthesize

CRITICAL = {
    "ServiceDown": 0.5,
    "ApiErrorRate": 0.05,
    "ApiLatencyP95": 2000,
    f"DynamoDbErrors-{config.JOBS_TABLE}": 0,
    f"DynamoDbThrottles-{config.JOBS_TABLE}": 0,
    f"DynamoDbErrors-{config.EXECUTIONS_TABLE}": 0,
    f"DynamoDbThrottles-{config.EXECUTIONS_TABLE}": 0,
    "DeadLetterQueueNotEmpty": 0,
    "SchedulerDeadLetterQueueNotEmpty": 0,
    "ScheduleSyncDeadLetterQueueNotEmpty": 0,
    "BulkDeadLetterQueueNotEmpty": 0,
    "FiresRejected": 0,
    "HeartbeatMissing": 1,
    "StuckExecutions": 0,
}
WARNING = {
    "ApiErrorRate": 0.02,
    "ApiLatencyP95": 1000,
    "JobExecutionFailures": 0.1,
    "WafBlockedRequests": 3000,
    # constructs/execution_archive.py: a daily archive run failed (its DLQ); the archiver's errors are its
    # watched-function alarm (FUNCTION_ALARM).
    "ArchiverFailed": 0,
    "ScheduleSyncFailures": 0,
    "SchedulesInError": 0,
}
# Every function's own alarms (tests/infra/test_watched_functions.py checks them).
FUNCTION_ALARM = ("Function-Errors", "Function-Throttles")


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


def test_the_spec_four_dashboards_are_the_sections_of_one(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    """One dashboard a region ($3 a month, not $12), whose large headers are the spec's four dashboards,
    error rate and latency first."""
    (dashboard,) = _of_type(resources, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == dashboard_name(region, DASHBOARD)
    assert dashboard_name(region, DASHBOARD) == f"jobsched-{region}-operations"
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    headers = [body.find(f"# {title}") for title in SECTIONS.values()]
    assert list(SECTIONS.values()) == [
        "Error rate and latency",
        "Business metrics",
        "Infrastructure health",
        "Application performance",
    ]
    assert -1 not in headers and headers == sorted(headers), headers


def _dashboard_widgets(resources: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The dashboard's widgets, each CloudFormation token in the body written as `<<{"Ref": ...}>>`."""
    (dashboard,) = _of_type(resources, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    text = "".join(
        part if isinstance(part, str) else f"<<{json.dumps(part)}>>".replace('"', "'") for part in parts
    )
    widgets: list[dict[str, Any]] = json.loads(text)["widgets"]
    return widgets


def test_the_per_route_view_is_a_logs_insights_table_of_the_stages_access_log(
    resources: dict[str, dict[str, Any]],
) -> None:
    """Per route (method and resource template): requests, 4xx, 5xx and p95/p99 latency, the busiest first,
    read from the Infrequent Access log group the stage writes, by fields the stage's format has."""
    (stage,) = _of_type(resources, "AWS::ApiGateway::Stage").values()
    access_log = stage["Properties"]["AccessLogSetting"]
    (log_group_id,) = [
        key
        for key in _of_type(resources, "AWS::Logs::LogGroup")
        if {"Ref": key} in access_log["DestinationArn"]["Fn::Join"][1]
    ]
    assert resources[log_group_id]["Properties"]["LogGroupClass"] == "INFREQUENT_ACCESS"
    (widget,) = [widget for widget in _dashboard_widgets(resources) if widget["type"] == "log"]
    query = widget["properties"]["query"]
    source, *commands = [line.strip() for line in query.split("|")]

    assert source == f"SOURCE '<<{{'Ref': '{log_group_id}'}}>>'"
    assert widget["properties"]["view"] == "table"
    fields, stats, sort = commands
    assert stats.endswith("by method, resourcePath") and sort == "sort requests desc"
    for part in (
        "count(*) as requests",
        "sum(status >= 400 and status < 500) as client_errors_4xx",
        "sum(status >= 500) as server_errors_5xx",
        "pct(latency, 95) as p95_ms",
        "pct(latency, 99) as p99_ms",
    ):
        assert part in stats, part
    format_fields = json.loads(access_log["Format"])
    assert fields == "fields method, resourcePath, status, latency"
    assert all(field in format_fields for field in ("method", "resourcePath", "status", "latency"))
    assert (format_fields["resourcePath"], format_fields["latency"]) == (
        "$context.resourcePath",
        "$context.responseLatency",
    )


def test_the_functions_request_metrics_are_graphed_by_status_class_only(
    resources: dict[str, dict[str, Any]],
) -> None:
    """The metrics the functions write, with their dimensions: no route dimension, no SEARCH left."""
    metrics = [
        metric
        for widget in _dashboard_widgets(resources)
        for metric in widget.get("properties", {}).get("metrics", [])
        if metric[0] == config.METRICS_NAMESPACE
        and metric[1] in ("api_requests_total", "api_request_duration")
    ]
    graphed = {(metric[1], metric[5], metric[6]["stat"]) for metric in metrics}
    assert {tuple(metric[2:5]) for metric in metrics} == {("service", config.SERVICE, "status_class")}
    assert graphed == {
        (name, cls, stat)
        for cls in ("2xx", "4xx", "5xx")
        for name, stat in (
            ("api_request_duration", "p95"),
            ("api_request_duration", "p99"),
            ("api_requests_total", "Sum"),
        )
    }
    expressions = [
        part["expression"]
        for widget in _dashboard_widgets(resources)
        for metric in widget.get("properties", {}).get("metrics", [])
        for part in metric
        if isinstance(part, dict) and "expression" in part
    ]
    assert [expression for expression in expressions if config.METRICS_NAMESPACE in expression] == []
    assert '"route"' not in json.dumps(_dashboard_widgets(resources))


@pytest.mark.parametrize(("severity", "expected"), [("critical", CRITICAL), ("warning", WARNING)])
def test_alarm_thresholds_and_actions_on_their_topic(
    resources: dict[str, dict[str, Any]], region: str, severity: str, expected: dict[str, float]
) -> None:
    alarms = _alarms_by_name(resources)
    topic = {"Ref": _topic_id(resources, f"jobsched-alarms-{severity}")}
    prefix = f"jobsched-{region}-{severity}-"

    named = {name.removeprefix(prefix) for name in alarms if name.startswith(prefix)}
    assert {name for name in named if not name.endswith(FUNCTION_ALARM)} == set(expected)
    for name, threshold in expected.items():
        alarm = alarms[prefix + name]
        assert alarm["Threshold"] == threshold, name
        comparison = "LessThanThreshold" if name == "HeartbeatMissing" else "GreaterThanThreshold"
        assert alarm["ComparisonOperator"] == comparison, name
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

    expression = "FILL(failed, 0) / (FILL(succeeded, 0) + FILL(failed, 0))"
    assert queries["expr_1"]["Expression"] == expression or any(
        query.get("Expression") == expression for query in alarm["Metrics"]
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
    # The shared rollback alarms judge the code being deployed; queues, gauges and the heartbeat do not
    # (the heartbeat rolls back the executor only: tests/infra/test_watched_functions.py).
    rollback = {
        f"jobsched-{region}-critical-{name}"
        for name in CRITICAL
        if name.startswith(("ServiceDown", "ApiErrorRate", "ApiLatencyP95", "DynamoDb"))
    }

    assert {alias["Properties"]["FunctionName"]["Ref"] for alias in aliases.values()} == set(functions)
    assert {alias["Properties"]["Name"] for alias in aliases.values()} == {"live"}
    for alias in aliases.values():
        assert alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["DeploymentGroupName"]["Ref"] in groups
    assert deployment_config["Properties"]["TrafficRoutingConfig"] == {
        "Type": "TimeBasedCanary",
        "TimeBasedCanary": {"CanaryPercentage": 10, "CanaryInterval": 30},
    }
    assert len(groups) == len(functions)
    for group in groups.values():
        properties = group["Properties"]
        assert properties["AutoRollbackConfiguration"] == {
            "Enabled": True,
            "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST", "DEPLOYMENT_STOP_ON_ALARM"],
        }
        assert properties["AlarmConfiguration"]["Enabled"] is True
        assert {alarm["Name"]["Ref"] for alarm in properties["AlarmConfiguration"]["Alarms"]} >= {
            alarm_ids[name] for name in rollback
        }


def test_topics_have_no_subscriptions_by_default(resources: dict[str, dict[str, Any]]) -> None:
    assert _of_type(resources, "AWS::SNS::Subscription") == {}
    assert sorted(t["Properties"]["TopicName"] for t in _of_type(resources, "AWS::SNS::Topic").values()) == [
        "jobsched-alarms-critical",
        "jobsched-alarms-warning",
        "jobsched-notifications",  # failure notifications' e-mail topic (config.NOTIFICATION_TOPIC)
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
                "deployment": {"canary_percent": 20, "canary_interval_minutes": 45},
            }
        }
    )

    assert parsed.operations.notifications.warning.emails == ("ops@example.com",)
    assert parsed.operations.budget.monthly_limit_usd == 7000
    assert parsed.operations.deployment.canary_interval_minutes == 45


@pytest.mark.parametrize(
    "operations",
    [
        {"notifications": {"critical": {"https_endpoints": ["http://plain.example.com"]}}},
        {"notifications": {"warning": {"emails": ["not-an-address"]}}},
        {"notifications": {"critical": {"chat_webhooks": ["http://chat.example.com/hook"]}}},
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


SUBSCRIBERS = {
    "critical": {
        "emails": ["oncall@example.com"],
        "https_endpoints": ["https://events.pagerduty.com/integration/abc/enqueue"],
        "chat_webhooks": ["https://chat-relay.example.com/sns/ops-critical"],
    },
    "warning": {"chat_webhooks": ["https://chat-relay.example.com/sns/ops"]},
    "budget": {
        "emails": ["finance@example.com"],
        "chat_webhooks": ["https://chat-relay.example.com/sns/cost"],
    },
}


@pytest.fixture(scope="module")
def synthesized_with_subscribers(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    context = load_cdk_json()["context"]
    operations = {**context["operations"], "notifications": SUBSCRIBERS}
    return synthesize(tmp_path_factory, {"operations": operations})


def _subscriptions(template: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    resources = template["Resources"]
    topics = {key: t["Properties"]["TopicName"] for key, t in _of_type(resources, "AWS::SNS::Topic").items()}
    found: dict[str, set[tuple[str, str]]] = {}
    for subscription in _of_type(resources, "AWS::SNS::Subscription").values():
        properties = subscription["Properties"]
        topic = topics[properties["TopicArn"]["Ref"]]
        found.setdefault(topic, set()).add((properties["Protocol"], properties["Endpoint"]))
    return found


def test_subscribers_per_severity_come_from_context(synthesized_with_subscribers: SynthesizedApp) -> None:
    regional = synthesized_with_subscribers.template_json(regional_stack_name("eu-west-1"))
    data = synthesized_with_subscribers.template_json(data_stack_name(config.PRIMARY_REGION))

    assert _subscriptions(regional) == {
        "jobsched-alarms-critical": {
            ("email", "oncall@example.com"),
            ("https", "https://events.pagerduty.com/integration/abc/enqueue"),
            ("https", "https://chat-relay.example.com/sns/ops-critical"),
        },
        "jobsched-alarms-warning": {("https", "https://chat-relay.example.com/sns/ops")},
    }
    assert _subscriptions(data) == {
        "jobsched-budget": {
            ("email", "finance@example.com"),
            ("https", "https://chat-relay.example.com/sns/cost"),
        }
    }
    [budget] = _of_type(data["Resources"], "AWS::Budgets::Budget").values()
    for notification in budget["Properties"]["NotificationsWithSubscribers"]:
        assert {s["SubscriptionType"] for s in notification["Subscribers"]} == {"SNS", "EMAIL"}


def _warnings(synth: SynthesizedApp) -> list[str]:
    """The warnings `cdk synth` prints: each stack's metadata entries of type aws:cdk:warning."""
    return [
        str(entry["data"])
        for metadata in synth.outdir.glob("*.metadata.json")
        for entries in json.loads(metadata.read_text()).values()
        for entry in entries
        if entry["type"] == "aws:cdk:warning"
    ]


def test_synth_warns_when_the_critical_topic_or_the_budget_would_tell_nobody(
    synthesized: SynthesizedApp, synthesized_with_subscribers: SynthesizedApp
) -> None:
    warnings = _warnings(synthesized)
    critical = [w for w in warnings if "jobsched-alarms-critical has no subscriber" in w]
    assert len(critical) == len(config.REGIONS)
    assert len([w for w in warnings if "jobsched-budget has no subscriber" in w]) == 1
    assert not [w for w in _warnings(synthesized_with_subscribers) if "has no subscriber" in w]


def _budget_subscriptions(notifications: dict[str, Any]) -> tuple[set[tuple[str, str]], set[str]]:
    """The budget topic's subscriptions and the budget's own subscriber types, from the data stack alone."""
    from aws_cdk import App, Environment

    from infra.stacks.data_stack import DataStack

    context = load_cdk_json()["context"]
    infra_config = InfraConfig.from_context(
        {**context, "operations": {**context["operations"], "notifications": notifications}}
    )
    app = App(context=context)
    stack = DataStack(
        app,
        data_stack_name(config.PRIMARY_REGION),
        infra_config=infra_config,
        env=Environment(region=config.PRIMARY_REGION),
    )
    template = Template.from_stack(stack).to_json()
    subscriptions = _subscriptions(template).get("jobsched-budget", set())
    [budget] = _of_type(template["Resources"], "AWS::Budgets::Budget").values()
    kinds = {
        s["SubscriptionType"]
        for notification in budget["Properties"]["NotificationsWithSubscribers"]
        for s in notification["Subscribers"]
    }
    return subscriptions, kinds


def test_the_budget_notifies_the_alarms_warning_list_unless_it_has_its_own() -> None:
    warning = {
        "emails": ["platform@example.com"],
        "chat_webhooks": ["https://chat-relay.example.com/sns/ops"],
    }

    same, kinds = _budget_subscriptions({"critical": SUBSCRIBERS["critical"], "warning": warning})
    own, _ = _budget_subscriptions({"warning": warning, "budget": SUBSCRIBERS["budget"]})

    assert same == {("email", "platform@example.com"), ("https", "https://chat-relay.example.com/sns/ops")}
    assert kinds == {"SNS", "EMAIL"}  # the warning list's addresses also get Budgets' direct e-mail
    assert own == {("email", "finance@example.com"), ("https", "https://chat-relay.example.com/sns/cost")}
