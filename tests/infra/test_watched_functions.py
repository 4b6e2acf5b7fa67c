"""Every function of the service is watched: on a dashboard, with error and throttle alarms, and its canary
deployment rolls back on its own alarms as well as the shared ones; plus the dead man's switch and its
target."""

from __future__ import annotations

import json
from typing import Any

from jobsched import config
from jobsched.execution.heartbeat import (
    HEARTBEAT_PROBE_PATH,
    HEARTBEAT_PROBE_URL_ENV,
    HEARTBEAT_SCHEDULE_NAME,
    HEARTBEAT_TENANT,
)

# CDK's own helper functions (singleton providers CDK adds for log retention, custom resources, bucket
# notifications) are not the service's: they are recognised by the logical-id prefixes CDK gives them.
CDK_HELPER_PREFIXES = (
    "LogRetention",
    "AWS679f53fac002430cb0da5b7982bd2287",
    "CustomResourceProvider",
    "BucketNotificationsHandler",
    "CustomS3AutoDeleteObjects",
    "CustomCDKBucketDeployment",
)
SHARED_ROLLBACK = {"ServiceDown", "ApiErrorRate", "ApiLatencyP95"}
CODEDEPLOY_MAX_ALARMS = 10


def _of_type(resources: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in resources.items() if value["Type"] == kind}


def service_functions(resources: dict[str, dict[str, Any]]) -> list[str]:
    return [
        logical_id
        for logical_id in _of_type(resources, "AWS::Lambda::Function")
        if not logical_id.startswith(CDK_HELPER_PREFIXES)
    ]


def _refs(value: Any) -> set[str]:
    """Every logical id a template value refers to (Ref and Fn::GetAtt)."""
    text = json.dumps(value)
    found: set[str] = set()
    for marker in ('"Ref": "', '"Fn::GetAtt": ["'):
        start = 0
        while (index := text.find(marker, start)) != -1:
            end = text.index('"', index + len(marker))
            found.add(text[index + len(marker) : end])
            start = end
    return found


def _alarms_of_function(resources: dict[str, dict[str, Any]], logical_id: str) -> dict[str, dict[str, Any]]:
    return {
        alarm_id: alarm["Properties"]
        for alarm_id, alarm in _of_type(resources, "AWS::CloudWatch::Alarm").items()
        if alarm["Properties"].get("Namespace") == "AWS/Lambda"
        and {"Name": "FunctionName", "Value": {"Ref": logical_id}}
        in alarm["Properties"].get("Dimensions", [])
    }


def test_the_service_has_its_thirteen_functions_in_every_region(resources: dict[str, dict[str, Any]]) -> None:
    assert len(service_functions(resources)) == 13


def test_every_function_is_on_a_dashboard(resources: dict[str, dict[str, Any]]) -> None:
    on_dashboards = set().union(
        *(
            _refs(d["Properties"]["DashboardBody"])
            for d in _of_type(resources, "AWS::CloudWatch::Dashboard").values()
        )
    )
    missing = [function for function in service_functions(resources) if function not in on_dashboards]
    assert missing == []


def test_every_function_has_an_error_and_a_throttle_alarm(resources: dict[str, dict[str, Any]]) -> None:
    for function in service_functions(resources):
        watched = {alarm["MetricName"] for alarm in _alarms_of_function(resources, function).values()}
        assert watched == {"Errors", "Throttles"}, function


def test_each_deployment_group_rolls_back_on_its_functions_alarms_and_the_shared_ones(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    groups = _of_type(resources, "AWS::CodeDeploy::DeploymentGroup")
    names_by_id = {
        alarm_id: alarm["Properties"]["AlarmName"]
        for alarm_id, alarm in _of_type(resources, "AWS::CloudWatch::Alarm").items()
    }
    aliases = _of_type(resources, "AWS::Lambda::Alias")
    for function in service_functions(resources):
        [alias_id] = [
            a for a, alias in aliases.items() if alias["Properties"]["FunctionName"] == {"Ref": function}
        ]
        group_id = aliases[alias_id]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["DeploymentGroupName"][
            "Ref"
        ]
        group = groups[group_id]["Properties"]
        rollback = {ref for alarm in group["AlarmConfiguration"]["Alarms"] for ref in _refs(alarm)}
        own = set(_alarms_of_function(resources, function))
        shared = {
            alarm_id
            for alarm_id, name in names_by_id.items()
            if name.removeprefix(f"jobsched-{region}-critical-") in SHARED_ROLLBACK
        }
        assert own <= rollback and shared <= rollback, function
        # Another function's alarms never roll this one back.
        others = {
            a
            for f in service_functions(resources)
            if f != function
            for a in _alarms_of_function(resources, f)
        }
        assert not (others & rollback), function
        assert len(group["AlarmConfiguration"]["Alarms"]) <= CODEDEPLOY_MAX_ALARMS, function
        assert group["AutoRollbackConfiguration"]["Events"] == [
            "DEPLOYMENT_FAILURE",
            "DEPLOYMENT_STOP_ON_REQUEST",
            "DEPLOYMENT_STOP_ON_ALARM",
        ]


def test_the_canary_follows_the_spec_ten_percent_watched_for_thirty_minutes(
    resources: dict[str, dict[str, Any]],
) -> None:
    [config_resource] = _of_type(resources, "AWS::CodeDeploy::DeploymentConfig").values()
    canary = config_resource["Properties"]["TrafficRoutingConfig"]
    assert canary["Type"] == "TimeBasedCanary"
    assert canary["TimeBasedCanary"] == {"CanaryPercentage": 10, "CanaryInterval": 30}


def test_the_heartbeat_schedule_fires_every_minute_onto_the_execution_queue(
    resources: dict[str, dict[str, Any]],
) -> None:
    [schedule] = _of_type(resources, "AWS::Scheduler::Schedule").values()
    properties = schedule["Properties"]
    assert (properties["Name"], properties["GroupName"], properties["ScheduleExpression"]) == (
        HEARTBEAT_SCHEDULE_NAME,
        config.SCHEDULE_GROUP,
        "rate(1 minute)",
    )
    target = properties["Target"]
    queues = _of_type(resources, "AWS::SQS::Queue")
    [queue_id] = [
        q for q, queue in queues.items() if queue["Properties"].get("QueueName") == config.EXECUTION_QUEUE
    ]
    [dlq_id] = [
        q for q, queue in queues.items() if queue["Properties"].get("QueueName") == config.SCHEDULER_DLQ
    ]
    assert target["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    parts = target["Input"]["Fn::Join"][1]
    assert f'"tenant": "{HEARTBEAT_TENANT}"' in parts[0] and '"fire_token": "' in parts[0]
    token = parts[1]
    assert token == {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}
    executors = [
        f["Properties"]
        for f in _of_type(resources, "AWS::Lambda::Function").values()
        if "HEARTBEAT_FIRE_TOKEN" in f["Properties"]["Environment"]["Variables"]
    ]
    assert [e["Environment"]["Variables"]["HEARTBEAT_FIRE_TOKEN"] for e in executors] == [token]


def test_the_heartbeat_alarm_pages_after_three_silent_minutes(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    [alarm] = [
        a["Properties"]
        for a in _of_type(resources, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"] == f"jobsched-{region}-critical-HeartbeatMissing"
    ]
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Period"]) == ("heartbeat_ok", "Sum", 60)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"], alarm["TreatMissingData"]) == (
        3,
        3,
        "breaching",
    )


def test_the_heartbeats_target_is_the_regions_own_api_health_route(
    resources: dict[str, dict[str, Any]],
) -> None:
    [url] = [
        f["Properties"]["Environment"]["Variables"][HEARTBEAT_PROBE_URL_ENV]
        for f in _of_type(resources, "AWS::Lambda::Function").values()
        if "HEARTBEAT_FIRE_TOKEN" in f["Properties"]["Environment"]["Variables"]
    ]
    [api_id] = _of_type(resources, "AWS::ApiGateway::RestApi")
    [stage_id] = _of_type(resources, "AWS::ApiGateway::Stage")
    separator, parts = url["Fn::Join"]
    assert (separator, parts[0]) == ("", "https://")
    assert {api_id, stage_id} <= _refs(url)
    assert str(parts[-1]).endswith(HEARTBEAT_PROBE_PATH)
